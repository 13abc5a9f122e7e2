/**
 * Liveness of the console in a real browser: heartbeats through a TCP proxy that freezes, and the
 * sound of unacknowledged critical alarms at sign-in, after a reload and until the last one is
 * acknowledged.
 * Screenshots are kept in test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bearer, call } from '../cloud/http/harness.js';
import {
  type ConsoleWorld,
  PASSWORD,
  shot,
  startConsoleWorld,
  startFreezableProxy,
  USERS,
} from './harness.js';

// Callbacks passed to page.evaluate/waitForFunction run in the browser; the Node program has no DOM
// lib (adding it would change other files' types), so the few browser globals they use are declared
// here, module-local.
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const window: any;

let w: ConsoleWorld;
before(async () => {
  w = await startConsoleWorld();
});
after(async () => {
  await w?.stop();
});

describe('console liveness', () => {
  test('a frozen link turns 实时 into 断线 after missed heartbeats; on reconnect the board resynchronises', async () => {
    const proxy = await startFreezableProxy(w.url);
    try {
      const { context, page } = await w.newPage();
      await w.signIn(page, USERS.zjDuty.username, PASSWORD, proxy.url);
      await page.waitForSelector('#conn:not(.down)', { timeout: 10_000 });
      // A quiet but healthy link stays 实时: heartbeats arrive although nothing changes (the page
      // would call it stale after 6 s without them, and reconnect).
      await sleep(8000);
      assert.equal(await page.getAttribute('#conn', 'data-state'), 'live');
      assert.equal(await page.evaluate(() => window.__doorstep.state.connects), 1, 'no reconnect');
      proxy.freeze();
      // 1.5 s heartbeats in this world: stale after 3 missed beats + 1.5 s; the bound is for a busy machine.
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
});
