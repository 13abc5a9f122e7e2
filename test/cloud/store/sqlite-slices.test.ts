import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
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
});
