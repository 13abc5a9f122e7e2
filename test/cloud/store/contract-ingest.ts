/** Contract part: exactly-once ingest (new vs duplicate counting, replays, overlaps, reordering, alarms). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandTelemetry, isDoorstepError } from '../../../protocol/index.js';
import type { ContractContext } from './contract.js';
import { alarm, batch, gasReadings, gateway, readings, site, T0 } from './fixtures.js';

const A = site('pudong', 'zhangjiang', 'lane-100');
const GW = gateway('gw-a', A);
const meta = (offsetMs = 0) => ({ receivedAt: T0 + 3_600_000, offsetMs });

export function ingestContract(ctx: ContractContext): void {
  describe('ingest', () => {
    it('counts new and duplicate rows; a replay stores nothing', async () => {
      const s = ctx.store();
      await s.createGateway(GW);
      const b = batch('gw-a', A, 1, {
        alarms: [{ seq: 1, transition: alarm('gw-a', 'alarm-0001', 'raised', T0) }],
        events: [{ seq: 2, ts: T0, event: { kind: 'command_result', id: 'cmd-1', ok: true } }],
        telemetry: readings(gasReadings(3, 50)),
      });
      const first = await s.ingestBatch(GW, b, meta());
      assert.deepEqual(first.stored, { alarms: 1, events: 1, telemetry: 50 });
      assert.deepEqual(first.duplicates, { alarms: 0, events: 0, telemetry: 0 });
      assert.equal(first.highestBatchSeq, 1);
      assert.deepEqual(first.newAlarms, [b.alarms[0]!.transition]);
      const again = await s.ingestBatch(GW, b, meta());
      assert.deepEqual(again.stored, { alarms: 0, events: 0, telemetry: 0 });
      assert.deepEqual(again.duplicates, { alarms: 1, events: 1, telemetry: 50 });
      assert.deepEqual(again.newAlarms, []);
      assert.deepEqual(await s.countRecords('gw-a'), { alarms: 1, events: 1, telemetry: 50 });
      assert.deepEqual(await s.countRecords(), { alarms: 1, events: 1, telemetry: 50 });
      assert.deepEqual(await s.countRecords('gw-other'), { alarms: 0, events: 0, telemetry: 0 });
    });

    it('stores overlapping and reordered batches exactly once', async () => {
      const s = ctx.store();
      const r2 = await s.ingestBatch(
        GW,
        batch('gw-a', A, 2, { telemetry: readings(gasReadings(51, 100)) }),
        meta(),
      );
      assert.equal(r2.highestBatchSeq, 2);
      const r1 = await s.ingestBatch(
        GW,
        batch('gw-a', A, 1, { telemetry: readings(gasReadings(1, 100)) }),
        meta(),
      );
      assert.deepEqual(r1.stored.telemetry, 50);
      assert.deepEqual(r1.duplicates.telemetry, 50);
      assert.equal(r1.highestBatchSeq, 2, 'an older batch does not lower the high-water mark');
      const r3 = await s.ingestBatch(
        GW,
        batch('gw-a', A, 3, { telemetry: readings(gasReadings(140, 20)) }),
        meta(),
      );
      assert.deepEqual([r3.stored.telemetry, r3.duplicates.telemetry, r3.highestBatchSeq], [9, 11, 3]);
      assert.equal((await s.countRecords('gw-a')).telemetry, 159);
      const rows = await s.queryReadings('pudong', { limit: 1000 });
      assert.deepEqual(
        rows.map((r) => r.seq),
        Array.from({ length: 159 }, (_, i) => i + 1),
      );
    });

    it('stores an alarm transition once per (id, state), whatever its seq', async () => {
      const s = ctx.store();
      const raised = alarm('gw-a', 'alarm-0001', 'raised', T0);
      const r1 = await s.ingestBatch(
        GW,
        batch('gw-a', A, 1, { alarms: [{ seq: 1, transition: raised }] }),
        meta(),
      );
      assert.equal(r1.stored.alarms, 1);
      // The same transition re-sent under a new seq (e.g. re-queued after an outbox rebuild).
      const cleared = alarm('gw-a', 'alarm-0001', 'cleared', T0 + 5000, { value: false });
      const r2 = await s.ingestBatch(
        GW,
        batch('gw-a', A, 2, {
          alarms: [
            { seq: 7, transition: raised },
            { seq: 8, transition: cleared },
            { seq: 9, transition: { ...cleared, ts: T0 + 6000 } },
          ],
        }),
        meta(),
      );
      assert.deepEqual([r2.stored.alarms, r2.duplicates.alarms], [1, 2]);
      assert.deepEqual(r2.newAlarms, [cleared]);
      const stored = await s.queryAlarmTransitions('pudong', { alarm: 'alarm-0001' });
      assert.deepEqual(
        stored.map((a) => [a.state, a.seq]),
        [
          ['raised', 1],
          ['cleared', 8],
        ],
      );
      // (gateway, seq) is unique too: another transition under an already-used seq is a duplicate.
      const r3 = await s.ingestBatch(
        GW,
        batch('gw-a', A, 3, { alarms: [{ seq: 1, transition: alarm('gw-a', 'alarm-0002', 'raised', T0) }] }),
        meta(),
      );
      assert.deepEqual([r3.stored.alarms, r3.duplicates.alarms], [0, 1]);
      assert.equal((await s.countRecords()).alarms, 2);
    });

    it('round-trips telemetry and alarms with the applied clock offset', async () => {
      const s = ctx.store();
      const specs = [
        { seq: 1, device: 'gas-1', point: 'gas', value: 12.5, unit: '%LEL', ts: T0 + 10 },
        { seq: 2, device: 'door-1', point: 'door_open', value: true, ts: T0 + 20 },
        {
          seq: 3,
          device: 'door-1',
          point: 'door_open',
          value: false,
          ts: T0 + 30,
          quality: 'uncertain' as const,
        },
        {
          seq: 4,
          device: 'gas-1',
          point: 'fault_text',
          value: 'sensor ✗ 老化',
          ts: T0 + 5,
          quality: 'bad' as const,
        },
        { seq: 5, device: 'gas-1', point: 'gas', value: -0.25, unit: '%LEL', ts: T0 + 40 },
      ];
      const tel = readings(specs)!;
      const b = batch('gw-a', A, 1, {
        telemetry: tel,
        alarms: [
          {
            seq: 6,
            transition: alarm('gw-a', 'alarm-0009', 'raised', T0 + 50, { message: '烟感报警', value: 1 }),
          },
        ],
      });
      await s.ingestBatch(GW, b, meta(-2000));
      const rows = await s.queryReadings('pudong/zhangjiang', {});
      const expected = expandTelemetry(b.telemetry!).map((r) => ({
        gateway: 'gw-a',
        site: A,
        device: r.device,
        point: r.point,
        value: r.value,
        unit: r.unit,
        quality: r.quality,
        ts: r.ts,
        cloudTs: r.ts + 2000,
        seq: r.seq,
      }));
      assert.deepEqual(
        rows,
        expected.sort((x, y) => x.cloudTs - y.cloudTs),
      );
      const [a] = await s.queryAlarmTransitions('pudong', {});
      assert.deepEqual(a, {
        ...b.alarms[0]!.transition,
        site: A,
        seq: 6,
        receivedAt: meta().receivedAt,
        offsetMs: -2000,
      });
      // Filters and ranges (from inclusive, to exclusive, on cloud time) and limits.
      const gas = await s.queryReadings('pudong', { device: 'gas-1', point: 'gas' });
      assert.deepEqual(
        gas.map((r) => r.value),
        [12.5, -0.25],
      );
      const ranged = await s.queryReadings('pudong', { from: T0 + 2020, to: T0 + 2040 });
      assert.deepEqual(
        ranged.map((r) => r.seq),
        [2, 3],
      );
      assert.deepEqual(
        (await s.queryReadings('pudong', { limit: 2 })).map((r) => r.seq),
        [4, 1],
      );
      assert.equal((await s.queryReadings('pudong', { gateway: 'gw-z' })).length, 0);
      assert.equal((await s.queryAlarmTransitions('pudong', { type: 'gas_high' })).length, 0);
      assert.equal((await s.queryAlarmTransitions('pudong', { device: 'smoke-1', to: T0 + 2050 })).length, 0);
      assert.equal((await s.queryAlarmTransitions('pudong', { device: 'smoke-1', to: T0 + 2051 })).length, 1);
    });

    it('stores a batch of 12 000 readings (past the bind-parameter limit) exactly once', async () => {
      const s = ctx.store();
      const big = batch('gw-a', A, 1, { telemetry: readings(gasReadings(1, 12_000, 40)) });
      assert.equal((await s.ingestBatch(GW, big, meta())).stored.telemetry, 12_000);
      const again = await s.ingestBatch(GW, big, meta());
      assert.deepEqual([again.stored.telemetry, again.duplicates.telemetry], [0, 12_000]);
      assert.equal((await s.countRecords()).telemetry, 12_000);
    });

    it('rejects records naming another gateway and changes nothing', async () => {
      const s = ctx.store();
      const foreign = batch('gw-b', A, 1, { telemetry: readings(gasReadings(1, 3)) });
      await assert.rejects(s.ingestBatch(GW, foreign, meta()), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_GATEWAY_MISMATCH'),
      );
      const spoofed = batch('gw-a', A, 1, {
        telemetry: readings(gasReadings(1, 3)),
        alarms: [{ seq: 9, transition: alarm('gw-b', 'alarm-0001', 'raised', T0) }],
      });
      await assert.rejects(s.ingestBatch(GW, spoofed, meta()), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_GATEWAY_MISMATCH'),
      );
      assert.deepEqual(await s.countRecords(), { alarms: 0, events: 0, telemetry: 0 });
    });

    // Registered only for adapters whose storage outlives the instance (not memory).
    if (ctx.persistent)
      it('keeps everything across close and reopen, and migrate() is idempotent', async () => {
        assert.ok(ctx.reopen, 'a persistent harness has reopen()');
        let s = ctx.store();
        await s.migrate();
        await s.createGateway(GW);
        const b = batch('gw-a', A, 4, {
          alarms: [{ seq: 1, transition: alarm('gw-a', 'alarm-0001', 'raised', T0) }],
          telemetry: readings(gasReadings(2, 10)),
        });
        await s.ingestBatch(GW, b, meta());
        s = await ctx.reopen(s);
        await s.migrate();
        assert.deepEqual(await s.getGateway('gw-a'), GW);
        assert.deepEqual(await s.countRecords(), { alarms: 1, events: 0, telemetry: 10 });
        const again = await s.ingestBatch(GW, b, meta());
        assert.deepEqual(again.stored, { alarms: 0, events: 0, telemetry: 0 });
        assert.equal(again.highestBatchSeq, 4);
      });

    it('refuses every call after close()', async () => {
      const s = ctx.store();
      await s.close();
      await assert.rejects(s.countRecords(), (e) => isDoorstepError(e, 'CLOUD_ERR_STORE_CLOSED'));
      await assert.rejects(s.getGateway('gw-a'), (e) => isDoorstepError(e, 'CLOUD_ERR_STORE_CLOSED'));
    });
  });
}
