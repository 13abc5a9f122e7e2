/**
 * Two cloud processes on one PostgreSQL: two PostgresCloudStore instances (separate pools) ingest
 * the same and overlapping batches at the same time. Exactly once means: the rows stored across
 * both equal the distinct rows sent, duplicates make up the rest, and no error surfaces.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IngestResult } from '../../../cloud/store/port.js';
import { PostgresCloudStore } from '../../../cloud/store/postgres/store.js';
import type { UplinkBatch } from '../../../protocol/index.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { alarm, batch, gasReadings, gateway, healthReport, readings, site, T0 } from './fixtures.js';

const A = site('pudong', 'zhangjiang', 'lane-100');
const GW = gateway('gw-a', A);
const meta = { receivedAt: T0 + 60_000, offsetMs: 0 };

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

async function twoInstances(): Promise<[PostgresCloudStore, PostgresCloudStore]> {
  const url = await cluster!.createDatabase();
  const a = new PostgresCloudStore({ url, poolSize: 6 });
  const b = new PostgresCloudStore({ url, poolSize: 6 });
  // Both migrate at once, as two instances starting together would.
  await Promise.all([a.migrate(), b.migrate()]);
  return [a, b];
}

/** Batch i: 200 readings (seq 1000i+1 …), one alarm raised and one cleared, a device event, health. */
function batchNo(i: number): UplinkBatch {
  return batch('gw-a', A, i + 1, {
    alarms: [
      {
        seq: 1000 * i + 201,
        transition: alarm('gw-a', `alarm-${String(i).padStart(4, '0')}`, 'raised', T0 + i),
      },
      {
        seq: 1000 * i + 202,
        transition: alarm('gw-a', `alarm-${String(i).padStart(4, '0')}`, 'cleared', T0 + i + 1),
      },
    ],
    events: [
      {
        seq: 1000 * i + 203,
        ts: T0 + i,
        event: {
          kind: 'device_state',
          state: { device: `gas-${i % 7}`, state: 'online', since: T0 + i, consecutiveFailures: 0 },
        },
      },
    ],
    telemetry: readings(gasReadings(1000 * i + 1, 200, 25)),
    health: healthReport(),
  });
}

const sum = (
  results: IngestResult[],
  kind: 'stored' | 'duplicates',
  cls: 'alarms' | 'events' | 'telemetry',
) => results.reduce((n, r) => n + r[kind][cls], 0);

describe('PostgreSQL: two instances ingesting concurrently', () => {
  it('stores the same 20 batches sent to both instances exactly once', async () => {
    const [a, b] = await twoInstances();
    try {
      const batches = Array.from({ length: 20 }, (_, i) => batchNo(i));
      const results = await Promise.all(
        batches.flatMap((x) => [a.ingestBatch(GW, x, meta), b.ingestBatch(GW, x, meta)]),
      );
      assert.deepEqual(await a.countRecords(), { alarms: 40, events: 20, telemetry: 4000 });
      for (const [cls, n] of [
        ['alarms', 40],
        ['events', 20],
        ['telemetry', 4000],
      ] as const) {
        assert.equal(sum(results, 'stored', cls), n, `${cls} stored`);
        assert.equal(sum(results, 'duplicates', cls), n, `${cls} duplicates`);
      }
      assert.equal(
        results.reduce((n, r) => n + r.newAlarms.length, 0),
        40,
        'each new alarm reported once',
      );
      assert.equal(
        results.reduce((n, r) => n + r.newDeviceStates.length, 0),
        20,
      );
      assert.equal(
        (await b.listGatewayHealth('pudong'))[0]?.lastBatchSeq,
        undefined,
        'gateway not registered',
      );
      await a.createGateway(GW);
      assert.equal((await b.listGatewayHealth('pudong'))[0]?.lastBatchSeq, 20);
      assert.equal(
        (await a.listDeviceHealth('pudong')).length,
        26,
        '25 gas detectors and the smoke detector',
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('stores overlapping batches and rolls up concurrently without loss or double counting', async () => {
    const [a, b] = await twoInstances();
    try {
      // Instance a gets readings 1..3000 in batches of 300, instance b 151..3150: half of each overlaps.
      const first = Array.from({ length: 10 }, (_, i) =>
        batch('gw-a', A, i + 1, { telemetry: readings(gasReadings(1 + 300 * i, 300, 9)) }),
      );
      const second = Array.from({ length: 10 }, (_, i) =>
        batch('gw-a', A, i + 1, { telemetry: readings(gasReadings(151 + 300 * i, 300, 9)) }),
      );
      const ingests = Promise.all([
        ...first.map((x) => a.ingestBatch(GW, x, meta)),
        ...second.map((x) => b.ingestBatch(GW, x, meta)),
      ]);
      // Rollups race the ingests and each other; whatever they miss, the final run folds.
      const rollups = Promise.all([a.rollup(T0), b.rollup(T0), a.rollup(T0)]);
      const [results, early] = await Promise.all([ingests, rollups]);
      assert.equal(sum(results, 'stored', 'telemetry'), 3150);
      assert.equal(sum(results, 'duplicates', 'telemetry'), 3000 - 150);
      const late = await Promise.all([a.rollup(T0), b.rollup(T0)]);
      const folded = [...early, ...late].reduce((n, r) => n + r.readings, 0);
      assert.equal(folded, 3150, 'every reading folded exactly once');
      const hours = await b.queryRollups('pudong', { resolution: '1h', limit: 10_000 });
      assert.equal(
        hours.reduce((n, r) => n + r.count, 0),
        3150,
      );
      const minutes = await a.queryRollups('pudong', { resolution: '1m', limit: 10_000 });
      assert.equal(
        minutes.reduce((n, r) => n + r.count, 0),
        3150,
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
