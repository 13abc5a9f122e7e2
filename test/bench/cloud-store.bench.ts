// Cloud store ingest throughput and alarm latency, SQLite (file, WAL, synchronous=FULL) and
// PostgreSQL 15 (throwaway cluster with fsync ON: durable commits, as in production; the WAL sizing
// cloud/store/README.md recommends, WAL pre-allocated as on a cluster that has been running).
// Load: batches of 5 000 readings from 20 gateways × 100 devices × 5 points (gas, pressure,
// battery, signal, fault), values moving, sequential seqs per gateway — what an uplink delivers.
// Targets (brief): ≥ 100 000 readings/s on SQLite, ≥ 50 000 on PostgreSQL; an alarm batch
// ingested while that load runs is stored (ingestBatch resolved) within 50 ms at p99, measured from
// the moment it was due (so time spent waiting behind a telemetry batch counts).
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import type { CloudStore, GatewayRecord } from '../../cloud/store/port.js';
import { PostgresCloudStore } from '../../cloud/store/postgres/store.js';
import { SqliteCloudStore } from '../../cloud/store/sqlite/store.js';
import { packTelemetry, type UplinkBatch } from '../../protocol/index.js';
import { alarm, batch, site } from '../cloud/store/fixtures.js';
import { RECOMMENDED_WAL_SETTINGS, startPostgres } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';
import { report } from './report.js';

const BATCH = 5_000;
const GATEWAYS = 20;
const T0 = 1_700_000_000_000;
const POINTS = [
  ['gas', '%LEL'],
  ['pressure', 'MPa'],
  ['battery', '%'],
  ['signal', 'dBm'],
  ['fault', ''],
] as const;

const gateways: GatewayRecord[] = Array.from({ length: GATEWAYS }, (_, g) => ({
  id: `gw-${g}`,
  site: site('pudong', `town-${g % 4}`, `lane-${g}`),
  status: 'active',
  createdAt: T0,
}));
const nextSeq = new Map<string, number>();
const nextBatch = new Map<string, number>();

function telemetryBatch(gw: GatewayRecord): UplinkBatch {
  const seq0 = nextSeq.get(gw.id) ?? 1;
  nextSeq.set(gw.id, seq0 + BATCH);
  const batchSeq = (nextBatch.get(gw.id) ?? 0) + 1;
  nextBatch.set(gw.id, batchSeq);
  const rows = Array.from({ length: BATCH }, (_, i) => {
    const n = seq0 + i;
    const [point, unit] = POINTS[n % POINTS.length]!;
    const value = point === 'fault' ? n % 97 === 0 : Math.round(Math.sin(n / 50) * 1000) / 100 + 10;
    return {
      seq: n,
      device: `dev-${Math.floor(n / POINTS.length) % 100}`,
      point,
      unit,
      value,
      quality: 'good' as const,
      ts: T0 + n * 200,
    };
  });
  return batch(gw.id, gw.site, batchSeq, { telemetry: packTelemetry(rows) });
}

let alarmNo = 0;
function alarmBatch(gw: GatewayRecord): UplinkBatch {
  const seq = nextSeq.get(gw.id) ?? 1;
  nextSeq.set(gw.id, seq + 1);
  const batchSeq = (nextBatch.get(gw.id) ?? 0) + 1;
  nextBatch.set(gw.id, batchSeq);
  const id = `alarm-bench-${++alarmNo}`;
  return batch(gw.id, gw.site, batchSeq, {
    alarms: [{ seq, transition: alarm(gw.id, id, 'raised', T0 + seq) }],
  });
}

const meta = () => ({ receivedAt: Date.now(), offsetMs: 0 });
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

/** Throughput: `total` readings in batches, `parallel` ingests in flight (one gateway each). */
async function throughput(store: CloudStore, total: number, parallel: number): Promise<number> {
  const batches = Array.from({ length: total / BATCH }, (_, i) => telemetryBatch(gateways[i % GATEWAYS]!));
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < batches.length) {
        const b = batches[next++]!;
        const r = await store.ingestBatch(gateways.find((g) => g.id === b.gateway)!, b, meta());
        if (r.stored.telemetry !== BATCH) throw new Error(`stored ${r.stored.telemetry} of ${BATCH}`);
      }
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

/**
 * Alarm latency while telemetry ingest keeps the store busy: `loadBatches` prebuilt 5 000-reading
 * batches (built before timing, so the generator's CPU does not count) are ingested `parallel` at a
 * time; meanwhile one alarm batch is due every 20 ms until the load is done.
 */
