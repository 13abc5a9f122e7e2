/**
 * The alarm board's keyboard and refusals in a real browser: Enter moves to the actions without
 * clicking them, Tab reaches the rows, a server refusal is shown verbatim and the panel catches up.
 * Screenshots are kept in test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bearer, call } from '../cloud/http/harness.js';
import { type ConsoleWorld, shot, startConsoleWorld, USERS } from './harness.js';

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

describe('console keys', () => {
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
});
