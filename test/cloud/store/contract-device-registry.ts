/**
 * Contract part: the device registry (一号一源) — inventories by part and generation, codes that
 * survive a move to another gateway, removal marks, labels written through to `devices`, scoped
 * listing and search (cloud/store/README.md "The device registry").
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryDevice, InventoryEvent } from '../../../protocol/index.js';
import { InventoryEvent as InventorySchema } from '../../../protocol/index.js';
import type { ContractContext } from './contract.js';
import { gateway, site, T0 } from './fixtures.js';

const A = site('pudong', 'zhangjiang', 'lane-100');
const B = site('pudong', 'zhangjiang', 'lane-200');
const X = site('pudong', 'huamu', 'lane-7');

function dev(id: string, extra: Partial<InventoryDevice> = {}): InventoryDevice {
  return {
    id,
    kind: 'gas',
    profile: 'gas-generic',
    profileVersion: 1,
    label: `社区食堂 ${id}`,
    ...extra,
  };
}

function inv(generation: number, devices: InventoryDevice[], part = 1, parts = 1): InventoryEvent {
  return InventorySchema.parse({ kind: 'inventory', generation, part, parts, devices });
}

export function deviceRegistryContract(ctx: ContractContext): void {
  describe('device registry', () => {
    it('records an inventory, writes its labels through to devices, and applies a part once', async () => {
      const s = ctx.store();
      const gwA = gateway('gw-a', A);
      await s.createGateway(gwA);
      const part = inv(1, [
        dev('gas-canteen', {
          code: 'PD-ZJ-000001',
          building: '3号楼',
          unit: '2单元',
          floor: '1F',
          plan: { x: 0.25, y: 0.5 },
          installedOn: '2024-05-01',
        }),
        dev('smoke-1', { kind: 'smoke', profile: 'smoke-generic', label: '2号楼 楼道' }),
      ]);
      const r1 = await s.applyInventory(gwA, part, T0);
      assert.deepEqual(r1, { applied: true, added: 2, updated: 0, moved: 0, removed: 0, complete: true });
      const again = await s.applyInventory(gwA, part, T0 + 1000);
      assert.equal(again.added + again.updated + again.moved + again.removed, 0);

      const list = await s.listRegistry('pudong');
      assert.deepEqual(
        list.map((d) => [d.code, d.assigned, d.device, d.label, d.status]),
        [
          ['PD-ZJ-000001', 'installer', 'gas-canteen', '社区食堂 gas-canteen', 'active'],
          ['gw-a.smoke-1', 'cloud', 'smoke-1', '2号楼 楼道', 'active'],
        ],
      );
      const first = list[0]!;
      assert.equal(first.building, '3号楼');
      assert.equal(first.unit, '2单元');
      assert.equal(first.floor, '1F');
      assert.equal(first.planX, 0.25);
      assert.equal(first.planY, 0.5);
      assert.equal(first.installedOn, '2024-05-01');
      assert.equal(first.firstSeen, T0);
      assert.deepEqual(first.site, A);

      const devices = await s.listDevices('pudong/zhangjiang/lane-100');
      assert.deepEqual(
        devices.map((d) => [d.id, d.kind, d.profile, d.location]),
        [
          ['gas-canteen', 'gas', 'gas-generic', '社区食堂 gas-canteen'],
          ['smoke-1', 'smoke', 'smoke-generic', '2号楼 楼道'],
        ],
      );
      const health = await s.listDeviceHealth('pudong');
      assert.equal(health.find((h) => h.device === 'gas-canteen')?.location, '社区食堂 gas-canteen');
    });

    it('marks a device no longer reported as removed, only once every part of the generation arrived', async () => {
      const s = ctx.store();
      const gwA = gateway('gw-a', A);
      await s.createGateway(gwA);
      await s.applyInventory(gwA, inv(1, [dev('d1'), dev('d2'), dev('d3')]), T0);
      // Generation 2 in two parts; d2 is gone.
      const p1 = await s.applyInventory(gwA, inv(2, [dev('d1')], 1, 2), T0 + 10_000);
      assert.equal(p1.complete, false);
      assert.equal(p1.removed, 0);
      assert.equal((await s.listRegistry('pudong')).length, 3, 'nothing removed before the last part');
      const p2 = await s.applyInventory(gwA, inv(2, [dev('d3', { label: '新位置' })], 2, 2), T0 + 20_000);
      assert.equal(p2.complete, true);
      assert.equal(p2.removed, 1);
      assert.deepEqual(
        (await s.listRegistry('pudong')).map((d) => d.device),
        ['d1', 'd3'],
      );
      const removed = await s.listRegistry('pudong', { status: 'removed' });
      assert.deepEqual(
        removed.map((d) => [d.device, d.removedAt, d.status]),
        [['d2', T0 + 20_000, 'removed']],
      );
      assert.equal((await s.listRegistry('pudong', { status: 'all' })).length, 3, 'removed, not deleted');
      // A late part of generation 1 changes nothing.
      const stale = await s.applyInventory(gwA, inv(1, [dev('d2')]), T0 + 30_000);
      assert.equal(stale.applied, false);
      assert.equal((await s.listRegistry('pudong', { status: 'removed' })).length, 1);
      // Reported again later: active again, same code, same first-seen.
      await s.applyInventory(gwA, inv(3, [dev('d1'), dev('d2'), dev('d3')]), T0 + 40_000);
      const d2 = (await s.listRegistry('pudong')).find((d) => d.device === 'd2')!;
      assert.equal(d2.status, 'active');
      assert.equal(d2.removedAt, undefined);
      assert.equal(d2.firstSeen, T0);
      const got = await s.getRegistryDevice('pudong', 'gw-a.d2');
      assert.deepEqual(
        got?.bindings.map((b) => [b.gateway, b.device, b.since, b.until]),
        [
          ['gw-a', 'd2', T0, T0 + 20_000],
          ['gw-a', 'd2', T0 + 40_000, undefined],
        ],
      );
    });

    it('moves a record to another gateway by its code: one record, its bindings tell its history', async () => {
      const s = ctx.store();
      const gwA = gateway('gw-a', A);
      const gwB = gateway('gw-b', B);
      await s.createGateway(gwA);
      await s.createGateway(gwB);
      await s.applyInventory(gwA, inv(1, [dev('gas-canteen', { code: 'PD-ZJ-000001' }), dev('d2')]), T0);
      // Installed at gateway B first (its own id there), then taken out of A's configuration.
      const moved = await s.applyInventory(
        gwB,
        inv(1, [dev('kitchen-gas', { code: 'PD-ZJ-000001', label: '200弄 厨房' })]),
        T0 + 60_000,
      );
      assert.equal(moved.moved, 1);
      assert.equal(moved.added, 0);
      const leftA = await s.applyInventory(gwA, inv(2, [dev('d2')]), T0 + 120_000);
      assert.equal(leftA.removed, 0, 'the moved device is bound to gw-b now: not removed by gw-a');
      const all = await s.listRegistry('pudong', { status: 'all' });
      assert.equal(all.filter((d) => d.code === 'PD-ZJ-000001').length, 1);
      const got = await s.getRegistryDevice('pudong', 'PD-ZJ-000001');
      assert.ok(got);
      assert.equal(got.device.gateway, 'gw-b');
      assert.equal(got.device.device, 'kitchen-gas');
      assert.equal(got.device.label, '200弄 厨房');
      assert.equal(got.device.status, 'active');
      assert.equal(got.device.firstSeen, T0);
      assert.deepEqual(got.device.site, B);
      assert.deepEqual(
        got.bindings.map((b) => [b.gateway, b.device, b.since, b.until]),
        [
          ['gw-a', 'gas-canteen', T0, T0 + 60_000],
          ['gw-b', 'kitchen-gas', T0 + 60_000, undefined],
        ],
      );
    });

    it('a new code under an old device id replaces the old device (marked removed)', async () => {
      const s = ctx.store();
      const gwA = gateway('gw-a', A);
      await s.createGateway(gwA);
      await s.applyInventory(gwA, inv(1, [dev('gas-1', { code: 'PD-ZJ-000001' })]), T0);
      const r = await s.applyInventory(gwA, inv(2, [dev('gas-1', { code: 'PD-ZJ-000002' })]), T0 + 1000);
      assert.equal(r.added, 1);
      assert.equal(r.removed, 1);
      assert.deepEqual(
        (await s.listRegistry('pudong', { status: 'all' })).map((d) => [d.code, d.status]),
        [
          ['PD-ZJ-000001', 'removed'],
          ['PD-ZJ-000002', 'active'],
        ],
      );
    });

    it('lists and searches by scope, text, kind, site and status', async () => {
      const s = ctx.store();
      const gwA = gateway('gw-a', A);
      const gwX = gateway('gw-x', X);
      await s.createGateway(gwA);
      await s.createGateway(gwX);
      await s.applyInventory(
        gwA,
        inv(1, [
          dev('gas-canteen', { label: '社区食堂 厨房', building: '3号楼' }),
          dev('smoke-1', { kind: 'smoke', profile: 'smoke-generic', label: '2号楼 楼道' }),
        ]),
        T0,
      );
      await s.applyInventory(gwX, inv(1, [dev('gas-9', { label: '花木 食堂_1' })]), T0);
      const ids = (l: { device: string }[]) => l.map((d) => d.device);
      assert.deepEqual(ids(await s.listRegistry('pudong/zhangjiang')), ['gas-canteen', 'smoke-1']);
      assert.deepEqual(ids(await s.listRegistry('pudong/huamu')), ['gas-9']);
      assert.deepEqual(ids(await s.listRegistry('pudong', { text: '食堂' })), ['gas-9', 'gas-canteen']);
      assert.deepEqual(ids(await s.listRegistry('pudong', { text: '3号楼' })), ['gas-canteen']);
      assert.deepEqual(ids(await s.listRegistry('pudong', { text: 'GW-A.SMOKE' })), ['smoke-1']);
      assert.deepEqual(ids(await s.listRegistry('pudong', { text: '%' })), [], 'no wildcard');
      assert.deepEqual(ids(await s.listRegistry('pudong', { text: '_' })), ['gas-9'], '_ is a character');
      assert.deepEqual(ids(await s.listRegistry('pudong', { kind: 'smoke' })), ['smoke-1']);
      assert.deepEqual(ids(await s.listRegistry('pudong', { site: 'pudong/huamu/lane-7' })), ['gas-9']);
      assert.deepEqual(ids(await s.listRegistry('pudong', { limit: 1 })), ['gas-9']);
      assert.deepEqual(ids(await s.listRegistry('pudong/zhangjiang', { site: 'pudong/huamu' })), []);
      assert.equal(await s.getRegistryDevice('pudong/zhangjiang', 'gw-x.gas-9'), undefined, 'out of scope');
      assert.equal(await s.getRegistryDevice('pudong', 'NO-SUCH'), undefined);
    });
  });
}
