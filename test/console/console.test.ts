/**
 * The console in a real browser (headless Debian Chromium via playwright-core) against a running
 * cloud on SQLite, with simulated gateways posting real /v1/sync batches. Screenshots are kept in
 * test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliCompressSync } from 'node:zlib';
import { bearer, call } from '../cloud/http/harness.js';
import {
  ARTIFACTS,
  type ConsoleWorld,
  PASSWORD,
  startConsoleWorld,
  startFreezableProxy,
  USERS,
} from './harness.js';

// Callbacks passed to page.evaluate/waitForFunction run in the browser; the Node program has no DOM
// lib (adding it would change other files' types), so the few browser globals they use are declared
// here, module-local.
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const window: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare function getComputedStyle(element: unknown): any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
type HTMLImageElement = any;

let w: ConsoleWorld;
before(async () => {
  w = await startConsoleWorld();
});
after(async () => {
  await w?.stop();
});

const shot = (name: string) => `${ARTIFACTS}${name}.png`;

/** The cookie of a signed-in page, for calling the API the way the browser does. */
async function sessionCookie(context: import('playwright-core').BrowserContext): Promise<string> {
  const c = (await context.cookies()).find((x) => x.name === 'ds_session');
  assert.ok(c, 'session cookie set');
  return `ds_session=${c.value}`;
}

