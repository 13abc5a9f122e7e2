/**
 * The console's device register (设备台账) in a real browser: labels from a gateway's inventory,
 * search through /v1/registry/devices, export links of the same search, and the caller's scope.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ConsoleWorld, shot, startConsoleWorld, USERS } from './harness.js';

let w: ConsoleWorld;
before(async () => {
  w = await startConsoleWorld();
});
after(async () => {
  await w?.stop();
});

describe('console device register', () => {
  test('lists the registry with labels, searches it, and offers the same search as CSV and Excel', async () => {
    await w.zj.sync({
      inventory: [
        {
          id: 'gas-canteen',
          code: 'PD-ZJ-000001',
          kind: 'gas',
          profile: 'gas-status-word-int16',
          profileVersion: 1,
          label: '社区食堂 厨房',
          building: '社区食堂',
          floor: '1F',
        },
        {
          id: 'smoke-3-2',
          kind: 'smoke',
          profile: 'smoke-status-register',
          profileVersion: 1,
          label: '3号楼2单元 楼道 &amp;',
        },
      ],
    });
    await w.hm.sync({
      inventory: [
        { id: 'gas-9', kind: 'gas', profile: 'gas-status-word-int16', profileVersion: 1, label: '花园 食堂' },
      ],
    });
    const { page } = await w.newPage();
    await w.signIn(page, USERS.zjSup.username);
    await page.click('#nav-sites');
    await page.waitForSelector('#registry-rows tr');
    const rows = async () => (await page.locator('#registry-rows tr').allTextContents()).map((t) => t.trim());
    let shown = await rows();
    assert.equal(shown.length, 2, shown.join('\n'));
    assert.ok(shown[0]!.includes('社区食堂 厨房') && shown[0]!.includes('PD-ZJ-000001'), shown[0]);
    assert.ok(shown[1]!.includes('3号楼2单元 楼道 &amp;'), 'shown as text, not as markup');
    assert.ok(!shown.some((r) => r.includes('花园')), 'another town is not listed');
    await page.screenshot({ path: shot('registry') });

    await page.fill('#registry-search', '食堂');
    await page.waitForFunction(() => {
      // biome-ignore lint/suspicious/noExplicitAny: browser global inside a page callback
      const doc = (globalThis as any).document;
      return doc.querySelectorAll('#registry-rows tr').length === 1;
    });
    shown = await rows();
    assert.ok(shown[0]!.includes('社区食堂 厨房'));
    const csv = await page.getAttribute('#registry-csv', 'href');
    assert.equal(csv, `/v1/registry/devices.csv?q=${encodeURIComponent('食堂')}&status=active`);
    const xlsx = await page.getAttribute('#registry-xlsx', 'href');
    assert.ok(xlsx?.startsWith('/v1/registry/devices.xlsx?'));
    const download = await page.evaluate(async (href) => {
      const r = await fetch(href as string, { credentials: 'same-origin' });
      return { status: r.status, text: await r.text() };
    }, csv);
    assert.equal(download.status, 200);
    assert.ok(download.text.includes('PD-ZJ-000001,社区食堂 厨房,社区食堂'), download.text);
    assert.ok(!download.text.includes('花园'));
  });
});
