/**
 * SQLite write paths that touch many rows: batch ingest, rollup, retention. Each runs in one
 * `BEGIN IMMEDIATE` transaction (one writer at a time, also across processes thanks to the busy
 * timeout), so an acknowledged batch is either wholly stored or not at all; with WAL and
 * synchronous=FULL the commit is on disk before ingestBatch resolves.
 */
import type Database from 'better-sqlite3';
import type { DeviceLinkState } from '../../../protocol/index.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../common.js';
import type { IngestPlan } from '../ingest-plan.js';
import type { IngestResult } from '../port.js';
import { type FoldableReading, foldReadings } from '../rollup-fold.js';
import {
  DEVICE_HEALTH_COLUMNS,
  deviceHealthConflict,
  gatewayHealthUpsert,
  ROLLUP_COLUMNS,
  rollupConflict,
  SQLITE_DIALECT,
} from '../sql-shared.js';

type Statement = Database.Statement;

/** Prepared once per connection. */
export class SqliteWriter {
  readonly #db: Database.Database;
  readonly #s: Record<string, Statement>;

  constructor(db: Database.Database) {
    this.#db = db;
    const q = (n: number) => Array.from({ length: n }, () => '?').join(', ');
    this.#s = {
      alarm:
        db.prepare(`INSERT INTO alarm_transitions (gateway, seq, alarm_id, state, site_path, device, type, ts,
        offset_ms, cloud_ts, received_at, body) VALUES (${q(12)}) ON CONFLICT DO NOTHING`),
      event:
        db.prepare(`INSERT INTO events (gateway, seq, site_path, kind, ts, offset_ms, cloud_ts, received_at, body)
        VALUES (${q(9)}) ON CONFLICT DO NOTHING`),
      reading:
        db.prepare(`INSERT INTO readings (gateway, seq, site_path, device, point, unit, quality, value_kind,
        value_num, value_text, ts, offset_ms, cloud_ts) VALUES (${q(13)}) ON CONFLICT DO NOTHING`),
      device: db.prepare(`INSERT INTO devices (gateway, id, site_path) VALUES (?, ?, ?)
        ON CONFLICT (gateway, id) DO UPDATE SET site_path = excluded.site_path WHERE devices.site_path <> excluded.site_path`),
      health: db.prepare(
        `INSERT INTO device_health (${DEVICE_HEALTH_COLUMNS.join(', ')}) VALUES (${q(DEVICE_HEALTH_COLUMNS.length)}) ${deviceHealthConflict()}`,
      ),
      gatewayHealth: db.prepare(gatewayHealthUpsert(SQLITE_DIALECT)),
      watermark: db.prepare(`SELECT value FROM store_state WHERE key = 'rollup_watermark'`),
      setWatermark: db.prepare(`UPDATE store_state SET value = ? WHERE key = 'rollup_watermark'`),
      maxReadingId: db.prepare('SELECT coalesce(max(id), 0) AS id FROM readings'),
      fresh:
        db.prepare(`SELECT gateway, device, point, site_path AS sitePath, cloud_ts AS cloudTs, seq, value_num AS num
        FROM readings WHERE id > ? AND id <= ? AND value_kind = 0`),
      rollup1m: db.prepare(
        `INSERT INTO rollup_1m (${ROLLUP_COLUMNS}) VALUES (${q(12)}) ${rollupConflict('rollup_1m', SQLITE_DIALECT)}`,
      ),
      rollup1h: db.prepare(
        `INSERT INTO rollup_1h (${ROLLUP_COLUMNS}) VALUES (${q(12)}) ${rollupConflict('rollup_1h', SQLITE_DIALECT)}`,
      ),
      readingSite: db.prepare('INSERT INTO reading_sites (site_path) VALUES (?) ON CONFLICT DO NOTHING'),
      readingSites: db.prepare('SELECT site_path FROM reading_sites ORDER BY site_path'),
      deleteReadings: db.prepare(`DELETE FROM readings WHERE id IN (SELECT id FROM readings
        WHERE site_path = ? AND cloud_ts < ? AND (id <= ? OR value_kind <> 0) LIMIT 20000)`),
      deleteMinutes: db.prepare(`DELETE FROM rollup_1m WHERE (gateway, device, point, bucket) IN
        (SELECT gateway, device, point, bucket FROM rollup_1m WHERE bucket < ? LIMIT 20000)`),
    };
  }

  ingest(plan: IngestPlan): IngestResult {
    const s = this.#s;
    const result: IngestResult = {
      stored: { alarms: 0, events: 0, telemetry: 0 },
      duplicates: { alarms: 0, events: 0, telemetry: 0 },
      highestBatchSeq: 0,
      newAlarms: [],
      newDeviceStates: [],
    };
    const { gateway, sitePath, offsetMs, receivedAt } = plan;
    const run = this.#db.transaction(() => {
      for (const a of plan.alarms) {
        const t = a.transition;
        const info = s.alarm!.run(
          gateway,
          a.seq,
          t.id,
          t.state,
          sitePath,
          t.device,
          t.type,
          t.ts,
          offsetMs,
          a.cloudTs,
          receivedAt,
          a.body,
        );
        if (info.changes === 1) {
          result.stored.alarms++;
          result.newAlarms.push(t);
        } else result.duplicates.alarms++;
      }
      const newStates: DeviceLinkState[] = [];
      for (const e of plan.events) {
        const info = s.event!.run(
          gateway,
          e.seq,
          sitePath,
          e.kind,
          e.ts,
          offsetMs,
          e.cloudTs,
          receivedAt,
          e.body,
        );
        if (info.changes === 1) {
          result.stored.events++;
          if (e.deviceState) newStates.push(e.deviceState);
        } else result.duplicates.events++;
      }
      result.newDeviceStates = newStates;
      let stored = 0;
      for (const r of plan.readings) {
        stored += s.reading!.run(
          gateway,
          r.seq,
          sitePath,
          r.device,
          r.point,
          r.unit,
          r.q,
          r.kind,
          r.num,
          r.text,
          r.ts,
          offsetMs,
          r.cloudTs,
        ).changes;
      }
      if (plan.readings.length > 0) s.readingSite!.run(sitePath);
      result.stored.telemetry = stored;
      result.duplicates.telemetry = plan.readings.length - stored;
      for (const [i, device] of plan.devices.entries()) {
        const p = plan.patches[i]!;
        s.device!.run(gateway, device, sitePath);
        s.health!.run(
          gateway,
          device,
          p.linkState ?? 'unknown',
          p.linkReason,
          p.linkSince,
          p.lastSeen,
          p.battery,
          p.batteryTs,
          p.batteryLow === null ? null : Number(p.batteryLow),
          p.batteryLowTs,
          p.signal,
          p.signalTs,
          p.fault === null ? null : Number(p.fault),
          p.faultTs,
          receivedAt,
        );
      }
      const report = plan.report ? JSON.stringify(plan.report) : null;
      const row = s.gatewayHealth!.get(
        gateway,
        receivedAt,
        plan.batchSeq,
        report,
        report ? plan.batchSeq : null,
        receivedAt,
      ) as {
        last_batch_seq: number;
      };
      result.highestBatchSeq = row.last_batch_seq;
    });
    run.immediate();
    return result;
  }

  /** Folds readings past the watermark, in chunks of ids so that ingest is never blocked for long. */
  rollup(chunk = 100_000): number {
    const s = this.#s;
    let folded = 0;
    for (;;) {
      const n = this.#db
        .transaction(() => {
          const from = (s.watermark!.get() as { value: number }).value;
          const max = (s.maxReadingId!.get() as { id: number }).id;
          if (max <= from) return -1;
          // One writer: ids up to max(id) are all committed, so the watermark never skips a row.
          const to = Math.min(max, from + chunk);
          const rows = s.fresh!.all(from, to) as FoldableReading[];
          for (const [size, stmt] of [
            [MINUTE_MS, s.rollup1m!],
            [HOUR_MS, s.rollup1h!],
          ] as const) {
            for (const b of foldReadings(rows, size).values())
              stmt.run(
                b.gateway,
                b.device,
                b.point,
                b.bucket,
                b.sitePath,
                b.count,
                b.min,
                b.max,
                b.sum,
                b.last,
                b.lastTs,
                b.lastSeq,
              );
          }
          s.setWatermark!.run(to);
          return rows.length;
        })
        .immediate();
      if (n < 0) return folded;
      folded += n;
    }
  }

  retention(now: number, policy: { rawDays: number; minuteDays: number }): number {
    const s = this.#s;
    let deleted = 0;
    const rawCutoff = now - policy.rawDays * DAY_MS;
    const minuteCutoff = now - policy.minuteDays * DAY_MS;
    // Per site, through the (site_path, cloud_ts) index; small transactions, because a long delete
    // would hold the write lock against ingest.
    for (const { site_path } of s.readingSites!.all() as Array<{ site_path: string }>) {
      for (;;) {
        const n = this.#db
          .transaction(() => {
            const wm = (s.watermark!.get() as { value: number }).value;
            return s.deleteReadings!.run(site_path, rawCutoff, wm).changes;
          })
          .immediate();
        deleted += n;
        if (n === 0) break;
      }
    }
    for (;;) {
      const n = this.#db.transaction(() => s.deleteMinutes!.run(minuteCutoff).changes).immediate();
      deleted += n;
      if (n === 0) break;
    }
    return deleted;
  }
}
