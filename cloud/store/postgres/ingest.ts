/**
 * PostgreSQL write paths that touch many rows. Arrays go in through UNNEST: one statement and a
 * handful of bind parameters whatever the batch size (node-postgres fails past 65 535 parameters —
 * docs/stack.md). Rows are inserted in a fixed order (seq, then sorted device ids) so
 * concurrent ingests of overlapping batches take row locks in the same order; the caller retries
 * the rare deadlock or serialization failure.
 *
 * Rollup watermark: identity ids are handed out at insert time, not commit time, so "max(id)" may
 * include rows whose lower-id neighbours are still uncommitted. Every ingest that inserts readings
 * therefore holds a shared advisory lock (ROLLUP_FENCE) and rollup reads max(id) under the
 * exclusive one: at that moment no such ingest is in flight and every id ≤ max(id) is committed or
 * gone for good.
 */
import type pg from 'pg';
import type { AlarmTransition, DeviceLinkState } from '../../../protocol/index.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, whenNoneInFlight } from '../common.js';
import { type IngestPlan, impliedDevices, withoutImpliedOverFaulty } from '../ingest-plan.js';
import type { IngestResult } from '../port.js';
import {
  DEVICE_HEALTH_COLUMNS,
  deviceHealthConflict,
  gatewayHealthUpsert,
  POSTGRES_DIALECT,
  ROLLUP_COLUMNS,
  rollupConflict,
} from '../sql-shared.js';

/** Advisory lock keys (arbitrary constants, "doorstep" in ASCII-ish). */
export const LOCK = { migrate: 0x646f_0001, rollupFence: 0x646f_0002, rollup: 0x646f_0003 } as const;

const READING_CHUNK = 20_000;
/** Readings per statement when the batch should step aside for alarms (IngestMeta.smallInFlight). */
const READING_CHUNK_YIELDING = 1_000;

