/**
 * Console CSRF refusal and scope isolation (UI, API with the cookie, live feed) in a real browser
 * against a running cloud on SQLite with simulated gateways posting real /v1/sync batches.
 * Screenshots are kept in test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call } from '../cloud/http/harness.js';
import { type ConsoleWorld, sessionCookie, startConsoleWorld, USERS } from './harness.js';

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

describe('console scope', () => {
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
    // Another town's case answers like an unknown id: nothing confirms that it exists.
    assert.equal((await call(w.url, 'GET', `/v1/cases/${zjAlarm}`, { headers: { cookie } })).status, 404);
    const ack = await call(w.url, 'POST', `/v1/cases/${zjAlarm}/ack`, {
      json: {},
      headers: { cookie, origin: w.url },
    });
    assert.equal(ack.status, 404, 'cannot act on another town’s case');
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
});
