/** Contract part: device and gateway health from batches, and scope isolation of every query. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDoorstepError } from '../../../protocol/index.js';
import type { ContractContext } from './contract.js';
import { alarm, batch, gasReadings, gateway, healthReport, readings, site, T0 } from './fixtures.js';

const A = site('pudong', 'zhangjiang', 'lane-100');
const GW = gateway('gw-a', A);
const meta = (receivedAt = T0 + 60_000, offsetMs = 0) => ({ receivedAt, offsetMs });
const linkEvent = (
  seq: number,
  device: string,
  state: 'online' | 'faulty' | 'offline',
  since: number,
  reason?: string,
) => ({
  seq,
  ts: since,
  event: {
    kind: 'device_state' as const,
    state: { device, state, since, ...(reason ? { reason } : {}), consecutiveFailures: 0 },
  },
});

export function healthAndScopeContract(ctx: ContractContext): void {
  describe('health', () => {
    it('stores a faulty device with its reason; readings of its working blocks do not make it online', async () => {
      const s = ctx.store();
      await s.createGateway(GW);
      // It answers its battery block, but its status block only with exceptions: a reading newer
      // than the faulty event in the same batch, and readings in a later batch.
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 1, {
          telemetry: readings([
            { seq: 1, device: 'smoke-9', point: 'battery', value: 80, unit: '%', ts: T0 + 1500 },
          ]),
          events: [linkEvent(2, 'smoke-9', 'faulty', T0 + 1000, 'DRV_ERR_EXCEPTION')],
        }),
        meta(),
      );
      const state = async () =>
        (await s.listDeviceHealth('pudong', { state: 'faulty' })).find((d) => d.device === 'smoke-9');
      assert.equal((await state())?.reason, 'DRV_ERR_EXCEPTION');
      // A later batch with only readings: still faulty.
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 2, {
          telemetry: readings([
            { seq: 3, device: 'smoke-9', point: 'battery', value: 79, unit: '%', ts: T0 + 5000 },
          ]),
        }),
        meta(T0 + 70_000),
      );
      const still = await state();
      assert.equal(still?.state, 'faulty');
      assert.equal(still?.lastSeen, T0 + 5000, 'lastSeen still advances');
      // The gateway's own word ends it.
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 3, { events: [linkEvent(4, 'smoke-9', 'online', T0 + 6000)] }),
        meta(T0 + 80_000),
      );
      const all = await s.listDeviceHealth('pudong');
      assert.equal(all.find((d) => d.device === 'smoke-9')?.state, 'online');
    });

    it('derives device health from readings, diagnostics and link-state events', async () => {
      const s = ctx.store();
      await s.createGateway(GW);
      await s.upsertDevices([
        { gateway: 'gw-a', id: 'smoke-1', site: A, kind: 'smoke', location: 'stair 2' },
      ]);
      const r = await s.ingestBatch(
        GW,
        batch('gw-a', A, 1, {
          telemetry: readings([
            { seq: 1, device: 'smoke-1', point: 'battery', value: 80, unit: '%', ts: T0 + 1000 },
            { seq: 2, device: 'smoke-1', point: 'battery', value: 76, unit: '%', ts: T0 + 2000 },
            { seq: 3, device: 'smoke-1', point: 'signal', value: -71, unit: 'dBm', ts: T0 + 2000 },
            { seq: 4, device: 'smoke-1', point: 'battery_low', value: true, ts: T0 + 2000 },
            { seq: 5, device: 'smoke-1', point: 'fault', value: false, ts: T0 + 2000 },
            { seq: 6, device: 'gas-1', point: 'gas', value: 1, unit: '%LEL', ts: T0 + 3000 },
          ]),
          events: [
            linkEvent(7, 'gas-1', 'offline', T0 + 4000, 'DRV_ERR_TIMEOUT'),
            linkEvent(8, 'door-1', 'online', T0 + 100),
          ],
        }),
        meta(T0 + 60_000, 500),
      );
      assert.deepEqual(
        r.newDeviceStates.map((d) => [d.device, d.state]),
        [
          ['gas-1', 'offline'],
          ['door-1', 'online'],
        ],
      );
      const health = await s.listDeviceHealth('pudong');
      assert.deepEqual(health, [
        { gateway: 'gw-a', device: 'door-1', site: A, state: 'online', updatedAt: T0 + 60_000 },
        {
          gateway: 'gw-a',
          device: 'gas-1',
          site: A,
          state: 'offline',
          reason: 'DRV_ERR_TIMEOUT',
          lastSeen: T0 + 2500,
          updatedAt: T0 + 60_000,
        },
        {
          gateway: 'gw-a',
          device: 'smoke-1',
          site: A,
          location: 'stair 2',
          kind: 'smoke',
          state: 'online',
          lastSeen: T0 + 1500,
          battery: 76,
          batteryLow: true,
          signal: -71,
          fault: false,
          updatedAt: T0 + 60_000,
        },
      ]);
      assert.deepEqual(
        (await s.listDeviceHealth('pudong', { state: 'offline' })).map((d) => d.device),
        ['gas-1'],
      );
      // Devices seen in a batch are registered at the gateway's site.
      assert.deepEqual(
        (await s.listDevices('pudong/zhangjiang/lane-100')).map((d) => d.id),
        ['door-1', 'gas-1', 'smoke-1'],
      );
      // A replay brings no new device states.
      const again = await s.ingestBatch(
        GW,
        batch('gw-a', A, 1, { events: [linkEvent(7, 'gas-1', 'offline', T0 + 4000)] }),
        meta(),
      );
      assert.deepEqual(again.newDeviceStates, []);
    });

    it('never lets a late batch move device health back in time', async () => {
      const s = ctx.store();
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 2, {
          events: [linkEvent(20, 'gas-1', 'offline', T0 + 9000, 'DRV_ERR_CRC')],
          telemetry: readings([{ seq: 19, device: 'gas-1', point: 'battery', value: 40, ts: T0 + 8000 }]),
        }),
        meta(T0 + 70_000),
      );
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 1, {
          telemetry: readings([
            { seq: 1, device: 'gas-1', point: 'battery', value: 90, ts: T0 + 1000 },
            { seq: 2, device: 'gas-1', point: 'gas', value: 2, ts: T0 + 1000 },
          ]),
          health: healthReport({
            devices: [{ device: 'gas-1', state: 'online', since: T0, consecutiveFailures: 0 }],
          }),
        }),
        meta(T0 + 80_000),
      );
      const [h] = await s.listDeviceHealth('pudong');
      assert.deepEqual(
        [h?.state, h?.reason, h?.battery, h?.lastSeen, h?.updatedAt],
        ['offline', 'DRV_ERR_CRC', 40, T0 + 8000, T0 + 80_000],
      );
      // A reading newer than the offline event brings the device back online.
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 3, {
          telemetry: readings([{ seq: 30, device: 'gas-1', point: 'gas', value: 1, ts: T0 + 9500 }]),
        }),
        meta(T0 + 90_000),
      );
      const [back] = await s.listDeviceHealth('pudong');
      assert.deepEqual([back?.state, back?.reason, back?.lastSeen], ['online', undefined, T0 + 9500]);
    });

    it('keeps gateway health: report, last sync, highest batch, rejected batches', async () => {
      const s = ctx.store();
      await s.createGateway(GW);
      await s.createGateway(gateway('gw-quiet', A, T0 - 5));
      const report = healthReport({
        devices: [{ device: 'smoke-1', state: 'online', since: T0, consecutiveFailures: 0 }],
      });
      await s.ingestBatch(GW, batch('gw-a', A, 5, { health: report }), meta(T0 + 1000));
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 4, { health: healthReport({ software: 'old' }) }),
        meta(T0 + 2000),
      );
      await s.recordRejectedBatch('gw-a', T0 + 3000);
      await s.recordRejectedBatch('gw-a', T0 + 2500);
      const { devices: _devices, ...withoutDevices } = report;
      assert.deepEqual(await s.listGatewayHealth('pudong/zhangjiang'), [
        {
          gateway: 'gw-a',
          site: A,
          lastSyncAt: T0 + 2000,
          lastBatchSeq: 5,
          report: withoutDevices,
          rejectedBatches: 2,
          updatedAt: T0 + 3000,
        },
        { gateway: 'gw-quiet', site: A, rejectedBatches: 0, updatedAt: T0 - 5 },
      ]);
    });
  });

  describe('scopes', () => {
    it('never shows one scope the rows of another, in any query', async () => {
      const s = ctx.store();
      // Prefix traps: `pudong` vs `pudong2`, and `_` (a LIKE wildcard) in `z_j` vs `zxj`.
      const mine = site('pudong', 'z_j', 'lane-1');
      const sites = [
        mine,
        site('pudong', 'zxj', 'lane-1'),
        site('pudong2', 'z_j', 'lane-1'),
        site('xuhui', 'z_j', 'lane-1'),
      ];
      for (const [i, at] of sites.entries()) {
        const g = gateway(`gw-${i}`, at);
        await s.createGateway(g);
        await s.upsertSite({ path: `${at.district}/${at.town}`, level: 'town', name: at.town });
        await s.ingestBatch(
          g,
          batch(g.id, at, 1, {
            alarms: [{ seq: 1, transition: alarm(g.id, `alarm-gw-${i}`, 'raised', T0) }],
            telemetry: readings(gasReadings(2, 5, 2)),
            health: healthReport(),
          }),
          meta(),
        );
      }
      await s.rollup(T0 + 3_600_000);
      for (const scope of ['pudong/z_j', 'pudong/z_j/lane-1']) {
        const only = (rows: Array<{ gateway: string }>) => [...new Set(rows.map((r) => r.gateway))];
        assert.deepEqual(only(await s.queryReadings(scope, {})), ['gw-0'], scope);
        assert.deepEqual(only(await s.queryAlarmTransitions(scope, {})), ['gw-0'], scope);
        assert.deepEqual(only(await s.queryRollups(scope, { resolution: '1m' })), ['gw-0'], scope);
        assert.deepEqual(only(await s.queryRollups(scope, { resolution: '1h' })), ['gw-0'], scope);
        assert.deepEqual(only(await s.listDeviceHealth(scope)), ['gw-0'], scope);
        assert.deepEqual(only(await s.listGatewayHealth(scope)), ['gw-0'], scope);
        assert.deepEqual(only(await s.listDevices(scope)), ['gw-0'], scope);
        assert.deepEqual(
          (await s.listGateways(scope)).map((g) => g.id),
          ['gw-0'],
          scope,
        );
      }
      assert.deepEqual(
        (await s.listSites('pudong/z_j')).map((x) => x.path),
        ['pudong/z_j'],
      );
      assert.deepEqual(
        (await s.listGateways('pudong')).map((g) => g.id),
        ['gw-0', 'gw-1'],
      );
      assert.deepEqual(
        (await s.listGateways('pudong2')).map((g) => g.id),
        ['gw-2'],
      );
      assert.equal((await s.queryReadings('pudong', {})).length, 10);
      assert.equal((await s.queryReadings('nowhere', {})).length, 0);
      await assert.rejects(s.queryReadings('pudong/', {}), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_SCOPE'),
      );
      await assert.rejects(s.queryAlarmTransitions('PUDONG', {}), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_SCOPE'),
      );
      await assert.rejects(s.listDeviceHealth('a/b/c/d'), (e) => isDoorstepError(e, 'CLOUD_ERR_STORE_SCOPE'));
    });
  });
}
