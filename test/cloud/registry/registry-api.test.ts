/**
 * The device registry through the HTTP API on every store: inventories in sync batches (version 2;
 * a version-1 gateway keeps working), labels in cases, list/search/export per scope, a device's
 * history across gateways, and hostile inventories refused with a code, nothing changed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import ExcelJS from 'exceljs';
import type { CloudStore } from '../../../cloud/store/port.js';
import { PostgresCloudStore } from '../../../cloud/store/postgres/store.js';
import { SqliteCloudStore } from '../../../cloud/store/sqlite/store.js';
import type { InventoryDevice } from '../../../protocol/index.js';
import { startPostgres } from '../../support/postgres.js';
import { tempDir } from '../../support/tmp.js';
import {
  adminToken,
  bearer,
  call,
  enrollGateway,
  makeBatch,
  startTestCloud,
  type TestCloud,
  userToken,
} from '../http/harness.js';

const TS = Date.UTC(2025, 5, 1, 8, 0, 0);

function dev(id: string, extra: Partial<InventoryDevice> = {}): InventoryDevice {
  return { id, kind: 'gas', profile: 'gas-float32-abcd', profileVersion: 1, label: `${id} 位置`, ...extra };
}

function inventoryBatch(
  gateway: string,
  sitePath: string,
  batchSeq: number,
  seq: number,
  generation: number,
  devices: unknown[],
  extra: { part?: number; parts?: number; v?: number } = {},
) {
  return {
    ...makeBatch({ gateway, sitePath, batchSeq, firstSeq: seq }),
    v: extra.v ?? 2,
    events: [
      {
        seq,
        ts: TS,
        event: {
          kind: 'inventory',
          generation,
          part: extra.part ?? 1,
          parts: extra.parts ?? 1,
          devices,
        },
      },
    ],
  };
}

const stores: Array<[string, () => Promise<{ store: CloudStore; dispose(): Promise<void> }>]> = [
  ['memory', async () => ({ store: undefined as unknown as CloudStore, dispose: async () => {} })],
  [
    'sqlite',
    async () => {
      const dir = tempDir('doorstep-registry-');
      return {
        store: new SqliteCloudStore({ path: `${dir.path}/cloud.db` }),
        dispose: async () => dir.dispose(),
      };
    },
  ],
  [
    'postgres',
    async () => {
      const pg = await startPostgres();
      const url = await pg.createDatabase();
      return { store: new PostgresCloudStore({ url, poolSize: 4 }), dispose: () => pg.stop() };
    },
  ],
];

for (const [name, open] of stores) {
  describe(`device registry API (${name})`, () => {
    let t: TestCloud;
    let dispose: () => Promise<void>;
    let admin: string;
    let gwA: string;
    let gwB: string;
    let gwX: string;
    before(async () => {
      const opened = await open();
      dispose = opened.dispose;
      t = await startTestCloud(
        { ingest: { maxDevicesPerGateway: 50 } },
        name === 'memory' ? {} : { store: opened.store },
      );
      admin = await adminToken(t.url);
      gwA = await enrollGateway(t.url, admin, 'gw-a', 'pudong/zhangjiang/lane-100');
      gwB = await enrollGateway(t.url, admin, 'gw-b', 'pudong/zhangjiang/lane-200');
      gwX = await enrollGateway(t.url, admin, 'gw-x', 'pudong/huamu/garden-1');
    });
    after(async () => {
      await t?.stop();
      await dispose?.();
    });

    it('stores an inventory; the case of its device carries the location label', async () => {
      const inv = inventoryBatch('gw-a', 'pudong/zhangjiang/lane-100', 1, 1, 1, [
        dev('gas-canteen', { code: 'PD-ZJ-000001', label: '社区食堂 厨房', building: '食堂', floor: '1F' }),
        dev('smoke-1', { kind: 'smoke', profile: 'smoke-status-register', label: '3号楼2单元 楼道' }),
      ]);
      const r = await call(t.url, 'POST', '/v1/sync', { auth: bearer(gwA), json: inv });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.v, 2);
      // A version-1 gateway (no inventory) keeps working, answered in version 1.
      const old = makeBatch({
        gateway: 'gw-a',
        sitePath: 'pudong/zhangjiang/lane-100',
        batchSeq: 2,
        firstSeq: 2,
        alarms: [{ seq: 2, id: 'alarm-a-0001', device: 'smoke-1' }],
      });
      const r1 = await call(t.url, 'POST', '/v1/sync', { auth: bearer(gwA), json: old });
      assert.equal(r1.status, 200, JSON.stringify(r1.body));
      assert.equal(r1.body.v, 1);
      const cases = await call(t.url, 'GET', '/v1/cases', { auth: bearer(admin) });
      assert.equal(cases.status, 200, JSON.stringify(cases.body));
      const c = cases.body.items.find((x: { device: string }) => x.device === 'smoke-1');
      assert.equal(c?.location, '3号楼2单元 楼道');
    });

    it('lists and searches devices per scope; town A never sees town B', async () => {
      await call(t.url, 'POST', '/v1/sync', {
        auth: bearer(gwX),
        json: inventoryBatch('gw-x', 'pudong/huamu/garden-1', 1, 1, 1, [
          dev('gas-9', { label: '花园一村 食堂' }),
        ]),
      });
      const all = await call(t.url, 'GET', '/v1/registry/devices', { auth: bearer(admin) });
      assert.deepEqual(
        all.body.items.map((d: { code: string }) => d.code),
        ['gw-x.gas-9', 'PD-ZJ-000001', 'gw-a.smoke-1'],
      );
      const search = await call(
        t.url,
        'GET',
        `/v1/registry/devices?q=${encodeURIComponent('食堂')}&kind=gas`,
        {
          auth: bearer(admin),
        },
      );
      assert.deepEqual(
        search.body.items.map((d: { device: string }) => d.device),
        ['gas-9', 'gas-canteen'],
      );
      const zj = await userToken(t.url, admin, {
        username: `zj-${name}`,
        scope: 'pudong/zhangjiang',
        role: 'viewer',
      });
      const mine = await call(t.url, 'GET', '/v1/registry/devices', { auth: bearer(zj) });
      assert.deepEqual(
        mine.body.items.map((d: { device: string }) => d.device),
        ['gas-canteen', 'smoke-1'],
      );
      for (const path of [
        '/v1/registry/devices?scope=pudong/huamu',
        '/v1/registry/devices?site=pudong/huamu/garden-1',
        '/v1/registry/devices?gateway=gw-x',
        '/v1/registry/devices.csv?scope=pudong',
      ]) {
        const r = await call(t.url, 'GET', path, { auth: bearer(zj) });
        assert.equal(r.status, 403, path);
        assert.equal(r.body.error.code, 'CLOUD_ERR_SCOPE');
      }
      const other = await call(t.url, 'GET', '/v1/registry/devices/gw-x.gas-9', { auth: bearer(zj) });
      assert.equal(other.status, 404);
      const bad = await call(t.url, 'GET', '/v1/registry/devices?status=gone', { auth: bearer(admin) });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'status');
    });

    it('exports CSV and XLSX with the same rows, Chinese headings, formulas made inert', async () => {
      await call(t.url, 'POST', '/v1/sync', {
        auth: bearer(gwX),
        json: inventoryBatch('gw-x', 'pudong/huamu/garden-1', 2, 2, 2, [
          dev('gas-9', { label: '花园一村 食堂' }),
          dev('gas-10', { label: '=HYPERLINK("http://evil","点我")' }),
        ]),
      });
      const csv = await fetch(`${t.url}/v1/registry/devices.csv?scope=pudong/huamu`, {
        headers: { authorization: bearer(admin) },
      });
      assert.equal(csv.status, 200);
      assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
      const text = await csv.text();
      const lines = text
        .replace(/^\ufeff/, '')
        .trimEnd()
        .split('\r\n');
      assert.equal(
        lines[0],
        '设备编码,位置,楼栋,单元,楼层,类型,所属社区,网关,网关内编号,设备型号,安装日期,状态,移除时间',
      );
      assert.equal(lines.length, 3);
      assert.equal(
        lines[1],
        `gw-x.gas-10,"'=HYPERLINK(""http://evil"",""点我"")",,,,燃气,pudong/huamu/garden-1,gw-x,gas-10,gas-float32-abcd v1,,在用,`,
      );
      assert.equal(
        lines[2],
        'gw-x.gas-9,花园一村 食堂,,,,燃气,pudong/huamu/garden-1,gw-x,gas-9,gas-float32-abcd v1,,在用,',
      );

      const xlsx = await fetch(`${t.url}/v1/registry/devices.xlsx?scope=pudong/huamu&lang=en`, {
        headers: { authorization: bearer(admin) },
      });
      assert.equal(xlsx.status, 200);
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(Buffer.from(await xlsx.arrayBuffer()) as unknown as ArrayBuffer);
      const ws = wb.worksheets[0]!;
      assert.equal(ws.name, 'Devices');
      const values = (n: number) => (ws.getRow(n).values as unknown[]).slice(1);
      assert.deepEqual(values(1).slice(0, 3), ['Code', 'Location', 'Building']);
      assert.equal(ws.rowCount, 3);
      assert.equal(values(2)[0], 'gw-x.gas-10');
      assert.equal(values(2)[1], `'=HYPERLINK("http://evil","点我")`, 'a string, not a formula');
      assert.equal(ws.getRow(2).getCell(2).type, ExcelJS.ValueType.String);
      assert.deepEqual(values(3).slice(0, 2), ['gw-x.gas-9', '花园一村 食堂']);
    });

    it('a device moved to another gateway keeps its record; its cases follow it; the old gateway marks nothing', async () => {
      // Installed at gateway B under its code, then gone from A's next inventory.
      const r = await call(t.url, 'POST', '/v1/sync', {
        auth: bearer(gwB),
        json: inventoryBatch('gw-b', 'pudong/zhangjiang/lane-200', 1, 1, 1, [
          dev('kitchen-gas', { code: 'PD-ZJ-000001', label: '200弄 厨房' }),
        ]),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const alarmAtB = makeBatch({
        gateway: 'gw-b',
        sitePath: 'pudong/zhangjiang/lane-200',
        batchSeq: 2,
        firstSeq: 2,
        alarms: [{ seq: 2, id: 'alarm-b-0001', device: 'kitchen-gas', type: 'gas_high' }],
      });
      assert.equal(
        (await call(t.url, 'POST', '/v1/sync', { auth: bearer(gwB), json: alarmAtB })).status,
        200,
      );
      const alarmAtA = makeBatch({
        gateway: 'gw-a',
        sitePath: 'pudong/zhangjiang/lane-100',
        batchSeq: 3,
        firstSeq: 3,
        alarms: [{ seq: 3, id: 'alarm-a-0002', device: 'gas-canteen', type: 'gas_high' }],
      });
      // (an alarm of the device under its old binding, stored before the move was known here)
      assert.equal(
        (await call(t.url, 'POST', '/v1/sync', { auth: bearer(gwA), json: alarmAtA })).status,
        200,
      );
      const leave = inventoryBatch('gw-a', 'pudong/zhangjiang/lane-100', 4, 4, 2, [
        dev('smoke-1', { kind: 'smoke', profile: 'smoke-status-register', label: '3号楼2单元 楼道' }),
      ]);
      assert.equal((await call(t.url, 'POST', '/v1/sync', { auth: bearer(gwA), json: leave })).status, 200);

      const one = await call(t.url, 'GET', '/v1/registry/devices/PD-ZJ-000001', { auth: bearer(admin) });
      assert.equal(one.status, 200, JSON.stringify(one.body));
      assert.equal(one.body.device.gateway, 'gw-b');
      assert.equal(one.body.device.label, '200弄 厨房');
      assert.equal(one.body.device.status, 'active');
      assert.deepEqual(
        one.body.bindings.map((b: { gateway: string; device: string }) => `${b.gateway}/${b.device}`),
        ['gw-a/gas-canteen', 'gw-b/kitchen-gas'],
      );
      assert.deepEqual(
        one.body.cases.map((c: { gateway: string; device: string }) => `${c.gateway}/${c.device}`).sort(),
        ['gw-a/gas-canteen', 'gw-b/kitchen-gas'],
      );
      const all = await call(t.url, 'GET', '/v1/registry/devices?status=all&q=PD-ZJ-000001', {
        auth: bearer(admin),
      });
      assert.equal(all.body.items.length, 1, 'one record, not two');
    });

    it('marks a device no longer reported removed, with the time', async () => {
      t.clock.now = TS + 60_000;
      const r = await call(t.url, 'POST', '/v1/sync', {
        auth: bearer(gwX),
        json: inventoryBatch('gw-x', 'pudong/huamu/garden-1', 3, 3, 3, [
          dev('gas-9', { label: '花园一村 食堂' }),
        ]),
      });
      assert.equal(r.status, 200);
      const removed = await call(t.url, 'GET', '/v1/registry/devices?status=removed&scope=pudong/huamu', {
        auth: bearer(admin),
      });
      assert.deepEqual(
        removed.body.items.map((d: { device: string; removedAt: number }) => [d.device, d.removedAt]),
        [['gas-10', TS + 60_000]],
      );
    });

    it('a case opened by the batch that brings the inventory already has its location', async () => {
      const body = inventoryBatch('gw-x', 'pudong/huamu/garden-1', 4, 4, 4, [
        dev('gas-9', { label: '花园一村 食堂' }),
        dev('smoke-new', { kind: 'smoke', profile: 'smoke-status-register', label: '新装 1号楼 楼道' }),
      ]);
      const withAlarm = {
        ...body,
        alarms: makeBatch({
          gateway: 'gw-x',
          sitePath: 'pudong/huamu/garden-1',
          batchSeq: 4,
          firstSeq: 5,
          alarms: [{ seq: 5, id: 'alarm-x-0001', device: 'smoke-new' }],
        }).alarms,
      };
      const r = await call(t.url, 'POST', '/v1/sync', { auth: bearer(gwX), json: withAlarm });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const cases = await call(t.url, 'GET', '/v1/cases?scope=pudong/huamu', { auth: bearer(admin) });
      const c = cases.body.items.find((x: { device: string }) => x.device === 'smoke-new');
      assert.equal(c?.location, '新装 1号楼 楼道');
    });

    it('refuses hostile inventories with a code naming the field, and changes nothing', async () => {
      const before = await call(t.url, 'GET', '/v1/registry/devices?status=all', { auth: bearer(admin) });
      const cases: Array<[string, unknown[], Record<string, number>, string, string]> = [
        [
          'markup',
          [dev('evil', { label: '<img src=x onerror=alert(1)>' })],
          {},
          'CLOUD_ERR_VALIDATION',
          'events[0].event.devices[0].label',
        ],
        [
          'control',
          [dev('evil', { label: '食堂\n确认接警：http://evil' })],
          {},
          'CLOUD_ERR_VALIDATION',
          'events[0].event.devices[0].label',
        ],
        [
          'huge',
          [dev('evil', { label: '长'.repeat(121) })],
          {},
          'CLOUD_ERR_VALIDATION',
          'events[0].event.devices[0].label',
        ],
        [
          'wrong type',
          [{ ...dev('evil'), profileVersion: '1' }],
          {},
          'CLOUD_ERR_VALIDATION',
          'events[0].event.devices[0].profileVersion',
        ],
        [
          'unknown field',
          [{ ...dev('evil'), script: 'x' }],
          {},
          'CLOUD_ERR_VALIDATION',
          'events[0].event.devices[0]',
        ],
        [
          'plan out of range',
          [dev('evil', { plan: { x: 1.5, y: 0 } })],
          {},
          'CLOUD_ERR_VALIDATION',
          'events[0].event.devices[0].plan.x',
        ],
        [
          'bad code',
          [dev('evil', { code: 'pd-zj-1' })],
          {},
          'CLOUD_ERR_VALIDATION',
          'events[0].event.devices[0].code',
        ],
        ['version 1', [dev('evil')], { v: 1 }, 'CLOUD_ERR_VALIDATION', 'events[0].event.kind'],
        [
          '30 000 devices in a part',
          Array.from({ length: 30_000 }, (_, i) => dev(`d-${i}`)),
          {},
          'CLOUD_ERR_VALIDATION',
          'events[0].event.devices',
        ],
        [
          'part past parts',
          [dev('evil')],
          { part: 3, parts: 2 },
          'CLOUD_ERR_VALIDATION',
          'events[0].event.part',
        ],
        [
          'past the device cap',
          Array.from({ length: 60 }, (_, i) => dev(`d-${i}`)),
          {},
          'CLOUD_ERR_DEVICE_LIMIT',
          'events[0].event.devices[48].id',
        ],
      ];
      let batchSeq = 100;
      for (const [what, devices, extra, code, field] of cases) {
        const body = inventoryBatch(
          'gw-a',
          'pudong/zhangjiang/lane-100',
          batchSeq,
          batchSeq,
          99,
          devices,
          extra,
        );
        batchSeq++;
        const r = await call(t.url, 'POST', '/v1/sync', { auth: bearer(gwA), json: body, gzip: true });
        assert.equal(r.status, 400, `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        assert.equal(r.body.error.code, code, what);
        assert.ok(String(r.body.error.field).startsWith(field), `${what}: ${r.body.error.field}`);
      }
      const after = await call(t.url, 'GET', '/v1/registry/devices?status=all', { auth: bearer(admin) });
      assert.deepEqual(after.body, before.body, 'nothing changed');
      const cases2 = await call(t.url, 'GET', '/v1/cases', { auth: bearer(admin) });
      for (const c of cases2.body.items) assert.doesNotMatch(String(c.location ?? ''), /[<>]/);
    });
  });
}
