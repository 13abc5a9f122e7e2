/** Contract part: rollups (values, idempotence, late readings) and retention (alarms kept). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractContext } from './contract.js';
import { alarm, batch, gateway, readings, site, T0 } from './fixtures.js';

const A = site('pudong', 'zhangjiang', 'lane-100');
const GW = gateway('gw-a', A);
const DAY = 86_400_000;
const H0 = T0 - (T0 % 3_600_000); // the hour T0 falls in

export function maintenanceContract(ctx: ContractContext): void {
  describe('rollups', () => {
    it('folds numeric readings into 1-minute and 1-hour buckets on cloud time, once', async () => {
      const s = ctx.store();
      // offset 1000: cloud time = ts − 1000, so ts T0+1000 lands at T0, the start of a minute.
      const meta = { receivedAt: T0 + DAY, offsetMs: 1000 };
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 1, {
          telemetry: readings([
            { seq: 1, device: 'gas-1', point: 'gas', value: 3, ts: T0 + 1000 },
            { seq: 2, device: 'gas-1', point: 'gas', value: 9, ts: T0 + 31_000 },
            { seq: 3, device: 'gas-1', point: 'gas', value: 6, ts: T0 + 60_999 },
            { seq: 4, device: 'gas-1', point: 'gas', value: 1, ts: T0 + 61_000 },
            { seq: 5, device: 'door-1', point: 'door_open', value: true, ts: T0 + 1000 },
            { seq: 6, device: 'gas-1', point: 'fault_text', value: 'x', ts: T0 + 1000 },
          ]),
        }),
        meta,
      );
      assert.deepEqual(await s.rollup(T0 + DAY), { readings: 4 });
      const minute = await s.queryRollups('pudong', { resolution: '1m' });
      const base = { gateway: 'gw-a', device: 'gas-1', point: 'gas' };
      assert.deepEqual(minute, [
        { ...base, bucket: T0, count: 3, min: 3, max: 9, avg: 6, last: 6 },
        { ...base, bucket: T0 + 60_000, count: 1, min: 1, max: 1, avg: 1, last: 1 },
      ]);
      const hour = await s.queryRollups('pudong', { resolution: '1h' });
      assert.deepEqual(hour, [{ ...base, bucket: H0, count: 4, min: 1, max: 9, avg: 19 / 4, last: 1 }]);

      // Idempotent: running again (also twice at once) folds nothing new.
      assert.deepEqual(await Promise.all([s.rollup(T0 + DAY), s.rollup(T0 + DAY)]), [
        { readings: 0 },
        { readings: 0 },
      ]);
      assert.deepEqual(await s.queryRollups('pudong', { resolution: '1m' }), minute);

      // A late reading into an already rolled-up minute merges into it; `last` follows cloud time.
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 2, {
          telemetry: readings([
            { seq: 7, device: 'gas-1', point: 'gas', value: 12, ts: T0 + 11_000 },
            { seq: 8, device: 'gas-1', point: 'gas', value: 0, ts: T0 + 2_000 },
          ]),
        }),
        meta,
      );
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 2, {
          telemetry: readings([{ seq: 7, device: 'gas-1', point: 'gas', value: 12, ts: T0 + 11_000 }]),
        }),
        meta,
      );
      assert.deepEqual(await s.rollup(T0 + DAY), { readings: 2 });
      const [first] = await s.queryRollups('pudong', {
        resolution: '1m',
        device: 'gas-1',
        from: T0,
        to: T0 + 60_000,
      });
      assert.deepEqual(first, { ...base, bucket: T0, count: 5, min: 0, max: 12, avg: 30 / 5, last: 6 });
      assert.equal((await s.queryRollups('pudong', { resolution: '1m', point: 'door_open' })).length, 0);
      assert.equal((await s.queryRollups('pudong', { resolution: '1h', gateway: 'gw-b' })).length, 0);
      assert.equal((await s.queryRollups('pudong', { resolution: '1m', limit: 1 })).length, 1);
    });
  });

  describe('retention', () => {
    it('deletes old raw readings and 1-minute rollups, never alarms or hourly rollups', async () => {
      const s = ctx.store();
      const old = T0;
      const now = T0 + 40 * DAY;
      const meta = { receivedAt: now, offsetMs: 0 };
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 1, {
          alarms: [{ seq: 1, transition: alarm('gw-a', 'alarm-0001', 'raised', old) }],
          telemetry: readings([
            { seq: 2, device: 'gas-1', point: 'gas', value: 1, ts: old },
            { seq: 3, device: 'door-1', point: 'door_open', value: true, ts: old },
            { seq: 4, device: 'gas-1', point: 'gas', value: 2, ts: now - DAY },
          ]),
        }),
        meta,
      );
      await s.rollup(now);
      // Ingested after the rollup: old but not yet folded, so retention keeps it for the next rollup.
      await s.ingestBatch(
        GW,
        batch('gw-a', A, 2, {
          telemetry: readings([{ seq: 5, device: 'gas-1', point: 'gas', value: 7, ts: old + 5 }]),
        }),
        meta,
      );
      const { deleted } = await s.applyRetention(now, { rawDays: 30, minuteDays: 7 });
      assert.equal(deleted, 3, 'two raw readings and one 1-minute rollup');
      assert.deepEqual(
        (await s.queryReadings('pudong', {})).map((r) => r.seq),
        [5, 4],
      );
      assert.deepEqual(
        (await s.queryRollups('pudong', { resolution: '1m' })).map((r) => r.bucket),
        [now - DAY - ((now - DAY) % 60_000)],
      );
      assert.equal((await s.queryRollups('pudong', { resolution: '1h' })).length, 2);
      assert.equal((await s.queryAlarmTransitions('pudong', {})).length, 1);
      await s.rollup(now);
      assert.equal(
        (await s.applyRetention(now, { rawDays: 30, minuteDays: 7 })).deleted,
        2,
        'folded, then deleted',
      );
      assert.equal((await s.countRecords()).alarms, 1);
      // A replay of a batch whose readings were deleted by retention stores them again; the
      // gateway deletes acknowledged rows long before any retention period, so this is accepted.
    });
  });
}