async function alarmLatency(
  store: CloudStore,
  parallel: number,
  loadBatches: number,
  cooperative = false,
): Promise<number[]> {
  // cooperative: as `doorstep cloud` runs it — the ingest service counts alarm-sized requests in
  // flight (cloud/ingest/bulk-gate.ts) and hands the counter to bulk ingests (IngestMeta.smallInFlight).
  const smallInFlight = new Int32Array(new SharedArrayBuffer(4));
  const loadMeta = () => (cooperative ? { ...meta(), smallInFlight } : meta());
  // A gateway has one batch in flight at a time (edge uplink), so alarms come from gateways 0–4 in
  // turn and the telemetry load from gateways 5–19.
  const load = Array.from({ length: loadBatches }, (_, i) =>
    telemetryBatch(gateways[5 + (i % (GATEWAYS - 5))]!),
  );
  const alarms = Array.from({ length: loadBatches * 10 }, (_, i) => alarmBatch(gateways[i % 5]!));
  let next = 0;
  let done = false;
  const loading = Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < load.length) {
        const b = load[next++]!;
        await store.ingestBatch(gateways.find((g) => g.id === b.gateway)!, b, loadMeta());
        await yieldLoop();
      }
    }),
  ).then(() => {
    done = true;
  });
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; !done && i < alarms.length; i++) {
    const due = started + i * 20;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (cooperative) Atomics.add(smallInFlight, 0, 1);
    pending.push(
      store
        .ingestBatch(gateways[i % 5]!, alarms[i]!, meta())
        .then((r) => {
          if (r.stored.alarms !== 1) throw new Error('alarm not stored');
          latencies.push(performance.now() - due);
        })
        .finally(() => {
          if (cooperative && Atomics.sub(smallInFlight, 0, 1) === 1) Atomics.notify(smallInFlight, 0);
        }),
    );
  }
  await Promise.all([...pending, loading]);
  return latencies;
}

async function sqlite(): Promise<void> {
  const dir = tempDir('doorstep-bench-cloud-');
  const store = new SqliteCloudStore({ path: join(dir.path, 'cloud.db') });
  try {
    await store.migrate();
    await throughput(store, 20_000, 1); // warm-up
    const rate = await throughput(store, 200_000, 1);
    report({
      name: 'cloud store SQLite ingest',
      value: Math.round(rate),
      unit: 'readings/s',
      target: 100_000,
      comparator: '>=',
      note: `batches of ${BATCH}, WAL, synchronous=FULL, 2 secondary indexes`,
    });
    const lat = await alarmLatency(store, 1, 60);
    report({
      name: 'cloud store SQLite alarm stored p99 under ingest load',
      value: pct(lat, 99),
      unit: 'ms',
      target: 50,
      comparator: '<=',
      note: `${lat.length} alarms, p50 ${pct(lat, 50).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms; waits behind the 5 000-reading transaction in progress`,
    });
  } finally {
    await store.close();
    dir.dispose();
  }
}

async function postgres(): Promise<void> {
  const cluster = await startPostgres({ durable: true, settings: RECOMMENDED_WAL_SETTINGS });
  const store = new PostgresCloudStore({ url: await cluster.createDatabase('bench'), poolSize: 8 });
  try {
    // More than this run writes (≈ 1 GB of WAL), so no segment is created mid-measurement.
    await cluster.preallocateWal(2 * 2 ** 30);
    await store.migrate();
    await throughput(store, 20_000, 2); // warm-up
    for (const parallel of [1, 4]) {
      const rate = await throughput(store, 200_000, parallel);
      report({
        name: `cloud store PostgreSQL ingest, ${parallel} in flight`,
        value: Math.round(rate),
        unit: 'readings/s',
        target: 50_000,
        comparator: '>=',
        note: `batches of ${BATCH} via UNNEST, fsync on, 2 secondary indexes`,
      });
    }
    for (const cooperative of [false, true]) {
      const lat = await alarmLatency(store, 4, 80, cooperative);
      report({
        name: `cloud store PostgreSQL alarm stored p99 under ingest load${cooperative ? ', bulk pausing for alarms' : ''}`,
        value: pct(lat, 99),
        unit: 'ms',
        target: 50,
        comparator: '<=',
        note: `${lat.length} alarms, p50 ${pct(lat, 50).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms; 4 telemetry ingests in flight${cooperative ? ' given IngestMeta.smallInFlight, as the ingest service does' : ', not told about the alarms'}`,
      });
    }
  } finally {
    await store.close();
    await cluster.stop();
  }
}

await sqlite();
await postgres();
