/**
 * The console's language switch, phone width and first-load size in a real browser (headless
 * Debian Chromium via playwright-core) against a running cloud on SQLite.
 * Screenshots are kept in test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync } from 'node:zlib';
import { type ConsoleWorld, shot, startConsoleWorld, USERS } from './harness.js';

// Callbacks passed to page.evaluate/waitForFunction run in the browser; the Node program has no DOM
// lib (adding it would change other files' types), so the few browser globals they use are declared
// here, module-local.
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare function getComputedStyle(element: unknown): any;

let w: ConsoleWorld;
before(async () => {
  w = await startConsoleWorld();
});
after(async () => {
  await w?.stop();
});

describe('console pages', () => {
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