export async function ingestPlan(
  c: pg.PoolClient,
  plan: IngestPlan,
  smallInFlight?: Int32Array,
): Promise<IngestResult> {
  const { gateway, sitePath, offsetMs, receivedAt } = plan;
  const result: IngestResult = {
    stored: { alarms: 0, events: 0, telemetry: 0 },
    duplicates: { alarms: 0, events: 0, telemetry: 0 },
    highestBatchSeq: 0,
    newAlarms: [],
    newDeviceStates: [],
  };
  // Only ingests that insert readings take part in the fence. An alarm-only batch must not: while a
  // bulk ingest holds the shared lock, rollup's exclusive request queues, and PostgreSQL queues
  // later shared requests behind it — the alarm would wait for the bulk batch and the rollup
  // (seen: alarm stored in ~50 ms instead of ~5 ms under load).
  if (plan.readings.length > 0) await c.query('SELECT pg_advisory_xact_lock_shared($1)', [LOCK.rollupFence]);

  if (plan.alarms.length > 0) {
    const a = plan.alarms;
    const r = await c.query<{ seq: number }>(
      `INSERT INTO alarm_transitions (gateway, seq, alarm_id, state, site_path, device, type, ts, offset_ms, cloud_ts,
         received_at, body)
       SELECT $1, x.seq, x.alarm_id, x.state, $2, x.device, x.type, x.ts, $3, x.cloud_ts, $4, x.body::jsonb
       FROM unnest($5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::text[])
         WITH ORDINALITY AS x(seq, alarm_id, state, device, type, ts, cloud_ts, body, n)
       ORDER BY x.n
       ON CONFLICT DO NOTHING RETURNING seq`,
      [
        gateway,
        sitePath,
        offsetMs,
        receivedAt,
        a.map((x) => x.seq),
        a.map((x) => x.transition.id),
        a.map((x) => x.transition.state),
        a.map((x) => x.transition.device),
        a.map((x) => x.transition.type),
        a.map((x) => x.transition.ts),
        a.map((x) => x.cloudTs),
        a.map((x) => x.body),
      ],
    );
    const fresh = new Set(r.rows.map((x) => x.seq));
    const bySeq = new Map<number, AlarmTransition>(a.map((x) => [x.seq, x.transition]));
    result.newAlarms = a.filter((x) => fresh.has(x.seq)).map((x) => bySeq.get(x.seq)!);
    result.stored.alarms = fresh.size;
    result.duplicates.alarms = a.length - fresh.size;
  }

  if (plan.events.length > 0) {
    const e = plan.events;
    const r = await c.query<{ seq: number }>(
      `INSERT INTO events (gateway, seq, site_path, kind, ts, offset_ms, cloud_ts, received_at, body)
       SELECT $1, x.seq, $2, x.kind, x.ts, $3, x.cloud_ts, $4, x.body::jsonb
       FROM unnest($5::bigint[], $6::text[], $7::bigint[], $8::bigint[], $9::text[]) AS x(seq, kind, ts, cloud_ts, body)
       ORDER BY x.seq
       ON CONFLICT DO NOTHING RETURNING seq`,
      [
        gateway,
        sitePath,
        offsetMs,
        receivedAt,
        e.map((x) => x.seq),
        e.map((x) => x.kind),
        e.map((x) => x.ts),
        e.map((x) => x.cloudTs),
        e.map((x) => x.body),
      ],
    );
    const fresh = new Set(r.rows.map((x) => x.seq));
    result.newDeviceStates = e
      .filter((x) => x.deviceState && fresh.has(x.seq))
      .map((x) => x.deviceState as DeviceLinkState);
    result.stored.events = fresh.size;
    result.duplicates.events = e.length - fresh.size;
  }

  // With alarm-sized requests to let through, the readings go in smaller statements with a pause
  // between them while any is in flight: the transaction stays open (its rows lock nobody else's),
  // but this backend stops competing for the CPU and the WAL until the alarm has been stored.
  const chunk = smallInFlight ? READING_CHUNK_YIELDING : READING_CHUNK;
  for (let i = 0; i < plan.readings.length; i += chunk) {
    if (smallInFlight && i > 0) await whenNoneInFlight(smallInFlight);
    const rs = plan.readings.slice(i, i + chunk);
    const r = await c.query(
      `INSERT INTO readings (gateway, seq, site_path, device, point, unit, quality, value_kind, value_num, value_text, ts,
         offset_ms, cloud_ts)
       SELECT $1, x.seq, $2, x.device, x.point, x.unit, x.q, x.kind, x.num, x.text, x.ts, $3, x.cloud_ts
       FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::smallint[], $10::float8[],
         $11::text[], $12::bigint[], $13::bigint[]) AS x(seq, device, point, unit, q, kind, num, text, ts, cloud_ts)
       ORDER BY x.seq
       ON CONFLICT DO NOTHING`,
      [
        gateway,
        sitePath,
        offsetMs,
        rs.map((x) => x.seq),
        rs.map((x) => x.device),
        rs.map((x) => x.point),
        rs.map((x) => x.unit),
        rs.map((x) => x.q),
        rs.map((x) => x.kind),
        rs.map((x) => x.num),
        rs.map((x) => x.text),
        rs.map((x) => x.ts),
        rs.map((x) => x.cloudTs),
      ],
    );
    result.stored.telemetry += r.rowCount ?? 0;
  }
  result.duplicates.telemetry = plan.readings.length - result.stored.telemetry;
  if (plan.readings.length > 0)
    await c.query('INSERT INTO reading_sites (site_path) VALUES ($1) ON CONFLICT DO NOTHING', [sitePath]);

  if (plan.devices.length > 0) {
    await c.query(
      `INSERT INTO devices (gateway, id, site_path) SELECT $1, d, $2 FROM unnest($3::text[]) AS d ORDER BY d
       ON CONFLICT (gateway, id) DO UPDATE SET site_path = excluded.site_path WHERE devices.site_path <> excluded.site_path`,
      [gateway, sitePath, plan.devices],
    );
    const implied = impliedDevices(plan);
    const faulty = new Set<string>();
    if (implied.length > 0) {
      const stored = await c.query<{ device: string }>(
        `SELECT device FROM device_health WHERE gateway = $1 AND device = ANY($2::text[]) AND state = 'faulty'`,
        [gateway, implied],
      );
      for (const r of stored.rows) faulty.add(r.device);
    }
    const p = withoutImpliedOverFaulty(plan, faulty).patches;
    const cols = DEVICE_HEALTH_COLUMNS;
    await c.query(
      `INSERT INTO device_health (${cols.join(', ')})
       SELECT $1, x.device, coalesce(x.state, 'unknown'), x.reason, x.state_since, x.last_seen, x.battery, x.battery_ts,
         x.battery_low, x.battery_low_ts, x.signal, x.signal_ts, x.fault, x.fault_ts, $2
       FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::float8[], $9::bigint[],
         $10::boolean[], $11::bigint[], $12::float8[], $13::bigint[], $14::boolean[], $15::bigint[])
         AS x(device, state, reason, state_since, last_seen, battery, battery_ts, battery_low, battery_low_ts, signal,
              signal_ts, fault, fault_ts)
       ORDER BY x.device
       ${deviceHealthConflict()}`,
      [
        gateway,
        receivedAt,
        p.map((x) => x.device),
        p.map((x) => x.linkState),
        p.map((x) => x.linkReason),
        p.map((x) => x.linkSince),
        p.map((x) => x.lastSeen),
        p.map((x) => x.battery),
        p.map((x) => x.batteryTs),
        p.map((x) => x.batteryLow),
        p.map((x) => x.batteryLowTs),
        p.map((x) => x.signal),
        p.map((x) => x.signalTs),
        p.map((x) => x.fault),
        p.map((x) => x.faultTs),
      ],
    );
  }

  const report = plan.report ? JSON.stringify(plan.report) : null;
  const h = await c.query<{ last_batch_seq: number }>(gatewayHealthUpsert(POSTGRES_DIALECT), [
    gateway,
    receivedAt,
    plan.batchSeq,
    report,
    report ? plan.batchSeq : null,
    receivedAt,
  ]);
  result.highestBatchSeq = h.rows[0]!.last_batch_seq;
  return result;
}

