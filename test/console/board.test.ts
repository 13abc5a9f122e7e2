/**
 * The live alarm board in a real browser (headless Debian Chromium via playwright-core) against a
 * running cloud on SQLite, with simulated gateways posting real /v1/sync batches: the case flow, and a
 * feedback form that survives pushed updates.
 * Screenshots are kept in test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, call } from '../cloud/http/harness.js';
import { type ConsoleWorld, sessionCookie, shot, startConsoleWorld, USERS } from './harness.js';

// Callbacks passed to page.evaluate/waitForFunction run in the browser; the Node program has no DOM
// lib (adding it would change other files' types), so the few browser globals they use are declared
// here, module-local.
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const window: any;

let w: ConsoleWorld;
before(async () => {
  w = await startConsoleWorld();
});
after(async () => {
  await w?.stop();
});

describe('console board', () => {
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
  test('a condition that occurs again is one row with its count; the detail lists each occurrence', async () => {
    const { context, page } = await w.newPage();
    await w.signIn(page, USERS.zjDuty.username);
    await page.waitForSelector('#conn:not(.down)');
    const stamp = Date.now();
    const alarm = (i: number, state: 'raised' | 'cleared' = 'raised') => ({
      id: `zj-repeat-${stamp}-${i}`,
      device: 'gas-repeat',
      type: 'gas_low',
      severity: 'major' as const,
      state,
    });
    const first = alarm(1).id;
    await w.zj.sync({ alarms: [alarm(1)] });
    await page.waitForSelector(`tr.case[data-id="${first}"]`, { timeout: 10_000 });
    // The detector recovers and trips again, twice: new alarm ids from the gateway each time.
    for (const i of [2, 3]) {
      await w.zj.sync({ alarms: [alarm(i - 1, 'cleared')] });
      await w.zj.sync({ alarms: [alarm(i)] });
    }
    await page.waitForFunction(
      (cid) => document.querySelector(`tr.case[data-id="${cid}"] .count`)?.textContent === '×3',
      first,
      { timeout: 10_000 },
    );
    const rows = await page.$$eval('tr.case', (trs) =>
      trs.filter((tr) => tr.textContent.includes('gas-repeat')).map((tr) => tr.getAttribute('data-id')),
    );
    assert.deepEqual(rows, [first], 'one row per condition, not one per occurrence');
    assert.match(
      (await page.getAttribute(`tr.case[data-id="${first}"] .count`, 'title')) ?? '',
      /共发生 3 次/,
    );
    await page.click(`tr.case[data-id="${first}"]`);
    await page.waitForFunction(() => document.querySelector('#detail-occurrences')?.textContent === '3');
    assert.equal(await page.$$eval('#detail-history li', (li) => li.length), 3);
    await page.screenshot({ path: shot('board-repeats-one-row') });
    const cookie = await sessionCookie(context);
    const open = await call(w.url, 'GET', '/v1/cases?open=true', { headers: { cookie } });
    const mine = open.body.items.filter((c: { device: string }) => c.device === 'gas-repeat');
    assert.deepEqual(
      mine.map((c: { id: string; occurrence: number }) => [c.id, c.occurrence]),
      [[first, 3]],
    );
    await context.close();
  });
});