describe('console', () => {
  test('sign-in: wrong password refused, right one signs in with a safe cookie, sign-out ends it', async () => {
    const { context, page } = await w.newPage();
    await page.goto(`${w.url}/console`);
    await page.fill('#username', USERS.zjDuty.username);
    await page.fill('#password', 'not-the-password');
    await page.click('#signin');
    await page.waitForFunction(() =>
      document.querySelector('#signin-error')?.textContent?.includes('CLOUD_ERR_AUTH'),
    );
    assert.match((await page.textContent('#signin-error')) ?? '', /wrong user name or password/);
    await page.screenshot({ path: shot('signin-refused') });

    await page.fill('#password', PASSWORD);
    await page.click('#signin');
    await page.waitForSelector('#nav-board');
    const cookie = (await context.cookies()).find((c) => c.name === 'ds_session');
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.match(cookie.value, /^dss_/);
    assert.match((await page.textContent('#who')) ?? '', /zj-duty/);

    const header = await sessionCookie(context);
    const me = await call(w.url, 'GET', '/console/api/me', { headers: { cookie: header } });
    assert.equal(me.status, 200);
    assert.equal(me.body.user.scope, 'pudong/zhangjiang');

    await page.click('#signout');
    await page.waitForSelector('#signin');
    const again = await call(w.url, 'GET', '/console/api/me', { headers: { cookie: header } });
    assert.equal(again.status, 401, 'the ended session is refused');
    await context.close();
  });

  test('lockout after repeated failures is shown', async () => {
    const { context, page } = await w.newPage();
    await page.goto(`${w.url}/console`);
    for (let i = 0; i < 5; i++) {
      await page.fill('#username', USERS.lockme.username);
      await page.fill('#password', `wrong-${i}`);
      await page.click('#signin');
      await page.waitForFunction((n) => {
        const t = document.querySelector('#signin-error')?.textContent ?? '';
        return (
          t.includes('CLOUD_ERR') &&
          document.querySelector('#signin')?.hasAttribute('disabled') === false &&
          n >= 0
        );
      }, i);
    }
    await page.fill('#password', PASSWORD);
    await page.click('#signin');
    await page.waitForFunction(() =>
      document.querySelector('#signin-error')?.textContent?.includes('CLOUD_ERR_ACCOUNT_LOCKED'),
    );
    assert.match((await page.textContent('#signin-error')) ?? '', /locked until/);
    await page.screenshot({ path: shot('signin-locked') });
    await context.close();
  });

  test('state-changing requests with the cookie from another origin are refused (CSRF)', async () => {
    const { context, page } = await w.newPage();
    await w.signIn(page, USERS.zjDuty.username);
    const cookie = await sessionCookie(context);
    const forged = await call(w.url, 'POST', '/console/api/session/end', {
      json: {},
      headers: { cookie, origin: 'https://evil.example' },
    });
    assert.equal(forged.status, 403);
    assert.equal(forged.body.error.code, 'CLOUD_ERR_CONSOLE_ORIGIN');
    const noOrigin = await call(w.url, 'POST', '/console/api/session/end', { json: {}, headers: { cookie } });
    assert.equal(noOrigin.status, 403, 'no Origin and no Sec-Fetch-Site: refused');
    const still = await call(w.url, 'GET', '/console/api/me', { headers: { cookie } });
    assert.equal(still.status, 200, 'the session survived the forged requests');
    await context.close();
  });

  test('a new fire alarm appears within 2 s of ingest, with banner and title count; ack → feedback → close', async () => {
    const { page } = await w.newPage();
    await w.signIn(page, USERS.zjDuty.username);
    await page.waitForSelector('#conn:not(.down)');
    const id = `zj-fire-${Date.now()}`;
    await w.zj.sync({ alarms: [{ id, device: 'smoke-3-2', type: 'smoke', latched: true }] });
    // The bound: visible within 2 s of the sync response.
    await page.waitForSelector(`tr.case[data-id="${id}"]`, { timeout: 2000 });
    await page.waitForSelector('#banner', { timeout: 2000 });
    assert.match(await page.title(), /^\(\d+\) /);
    assert.match((await page.textContent('#banner')) ?? '', /烟感火警/);
    await page.screenshot({ path: shot('board-new-alarm') });

    // Too early to close: the button is disabled and the panel says what is missing (nothing is
    // sent that the server would refuse).
    await page.click(`tr.case[data-id="${id}"]`);
    assert.equal(await page.isDisabled('#act-close'), true, 'close offered before it is possible');
    const needs = (await page.textContent('#close-needs')) ?? '';
    assert.ok(needs.includes('确认') && needs.includes('填写反馈') && needs.includes('报警恢复'), needs);
    await page.screenshot({ path: shot('board-close-needs') });

    // Acknowledge with the keyboard shortcut.
    await page.focus(`tr.case[data-id="${id}"]`);
    await page.keyboard.press('a');
    await page.waitForSelector('#action-status.ok', { timeout: 5000 }).catch(async (e) => {
      await page.screenshot({ path: shot('debug-ack') });
      console.log(await page.textContent('#detail'));
      throw e;
    });
    await page.waitForFunction(() => !document.querySelector('#banner'));
    assert.match((await page.textContent('#detail-state')) ?? '', /已确认/);

    // Feedback: cause and note.
    await page.click('#act-feedback');
    await page.selectOption('#fb-cause', 'false_alarm');
    await page.fill('#fb-note', '现场核查：厨房油烟误报');
    await page.click('#fb-submit');
    await page.waitForFunction(() =>
      document.querySelector('#detail-feedback')?.textContent?.includes('油烟'),
    );

    // The gateway resets the latched alarm, then 办结 succeeds and the row leaves the board.
    await w.zj.sync({
      alarms: [{ id, device: 'smoke-3-2', type: 'smoke', state: 'cleared', latched: true }],
    });
    await w.zj.sync({ alarms: [{ id, device: 'smoke-3-2', type: 'smoke', state: 'reset', latched: true }] });
    await page.waitForFunction(
      (cid) => {
        const c = (
          window as unknown as { __doorstep: { state: { cases: Map<string, { condition: string }> } } }
        ).__doorstep.state.cases.get(cid);
        return c && c.condition === 'cleared';
      },
      id,
      { timeout: 5000 },
    );
    await page.waitForFunction(() => document.querySelector('#act-close')?.disabled === false);
    await page.click('#act-close');
    await page.waitForSelector(`tr.case[data-id="${id}"]`, { state: 'detached', timeout: 5000 });
    // The panel still shows the case, now 办结, and offers no action on it.
    await page.waitForFunction(() => document.querySelector('#detail-stage')?.textContent?.includes('办结'));
    const enabled = await page.$$eval('#detail-actions button', (bs) =>
      bs.filter((b) => !b.disabled).map((b) => b.id),
    );
    assert.deepEqual(enabled, [], 'a closed case offers no actions');
    const closed = await call(w.url, 'GET', `/v1/cases/${id}`, {
      headers: { cookie: await sessionCookie(page.context()) },
    });
    assert.equal(closed.body.case.stage, 'closed');
    assert.equal(closed.body.case.feedback.cause, 'false_alarm');
    assert.ok(
      closed.body.audit.some((a: { action: string; actor: { name: string } }) => a.actor.name === 'zj-duty'),
    );
    await page.context().close();
  });

  test('a feedback note typed while alarms arrive keeps its text and its 提交 button (updates patch, never rebuild)', async () => {
    const { context, page } = await w.newPage();
    await w.signIn(page, USERS.zjDuty.username);
    await page.waitForSelector('#conn:not(.down)');
    const id = `zj-typing-${Date.now()}`;
    await w.zj.sync({ alarms: [{ id, device: 'smoke-typing', type: 'smoke', latched: true }] });
    await page.click(`tr.case[data-id="${id}"]`);
    await page.click('#act-feedback');
    await page.selectOption('#fb-cause', 'false_alarm');
    await page.evaluate(() => {
      window.__fbSubmit = document.querySelector('#fb-submit');
      window.__fbNote = document.querySelector('#fb-note');
    });
    await page.type('#fb-note', '现场核查：');
    // This very case changes (cleared → latched), waited for on the page before typing on.
    await w.zj.sync({
      alarms: [{ id, device: 'smoke-typing', type: 'smoke', state: 'cleared', latched: true }],
    });
    await page.waitForFunction((cid) => window.__doorstep.state.cases.get(cid)?.condition === 'latched', id, {
      timeout: 10_000,
    });
    await page.type('#fb-note', '厨房油烟');
    // New alarms elsewhere on the board.
    for (let i = 0; i < 3; i++) {
      const other = `zj-typing-other-${i}-${Date.now()}`;
      await w.zj.sync({ alarms: [{ id: other, device: `smoke-t${i}`, type: 'smoke', severity: 'major' }] });
      await page.waitForSelector(`tr.case[data-id="${other}"]`, { timeout: 10_000 });
      await page.type('#fb-note', String(i));
    }
    // Someone else acknowledges it (an API client): the panel's state and buttons follow.
    const ack = await call(w.url, 'POST', `/v1/cases/${id}/ack`, { auth: bearer(w.adminToken), json: {} });
    assert.equal(ack.status, 200);
    await page.waitForFunction(
      () => document.querySelector('#detail-state')?.textContent?.includes('已确认'),
      {
        timeout: 10_000,
      },
    );
    assert.equal(await page.isDisabled('#act-ack'), true);
    const same = await page.evaluate(
      () =>
        window.__fbSubmit.isConnected &&
        document.querySelector('#fb-submit') === window.__fbSubmit &&
        document.querySelector('#fb-note') === window.__fbNote,
    );
    assert.equal(same, true, 'the form and its submit button are the elements the officer started with');
    assert.equal(await page.inputValue('#fb-note'), '现场核查：厨房油烟012');
    assert.equal(await page.inputValue('#fb-cause'), 'false_alarm');
    await page.click('#fb-submit');
    await page.waitForFunction(() =>
      document.querySelector('#detail-feedback')?.textContent?.includes('厨房油烟012'),
    );
    await context.close();
  });

  test('Enter on the selected alarm moves to its actions and acknowledges nothing', async () => {
    const { context, page } = await w.newPage();
    await w.signIn(page, USERS.zjDuty.username);
    const id = `zj-enter-${Date.now()}`;
    await w.zj.sync({ alarms: [{ id, device: 'smoke-enter', type: 'smoke', severity: 'major' }] });
    await page.waitForSelector(`tr.case[data-id="${id}"]`, { timeout: 10_000 });
    const posts: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST') posts.push(r.url());
    });
    await page.click(`tr.case[data-id="${id}"]`);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'act-ack');
    // Time for an acknowledgement the key press might have sent to reach the server.
    await sleep(1000);
    assert.deepEqual(posts, [], 'Enter sent nothing');
    const c = await call(w.url, 'GET', `/v1/cases/${id}`, { auth: bearer(w.adminToken) });
    assert.equal(c.body.case.acked, false, 'Enter did not acknowledge the alarm');
    // On the focused button, Enter is that button's own click.
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () => document.querySelector('#detail-state')?.textContent?.includes('已确认'),
      {
        timeout: 10_000,
      },
    );
    await context.close();
  });

  test('a refusal by the server is shown verbatim, and the panel catches up with what the server knows', async () => {
    const { context, page } = await w.newPage();
    await w.signIn(page, USERS.zjDuty.username);
    const id = `zj-race-${Date.now()}`;
    await w.zj.sync({ alarms: [{ id, device: 'smoke-race', type: 'smoke', severity: 'major' }] });
    await page.waitForSelector(`tr.case[data-id="${id}"]`, { timeout: 10_000 });
    await page.click(`tr.case[data-id="${id}"]`);
    // The page does not hear of the other acknowledgement before its own click lands.
    await page.evaluate(() => window.__doorstep.live.pause());
    const other = await call(w.url, 'POST', `/v1/cases/${id}/ack`, { auth: bearer(w.adminToken), json: {} });
    assert.equal(other.status, 200);
    await page.click('#act-ack');
    await page.waitForSelector('#action-status.err');
    const shown = (await page.textContent('#action-status')) ?? '';
    assert.ok(shown.includes('CLOUD_ERR_CASE_STATE') && shown.includes('already acknowledged'), shown);
    await page.waitForFunction(
      () => document.querySelector('#detail-state')?.textContent?.includes('已确认'),
      {
        timeout: 10_000,
      },
    );
    assert.equal(await page.isDisabled('#act-ack'), true);
    await page.screenshot({ path: shot('board-refused') });
    await page.evaluate(() => window.__doorstep.live.resume());
    await context.close();
  });

  test('a frozen link turns 实时 into 断线 after missed heartbeats; on reconnect the board resynchronises', async () => {
    const proxy = await startFreezableProxy(w.url);
    try {
      const { context, page } = await w.newPage();
      await w.signIn(page, USERS.zjDuty.username, PASSWORD, proxy.url);
      await page.waitForSelector('#conn:not(.down)', { timeout: 10_000 });
      proxy.freeze();
      // 1 s heartbeats in this world: stale after 3 missed beats + 1 s; the bound is for a busy machine.
      await page.waitForSelector('#conn.down', { timeout: 20_000 });
      assert.match((await page.textContent('#conn')) ?? '', /断线/);
      const id = `zj-frozen-${Date.now()}`;
      await w.zj.sync({ alarms: [{ id, device: 'smoke-frozen', type: 'smoke' }] });
      await page.screenshot({ path: shot('board-stale') });
      proxy.thaw();
      await page.waitForSelector(`tr.case[data-id="${id}"]`, { timeout: 20_000 });
      await page.waitForSelector('#conn[data-state="live"]', { timeout: 10_000 });
      await context.close();
    } finally {
      await proxy.close();
    }
  });

  test('critical alarms open at sign-in and after a reload sound until every one is acknowledged', async () => {
    // This test owns huamu's sound: acknowledge what earlier tests left open there.
    const open = await call(w.url, 'GET', '/v1/cases?scope=pudong/huamu&open=true', {
      auth: bearer(w.adminToken),
    });
    for (const c of open.body.items as { id: string; acked: boolean }[])
      if (!c.acked)
        await call(w.url, 'POST', `/v1/cases/${c.id}/ack`, { auth: bearer(w.adminToken), json: {} });
    const older = `hm-old-${Date.now()}`;
    const newer = `hm-new-${Date.now()}`;
    await w.hm.sync({
      alarms: [
        { id: older, device: 'smoke-old', type: 'smoke', ts: Date.now() - 120_000 },
        { id: newer, device: 'gas-new', type: 'gas_high' },
      ],
    });
    const { context, page } = await w.newPage();
    const beeps = () => page.evaluate(() => window.__doorstep.state.beeps as number);
    const moreBeeps = async (than: number) =>
      page.waitForFunction((n) => window.__doorstep.state.beeps > n, than, { timeout: 15_000 });
    await w.signIn(page, USERS.hmDuty.username);
    await moreBeeps(0);
    assert.match(await page.title(), /^\(2\) ⚠/);
    // The banner names the newest by its type: a gas alarm is no 火警.
    const banner = (await page.textContent('#banner')) ?? '';
    assert.ok(banner.includes('燃气高限') && !banner.includes('火警'), banner);
    await page.reload();
    await page.waitForSelector(`tr.case[data-id="${older}"]`, { timeout: 10_000 });
    await moreBeeps(0);
    // Shift+A acknowledges the banner's alarm, not the selected row.
    await page.click(`tr.case[data-id="${older}"]`);
    await page.keyboard.press('Shift+A');
    await page.waitForFunction((id) => window.__doorstep.state.cases.get(id)?.acked === true, newer, {
      timeout: 10_000,
    });
    assert.equal(await page.evaluate((id) => window.__doorstep.state.cases.get(id).acked, older), false);
    // The older one is still unacknowledged: it keeps sounding and takes the banner.
    await moreBeeps(await beeps());
    assert.match((await page.textContent('#banner')) ?? '', /烟感火警/);
    await page.click('#banner-ack');
    await page.waitForSelector('#banner', { state: 'detached', timeout: 10_000 });
    const last = await beeps();
    await sleep(5000);
    assert.equal(await beeps(), last, 'silent once all are acknowledged');
    assert.doesNotMatch(await page.title(), /⚠/);
    await context.close();
  });

  test('Tab reaches the alarm rows (one tab stop, roving), and the focused row is the selection', async () => {
    const { context, page } = await w.newPage();
    await w.signIn(page, USERS.zjDuty.username);
    await page.waitForSelector('tr.case', { timeout: 10_000 });
    await page.focus('#search');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement?.getAttribute('data-id') ?? null);
    assert.ok(focused, 'Tab from the search box lands on a row');
    assert.equal(await page.evaluate(() => window.__doorstep.state.selected), focused);
    assert.equal(await page.$$eval('tr.case[tabindex="0"]', (x) => x.length), 1, 'one row in the tab order');
    await page.keyboard.press('j');
    const next = await page.evaluate(() => document.activeElement?.getAttribute('data-id') ?? null);
    assert.ok(next && next !== focused);
    assert.equal(await page.$$eval('tr.case[tabindex="0"]', (x) => x.length), 1);
    await context.close();
  });

  test('scope isolation: a town user never sees another town, in the UI or through the API', async () => {
    const hmAlarm = `hm-gas-${Date.now()}`;
    const zjAlarm = `zj-gas-${Date.now()}`;
    await w.hm.sync({
      alarms: [{ id: hmAlarm, device: 'gas-canteen', type: 'gas_high' }],
      readings: [{ device: 'gas-canteen', point: 'gas', unit: '%LEL', value: 12, ts: Date.now() }],
    });
    await w.zj.sync({
      alarms: [{ id: zjAlarm, device: 'pressure-roof', type: 'pressure_low', severity: 'major' }],
      readings: [{ device: 'pressure-roof', point: 'pressure', unit: 'MPa', value: 0.05, ts: Date.now() }],
    });
    const { context, page } = await w.newPage();
    await w.signIn(page, USERS.hmDuty.username);
    await page.waitForSelector(`tr.case[data-id="${hmAlarm}"]`);
    assert.equal(await page.$(`tr.case[data-id="${zjAlarm}"]`), null);
    const ids = await page.$$eval('tr.case', (rows) => rows.map((r) => r.getAttribute('data-id') ?? ''));
    assert.ok(
      ids.every((i) => !i.startsWith('zj-')),
      `huamu board shows only huamu: ${ids.join(',')}`,
    );
    await page.click('#nav-sites');
    await page.waitForSelector('#device-rows tr');
    const text = (await page.textContent('main')) ?? '';
    assert.ok(text.includes('gas-canteen'));
    assert.ok(!text.includes('gw-zj') && !text.includes('pressure-roof'), 'no zhangjiang device in the tree');

    const cookie = await sessionCookie(context);
    const cases = await call(w.url, 'GET', '/v1/cases', { headers: { cookie } });
    assert.equal(cases.status, 200);
    assert.ok(cases.body.items.length > 0);
    assert.ok(cases.body.items.every((c: { site: { town: string } }) => c.site.town === 'huamu'));
    assert.equal(
      (await call(w.url, 'GET', '/v1/cases?scope=pudong/zhangjiang', { headers: { cookie } })).status,
      403,
    );
    assert.equal((await call(w.url, 'GET', `/v1/cases/${zjAlarm}`, { headers: { cookie } })).status, 403);
    const ack = await call(w.url, 'POST', `/v1/cases/${zjAlarm}/ack`, {
      json: {},
      headers: { cookie, origin: w.url },
    });
    assert.equal(ack.status, 403, 'cannot act on another town’s case');
    const overview = await call(w.url, 'GET', '/console/api/overview', { headers: { cookie } });
    assert.ok(overview.body.devices.every((d: { gateway: string }) => d.gateway === 'gw-hm'));
    assert.equal(
      (await call(w.url, 'GET', '/console/api/overview?scope=pudong/zhangjiang', { headers: { cookie } }))
        .status,
      403,
    );
    assert.equal(
      (
        await call(w.url, 'GET', '/console/api/device?gateway=gw-zj&device=pressure-roof', {
          headers: { cookie },
        })
      ).status,
      403,
    );
    assert.equal(
      (await call(w.url, 'GET', '/v1/devices?scope=pudong/zhangjiang', { headers: { cookie } })).status,
      403,
    );
    // The live feed of the huamu user carries only huamu cases.
    const events = await page.evaluate(() =>
      [
        ...(
          window as unknown as { __doorstep: { state: { cases: Map<string, { site: { town: string } }> } } }
        ).__doorstep.state.cases.values(),
      ].map((c) => c.site.town),
    );
    assert.ok(events.length > 0 && events.every((t) => t === 'huamu'));
    await context.close();
  });

  test('language switch to English and back, remembered across reloads', async () => {
    const id = `zj-lang-${Date.now()}`;
    await w.zj.sync({ alarms: [{ id, device: 'pressure-lang', type: 'pressure_low', severity: 'major' }] });
    const { context, page } = await w.newPage();
    await w.signIn(page, USERS.zjDuty.username);
    assert.equal(await page.textContent('#nav-board'), '报警台');
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    await page.click('#lang');
    await page.waitForFunction(() => document.querySelector('#nav-board')?.textContent === 'Alarm board');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    // The row's button reads "Acknowledge" on one line, never "Acknowl/edge".
    await page.waitForSelector(`tr.case[data-id="${id}"] .ackbtn`);
    const lines = await page.$eval(`tr.case[data-id="${id}"] .ackbtn`, (b) => {
      const range = document.createRange();
      range.selectNodeContents(b);
      return { rects: range.getClientRects().length, text: b.textContent };
    });
    assert.deepEqual(lines, { rects: 1, text: 'Acknowledge' });
    await page.screenshot({ path: shot('board-english') });
    await page.reload();
    await page.waitForSelector('#nav-board');
    assert.equal(await page.textContent('#nav-board'), 'Alarm board');
    await page.keyboard.press('l');
    await page.waitForFunction(() => document.querySelector('#nav-board')?.textContent === '报警台');
    await context.close();
  });

  test('phone width (360 px): board as cards, no sideways scrolling', async () => {
    await w.zj.sync({ alarms: [{ id: `zj-phone-${Date.now()}`, device: 'smoke-9-1', type: 'smoke' }] });
    const { context, page } = await w.newPage({ width: 360, height: 740 });
    await w.signIn(page, USERS.zjDuty.username);
    await page.waitForSelector('tr.case');
    const { scroll, client } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    assert.ok(scroll <= client, `page ${scroll}px wide in a ${client}px viewport`);
    const display = await page.$eval('tr.case', (tr) => getComputedStyle(tr).display);
    assert.equal(display, 'block');
    // No keyboard on a phone: no keyboard hints (banner, action buttons).
    await page.waitForSelector('#banner');
    await page.click('tr.case');
    const hints = await page.$$eval('.kbd', (xs) => xs.map((x) => getComputedStyle(x).display));
    assert.ok(hints.length >= 2, `hints found: ${hints.length}`);
    assert.ok(
      hints.every((d) => d === 'none'),
      `keyboard hints shown on a phone: ${hints.join(',')}`,
    );
    await page.screenshot({ path: shot('phone-board'), fullPage: true });
    await context.close();
  });

  test('site tree, device page with trend chart, gateway health, site plan with a placed marker', async () => {
    const now = Date.now();
    await w.zj.sync({
      readings: Array.from({ length: 30 }, (_, i) => ({
        device: 'pressure-roof',
        point: 'pressure',
        unit: 'MPa',
        value: 0.12 + 0.01 * Math.sin(i / 3),
        ts: now - (30 - i) * 60_000,
      })),
      health: {
        software: 'doorstep-edge 0.1.0',
        uptimeS: 3600,
        outbox: { pending: { alarm: 0, event: 2, telemetry: 40 }, dropped: { telemetry: 3 }, quarantined: 1 },
        clockOffsetMs: 120,
      },
    });
    const { page } = await w.newPage();
    await w.signIn(page, USERS.zjSup.username);
    await page.click('#nav-sites');
    await page.waitForSelector('#device-rows tr');
    await page.screenshot({ path: shot('sites') });
    await page.click('a[href="#/device/gw-zj/pressure-roof"]');
    await page.waitForSelector('svg.chart path.line');
    await page.screenshot({ path: shot('device'), fullPage: true });
    await page.goto(`${w.url}/console#/gateway/gw-zj`);
    await page.waitForSelector('#gateway-kpis');
    const kpis = (await page.textContent('#gateway-kpis')) ?? '';
    assert.ok(
      kpis.includes('doorstep-edge 0.1.0') && kpis.includes('120 ms') && kpis.includes('telemetry 3'),
      kpis,
    );

    await page.goto(`${w.url}/console#/plan/${encodeURIComponent('pudong/zhangjiang/lane-100')}`);
    await page.waitForSelector('#plan-file');
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 200"><rect width="400" height="200" fill="#f1f5f9"/><rect x="20" y="20" width="150" height="80" fill="#cbd5e1"/><text x="30" y="60" font-size="16">3号楼</text></svg>';
    await page.setInputFiles('#plan-file', {
      name: 'plan.svg',
      mimeType: 'image/svg+xml',
      buffer: Buffer.from(svg),
    });
    await page.waitForSelector('#plan img');
    await page.waitForFunction(
      () => ((document.querySelector('#plan img') as HTMLImageElement | null)?.naturalWidth ?? 0) > 0,
    );
    await page.dragAndDrop('#unplaced [data-key="gw-zj/pressure-roof"]', '#plan', {
      targetPosition: { x: 100, y: 50 },
    });
    await page.waitForSelector('#plan .marker[data-key="gw-zj/pressure-roof"]');
    const markers = await call(w.url, 'GET', '/console/api/markers?site=pudong/zhangjiang/lane-100', {
      headers: { cookie: await sessionCookie(page.context()) },
    });
    const m = markers.body.items.find((x: { device: string }) => x.device === 'pressure-roof');
    assert.ok(m && m.x > 0 && m.x < 1 && m.y > 0 && m.y < 1, JSON.stringify(markers.body));
    // The marker sits where it was dropped (CSSOM positions survive the page's CSP).
    const box = await page.$eval('#plan', (p) => p.getBoundingClientRect().toJSON());
    const mk = await page.$eval('#plan .marker[data-key="gw-zj/pressure-roof"]', (x) =>
      x.getBoundingClientRect().toJSON(),
    );
    assert.ok(
      Math.abs(mk.x + mk.width / 2 - (box.x + 100)) < 3,
      `marker centre ${mk.x + mk.width / 2} vs ${box.x + 100}`,
    );
    await page.screenshot({ path: shot('plan') });

    const evil = `data:image/svg+xml;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>').toString('base64')}`;
    const refused = await call(w.url, 'POST', '/console/api/plan', {
      json: { site: 'pudong/zhangjiang/lane-100', image: evil },
      headers: { cookie: await sessionCookie(page.context()), origin: w.url },
    });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /event-handler/);
    await page.context().close();
  });

  test('district view and big screen', async () => {
    await w.zj.sync({ alarms: [{ id: `zj-big-${Date.now()}`, device: 'smoke-big', type: 'smoke' }] });
    const { page } = await w.newPage({ width: 1920, height: 1080 });
    await w.signIn(page, USERS.district.username);
    await page.click('#nav-district');
    await page.waitForSelector('#figures [data-town="pudong/zhangjiang"]');
    await page.waitForSelector('#figures [data-town="pudong/huamu"]');
    await page.screenshot({ path: shot('district') });
    await page.click('#big-screen');
    await page.waitForSelector('body.big #figures .town');
    assert.equal(await page.$$eval('#figures .town', (x) => x.length), 1, 'one town at a time, rotating');
    const hints = await page.$$eval('.kbd', (xs) => xs.map((x) => getComputedStyle(x).display));
    assert.ok(hints.length >= 1, 'the banner of an open critical alarm is there');
    assert.ok(
      hints.every((d) => d === 'none'),
      `keyboard hints on the big screen: ${hints.join(',')}`,
    );
    await page.screenshot({ path: shot('district-big') });
    await page.context().close();
  });

  test('first load is at most 300 KB compressed (brotli, as sent)', async () => {
    const html = await fetch(`${w.url}/console`, { headers: { 'accept-encoding': 'br' } });
    assert.equal(html.headers.get('content-encoding'), 'br');
    const page = await html.text();
    const assets = [...page.matchAll(/(?:href|src)="(\/console\/static\/[^"]+)"/g)].map((m) => m[1] ?? '');
    // Modules imported by app.js too.
    const app = await (await fetch(`${w.url}/console/static/app.js`)).text();
    for (const m of app.matchAll(/from '\.\/([^']+)'/g)) assets.push(`/console/static/${m[1]}`);
    let total = brotliCompressSync(Buffer.from(page)).length;
    for (const a of new Set(assets)) {
      const r = await fetch(`${w.url}${a}`, { headers: { 'accept-encoding': 'br' } });
      assert.equal(r.status, 200, a);
      total += Number(r.headers.get('content-length') ?? (await r.arrayBuffer()).byteLength);
    }
    console.log(`console first load: ${total} bytes brotli (${new Set(assets).size + 1} files)`);
    assert.ok(total <= 300 * 1024, `${total} bytes`);
  });
});