/** The highest reading id with no ingest in flight (see the fence above). Own transaction. */
export async function fencedMaxReadingId(c: pg.PoolClient): Promise<number> {
  await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK.rollupFence]);
  const r = await c.query<{ id: number }>('SELECT coalesce(max(id), 0)::bigint AS id FROM readings');
  return r.rows[0]!.id;
}

const bucketExpr = (size: number) => `(cloud_ts - (((cloud_ts % ${size}) + ${size}) % ${size}))`;

function foldInto(table: 'rollup_1m' | 'rollup_1h', size: number): string {
  // `last` is the value of the row with the greatest (cloud_ts, seq), like rollup-fold.ts.
  return `INSERT INTO ${table} (${ROLLUP_COLUMNS})
    SELECT gateway, device, point, ${bucketExpr(size)} AS bucket, min(site_path), count(*), min(value_num), max(value_num),
      sum(value_num), (array_agg(value_num ORDER BY cloud_ts DESC, seq DESC))[1], max(cloud_ts),
      (array_agg(seq ORDER BY cloud_ts DESC, seq DESC))[1]
    FROM src GROUP BY gateway, device, point, bucket
    ORDER BY gateway, device, point, bucket
    ${rollupConflict(table, POSTGRES_DIALECT)}`;
}

/**
 * Folds readings with watermark < id ≤ upTo, at most `chunk` ids, under the rollup lock (two
 * instances never fold the same range). Returns the readings folded, or -1 when nothing was left.
 */
export async function foldChunk(c: pg.PoolClient, upTo: number, chunk: number): Promise<number> {
  await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK.rollup]);
  const wm = (
    await c.query<{ value: number }>(`SELECT value FROM store_state WHERE key = 'rollup_watermark'`)
  ).rows[0]!.value;
  if (upTo <= wm) return -1;
  const to = Math.min(upTo, wm + chunk);
  const r = await c.query<{ n: number }>(
    `WITH src AS MATERIALIZED (
       SELECT gateway, device, point, site_path, cloud_ts, seq, value_num FROM readings
       WHERE id > $1 AND id <= $2 AND value_kind = 0),
     m AS (${foldInto('rollup_1m', MINUTE_MS)}),
     h AS (${foldInto('rollup_1h', HOUR_MS)})
     SELECT count(*)::bigint AS n FROM src`,
    [wm, to],
  );
  await c.query(`UPDATE store_state SET value = $1 WHERE key = 'rollup_watermark'`, [to]);
  return r.rows[0]!.n;
}

export async function readingSites(c: pg.PoolClient): Promise<string[]> {
  return (
    await c.query<{ site_path: string }>('SELECT site_path FROM reading_sites ORDER BY site_path')
  ).rows.map((r) => r.site_path);
}

/**
 * One bounded delete step of retention; returns rows deleted (0 when done). Raw readings go per
 * site through the (site_path, cloud_ts) index; numeric ones not yet folded (id above the
 * watermark) stay until rollup() has them.
 */
export async function retentionStep(
  c: pg.PoolClient,
  now: number,
  policy: { rawDays: number; minuteDays: number },
  what: { site: string } | 'minute',
  limit: number,
): Promise<number> {
  if (what !== 'minute') {
    const r = await c.query(
      `DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE site_path = $1 AND cloud_ts < $2
         AND (id <= (SELECT value FROM store_state WHERE key = 'rollup_watermark') OR value_kind <> 0) LIMIT $3)`,
      [what.site, now - policy.rawDays * DAY_MS, limit],
    );
    return r.rowCount ?? 0;
  }
  const r = await c.query(
    `DELETE FROM rollup_1m WHERE (gateway, device, point, bucket) IN
       (SELECT gateway, device, point, bucket FROM rollup_1m WHERE bucket < $1 LIMIT $2)`,
    [now - policy.minuteDays * DAY_MS, limit],
  );
  return r.rowCount ?? 0;
}
