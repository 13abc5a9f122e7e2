/**
 * The console's site tree, device and gateway pages, site plan, district view and big screen in a
 * real browser against a running cloud on SQLite fed by real /v1/sync batches.
 * Screenshots are kept in test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call } from '../cloud/http/harness.js';
import { type ConsoleWorld, sessionCookie, shot, startConsoleWorld, USERS } from './harness.js';

// Callbacks passed to page.evaluate/waitForFunction run in the browser; the Node program has no DOM
// lib (adding it would change other files' types), so the few browser globals they use are declared
// here, module-local.
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const document: any;
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

describe('console sites', () => {
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
    assert.match(refused.body.error.message, /onload on <svg>/);
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
});
