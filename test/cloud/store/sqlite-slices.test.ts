import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { planIngest } from '../../../cloud/store/ingest-plan.js';
import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import { BULK_SLICE, SqliteWriter } from '../../../cloud/store/sqlite/ingest.js';
import { SqliteCloudStore } from '../../../cloud/store/sqlite/store.js';
import { tempDir } from '../../support/tmp.js';
import { alarm, batch, gasReadings, gateway, readings, site, T0 } from './fixtures.js';

/**
 * Large batches are stored in slices (cloud/store/sqlite/ingest.ts, ingestInSlices) so that alarms can
 * overtake them: the counts, the exactly-once guarantee and what an alarm in the same batch does
 * must be the same as for a batch stored in one transaction.
 */
describe('SQLite store: large batches in slices', () => {
  const dir = tempDir('doorstep-cloud-slices-');
  after(() => dir.dispose());
  const at = site('pudong', 'zhangjiang', 'lane-100');
  const gw = gateway('gw-slices', at);

  it('stores a 7 000-reading batch once, counts a resend and an overlapping batch exactly', async () => {
    const store = new SqliteCloudStore({ path: join(dir.path, 'cloud.db') });
    await store.migrate();
    await store.createGateway(gw);
    try {
      const first = batch(gw.id, at, 1, {
        alarms: [{ seq: 1, transition: alarm(gw.id, 'gw-slices.smoke-1.smoke.1', 'raised', T0) }],
        telemetry: readings(gasReadings(2, 7000)),
      });
      const a = await store.ingestBatch(gw, first, { receivedAt: T0, offsetMs: 0 });
      assert.deepEqual(
        [a.stored, a.duplicates],
        [
          { alarms: 1, events: 0, telemetry: 7000 },
          { alarms: 0, events: 0, telemetry: 0 },
        ],
      );
      assert.equal(a.newAlarms.length, 1);
      const again = await store.ingestBatch(gw, first, { receivedAt: T0 + 1, offsetMs: 0 });
      assert.deepEqual(
        [again.stored, again.duplicates],
        [
          { alarms: 0, events: 0, telemetry: 0 },
          { alarms: 1, events: 0, telemetry: 7000 },
        ],
      );
      // seqs 5 002 … 12 001: the first 2 000 were stored already
      const overlap = batch(gw.id, at, 2, { telemetry: readings(gasReadings(5002, 7000)) });
      const b = await store.ingestBatch(gw, overlap, { receivedAt: T0 + 2, offsetMs: 0 });
      assert.deepEqual([b.stored.telemetry, b.duplicates.telemetry], [5000, 2000]);
      assert.deepEqual(await store.countRecords(gw.id), { alarms: 1, events: 0, telemetry: 12_000 });
    } finally {
      await store.close();
    }
  });

  it('pauses between slices while an alarm-sized request is in flight, and stores it meanwhile', async () => {
    const store = new SqliteCloudStore({ path: join(dir.path, 'pause.db') });
    await store.migrate();
    await store.createGateway(gw);
    try {
      const handle = store.handle();
      assert.ok(handle.kind === 'sqlite');
      const writer = new SqliteWriter(handle.db);
      const meta = { receivedAt: T0, offsetMs: 0 };
      const big = batch(gw.id, at, 1, { telemetry: readings(gasReadings(1, 7000)) });
      const small = new Int32Array(new SharedArrayBuffer(4));
      Atomics.store(small, 0, 1);
      let settled = false;
      const bulk = writer.ingestInSlices(planIngest(gw, big, meta), small, 60_000).finally(() => {
        settled = true;
      });
      const stored = async () => (await store.countRecords(gw.id)).telemetry;
      for (let i = 0; i < 200 && (await stored()) < BULK_SLICE; i++)
        await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(await stored(), BULK_SLICE, 'one slice committed, then paused');
      assert.equal(settled, false);
      // The alarm is not held up by the paused batch (no transaction is open).
      const alarmBatch = batch(gw.id, at, 2, {
        alarms: [{ seq: 9001, transition: alarm(gw.id, 'gw-slices.smoke-2.smoke.1', 'raised', T0) }],
      });
      const a = await store.ingestBatch(gw, alarmBatch, meta);
      assert.equal(a.stored.alarms, 1);
      // Answered: the batch goes on.
      Atomics.store(small, 0, 0);
      Atomics.notify(small, 0);
      const r = await bulk;
      assert.equal(r.stored.telemetry, 7000);
      assert.equal(await stored(), 7000);

      // Never starved: with small requests in flight for ever, it still finishes (short pauses).
      Atomics.store(small, 0, 1);
      const next = batch(gw.id, at, 3, { telemetry: readings(gasReadings(7001, 5000)) });
      const n = await writer.ingestInSlices(planIngest(gw, next, meta), small, 1);
      assert.equal(n.stored.telemetry, 5000);
    } finally {
      await store.close();
    }
  });

  it('rolls up in slices to the same rollups as one pass, waiting for alarms in flight', async () => {
    const store = new SqliteCloudStore({ path: join(dir.path, 'rollup.db') });
    const reference = new MemoryCloudStore();
    await store.migrate();
    try {
      // 30 000 readings, one a second over 5 devices: every 1-minute and 1-hour bucket is split
      // across slices (ROLLUP_SLICES: ≈ 2 000 ids each), so their merges are what is compared.
      for (const s of [store, reference]) {
        await s.createGateway(gw);
        for (let b = 0; b < 6; b++) {
          const telemetry = readings(gasReadings(1 + b * 5_000, 5_000));
          await s.ingestBatch(gw, batch(gw.id, at, b + 1, { telemetry }), { receivedAt: T0, offsetMs: 0 });
        }
      }
      const small = new Int32Array(new SharedArrayBuffer(4));
      Atomics.store(small, 0, 1);
      const rolling = store.rollup(T0, { smallInFlight: small });
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(
        (await store.queryRollups('pudong', { resolution: '1h' })).length,
        0,
        'waits for the alarm',
      );
      Atomics.store(small, 0, 0);
      Atomics.notify(small, 0);
      assert.deepEqual(await rolling, { readings: 30_000 });
      assert.deepEqual(await reference.rollup(T0), { readings: 30_000 });
      for (const resolution of ['1m', '1h'] as const) {
        const got = await store.queryRollups('pudong', { resolution, limit: 50_000 });
        assert.equal(got.length, resolution === '1m' ? 2_501 : 45);
        // Sums are added up in another order across slices: averages agree to the last bits of a double.
        const rounded = (rows: typeof got) => rows.map((r) => ({ ...r, avg: Number(r.avg.toPrecision(12)) }));
        const want = await reference.queryRollups('pudong', { resolution, limit: 50_000 });
        assert.deepEqual(rounded(got), rounded(want));
      }
    } finally {
      await store.close();
    }
  });
});
