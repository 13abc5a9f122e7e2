/**
 * SQLite write paths that touch many rows: batch ingest, rollup, retention. Each runs in one
 * `BEGIN IMMEDIATE` transaction (one writer at a time, also across processes thanks to the busy
 * timeout), so an acknowledged batch is either wholly stored or not at all; with WAL and
 * synchronous=FULL the commit is on disk before ingestBatch resolves.
 */
import type Database from 'better-sqlite3';
import type { DeviceLinkState } from '../../../protocol/index.js';
import {
  type BackgroundOptions,
  DAY_MS,
  HOUR_MS,
  inSlices,
  MINUTE_MS,
  type SliceBounds,
  SMALL_PAUSE_MS,
  whenNoneInFlight,
} from '../common.js';
import { type IngestPlan, impliedDevices, withoutImpliedOverFaulty } from '../ingest-plan.js';
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

/** Reading columns in insert order (schema v2: integer gateway, site and series ids). */
const READING_COLUMNS = 11;
/**
 * Rows per multi-row INSERT: one statement step per chunk instead of per row cuts the JS → native
 * crossings and SQLite's per-statement overhead; 128 × 11 parameters stay far below SQLite's limit.
 */
const READING_CHUNK = 128;
/** Readings per transaction of a large batch (ingestInSlices): about 5 ms of work each. */
export const BULK_SLICE = 2048;
/**
 * Rollup slices, in ids: ≈ 10 ms each. Measured on the bench machine: a 20 000-id slice over data
 * shaped like a draining gateway (1 000 series, every 10 s) takes ≈ 120 ms alone, so slices settle
 * around 1 500–2 000 ids; smaller slices touch each rollup bucket more often (more upserts per
 * reading), hence the floor.
 */
export const ROLLUP_SLICES: SliceBounds = { sliceMs: 10, start: 2_000, min: 500, max: 20_000 };
/** Retention slices, in rows deleted: ≈ 10 ms each. */
export const RETENTION_SLICES: SliceBounds = { sliceMs: 10, start: 2_000, min: 200, max: 20_000 };

/** Prepared once per connection. */
export class SqliteWriter {
  readonly #db: Database.Database;
  readonly #s: Record<string, Statement>;
  /** Multi-row reading inserts by row count (READING_CHUNK, plus the tail sizes met). */
  readonly #readingInserts = new Map<number, Statement>();
  /**
   * Dictionary ids seen committed. Dictionary rows are never deleted or changed, so a committed id
   * stays right forever, also when another process inserted it; ids created in a transaction that
   * rolls back are not cached (see #ids).
   */
  readonly #gatewayIds = new Map<string, number>();
  readonly #siteIds = new Map<string, number>();
  readonly #seriesIds = new Map<string, number>();

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
      gatewayId: db.prepare('SELECT id FROM gateway_ids WHERE gateway = ?').pluck(),
      newGatewayId: db.prepare('INSERT INTO gateway_ids (gateway) VALUES (?) RETURNING id').pluck(),
      siteId: db.prepare('SELECT id FROM site_ids WHERE path = ?').pluck(),
      newSiteId: db.prepare('INSERT INTO site_ids (path) VALUES (?) RETURNING id').pluck(),
      seriesId: db
        .prepare('SELECT id FROM series WHERE gw = ? AND device = ? AND point = ? AND unit = ?')
        .pluck(),
      newSeriesId: db
        .prepare('INSERT INTO series (gw, device, point, unit) VALUES (?, ?, ?, ?) RETURNING id')
        .pluck(),
      device: db.prepare(`INSERT INTO devices (gateway, id, site_path) VALUES (?, ?, ?)
        ON CONFLICT (gateway, id) DO UPDATE SET site_path = excluded.site_path WHERE devices.site_path <> excluded.site_path`),
      health: db.prepare(
        `INSERT INTO device_health (${DEVICE_HEALTH_COLUMNS.join(', ')}) VALUES (${q(DEVICE_HEALTH_COLUMNS.length)}) ${deviceHealthConflict()}`,
      ),
      gatewayHealth: db.prepare(gatewayHealthUpsert(SQLITE_DIALECT)),
      storedState: db.prepare('SELECT state FROM device_health WHERE gateway = ? AND device = ?').pluck(),
      watermark: db.prepare(`SELECT value FROM store_state WHERE key = 'rollup_watermark'`),
      setWatermark: db.prepare(`UPDATE store_state SET value = ? WHERE key = 'rollup_watermark'`),
      maxReadingId: db.prepare('SELECT coalesce(max(id), 0) AS id FROM readings'),
      fresh:
        db.prepare(`SELECT g.gateway, s.device, s.point, k.path AS sitePath, r.cloud_ts AS cloudTs, r.seq,
        r.value_num AS num FROM readings r JOIN series s ON s.id = r.series JOIN gateway_ids g ON g.id = r.gw
        JOIN site_ids k ON k.id = r.site WHERE r.id > ? AND r.id <= ? AND r.value_kind = 0`),
      rollup1m: db.prepare(
        `INSERT INTO rollup_1m (${ROLLUP_COLUMNS}) VALUES (${q(12)}) ${rollupConflict('rollup_1m', SQLITE_DIALECT)}`,
      ),
      rollup1h: db.prepare(
        `INSERT INTO rollup_1h (${ROLLUP_COLUMNS}) VALUES (${q(12)}) ${rollupConflict('rollup_1h', SQLITE_DIALECT)}`,
      ),
      readingSites: db.prepare('SELECT id FROM site_ids ORDER BY id').pluck(),
      deleteReadings: db.prepare(`DELETE FROM readings WHERE id IN (SELECT id FROM readings
        WHERE site = ? AND cloud_ts < ? AND (id <= ? OR value_kind <> 0) LIMIT ?)`),
      deleteMinutes: db.prepare(`DELETE FROM rollup_1m WHERE (gateway, device, point, bucket) IN
        (SELECT gateway, device, point, bucket FROM rollup_1m WHERE bucket < ? LIMIT ?)`),
    };
  }

  /**
   * A large batch is stored in slices of BULK_SLICE readings, each its own transaction, yielding to
   * the event loop between them, so that an alarm arriving meanwhile waits for one slice (a few ms),
   * not for the whole batch (~35 ms per 5 000 rows, several times per request on a busy loop); with
   * `smallInFlight` (IngestMeta) it also waits, between slices, until those requests are answered.
   * Exactly once still holds: every reading is unique by (gateway, seq), so a batch cut short by a
   * crash is completed by the gateway's resend. Durability at the acknowledgement still holds: the
   * slices commit with synchronous=NORMAL (no fsync) and the last transaction — the rest of the
   * readings, the alarms, events and health — with FULL, whose fsync of the write-ahead log covers
   * every earlier frame (SQLite WAL: a sync of the log makes all preceding commits durable).
   * The setting is restored to FULL before yielding, so nothing else ever commits without a sync.
   */
  async ingestInSlices(
    plan: IngestPlan,
    smallInFlight?: Int32Array,
    maxPauseMs = SMALL_PAUSE_MS,
  ): Promise<IngestResult> {
    if (plan.readings.length <= BULK_SLICE) return this.ingest(plan);
    let stored = 0;
    let start = 0;
    for (; start + BULK_SLICE < plan.readings.length; start += BULK_SLICE) {
      const slice = { ...plan, readings: plan.readings.slice(start, start + BULK_SLICE) };
      const fresh: Array<[Map<string, number>, string, number]> = [];
      stored += this.#unsynced(() => this.#insertReadings(slice, fresh));
      for (const [cache, key, id] of fresh) cache.set(key, id);
      await new Promise((resolve) => setImmediate(resolve));
      if (smallInFlight) await whenNoneInFlight(smallInFlight, maxPauseMs);
    }
    const result = this.ingest({ ...plan, readings: plan.readings.slice(start) });
    result.stored.telemetry += stored;
    result.duplicates.telemetry = plan.readings.length - result.stored.telemetry;
    return result;
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
    const fresh: Array<[Map<string, number>, string, number]> = [];
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
      const stored = plan.readings.length > 0 ? this.#insertReadings(plan, fresh) : 0;
      result.stored.telemetry = stored;
      result.duplicates.telemetry = plan.readings.length - stored;
      const faulty = new Set(impliedDevices(plan).filter((d) => s.storedState!.get(gateway, d) === 'faulty'));
      const patches = withoutImpliedOverFaulty(plan, faulty).patches;
      for (const [i, device] of plan.devices.entries()) {
        const p = patches[i]!;
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
    // Committed: the dictionary ids created by this batch may be cached now.
    for (const [cache, key, id] of fresh) cache.set(key, id);
    return result;
  }

  /** Looks up or creates a dictionary id; new ones go to `fresh` until the transaction commits. */
  #id(
    cache: Map<string, number>,
    key: string,
    fresh: Array<[Map<string, number>, string, number]>,
    get: () => unknown,
    create: () => unknown,
  ): number {
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    // Cached only after the commit, also when found: it may be this transaction's own insert.
    const id = ((get() as number | undefined) ?? create()) as number;
    fresh.push([cache, key, id]);
    return id;
  }

  #insertReadings(plan: IngestPlan, fresh: Array<[Map<string, number>, string, number]>): number {
    const s = this.#s;
    const gw = this.#id(
      this.#gatewayIds,
      plan.gateway,
      fresh,
      () => s.gatewayId!.get(plan.gateway),
      () => s.newGatewayId!.get(plan.gateway),
    );
    const site = this.#id(
      this.#siteIds,
      plan.sitePath,
      fresh,
      () => s.siteId!.get(plan.sitePath),
      () => s.newSiteId!.get(plan.sitePath),
    );
    const seriesIds = plan.series.map(([device, point, unit]) =>
      this.#id(
        this.#seriesIds,
        `${gw}\u0000${device}\u0000${point}\u0000${unit}`,
        fresh,
        () => s.seriesId!.get(gw, device, point, unit),
        () => s.newSeriesId!.get(gw, device, point, unit),
      ),
    );
    const readings = plan.readings;
    const offsetMs = plan.offsetMs;
    let stored = 0;
    const params: unknown[] = [];
    for (let start = 0; start < readings.length; start += READING_CHUNK) {
      const end = Math.min(readings.length, start + READING_CHUNK);
      params.length = 0;
      for (let i = start; i < end; i++) {
        const r = readings[i]!;
        params.push(gw, r.seq, site, seriesIds[r.key], r.q, r.kind, r.num, r.text, r.ts, offsetMs, r.cloudTs);
      }
      // ON CONFLICT DO NOTHING: `changes` counts the rows actually stored (duplicates = sent − stored).
      stored += this.#readingInsert(end - start).run(params).changes;
    }
    return stored;
  }

  #readingInsert(rows: number): Statement {
    let stmt = this.#readingInserts.get(rows);
    if (!stmt) {
      const row = `(${Array.from({ length: READING_COLUMNS }, () => '?').join(', ')})`;
      stmt = this.#db.prepare(`INSERT INTO readings (gw, seq, site, series, quality, value_kind, value_num,
        value_text, ts, offset_ms, cloud_ts) VALUES ${Array.from({ length: rows }, () => row).join(', ')}
        ON CONFLICT DO NOTHING`);
      this.#readingInserts.set(rows, stmt);
    }
    return stmt;
  }

  /**
   * Folds readings past the watermark in slices of ids, each its own transaction, sized to hold the
   * thread ≈ 10 ms (ROLLUP_SLICES): the connection and the event loop are shared with alarm ingest,
   * and a fixed 20 000-id chunk held them for 120–290 ms (measured under ingest load: every alarm
   * for 10 s took 300–400 ms). Between slices it yields, and waits while alarms are in flight.
   */
  rollup(options: BackgroundOptions = {}): Promise<number> {
    return inSlices((size) => this.#rollupChunk(size), ROLLUP_SLICES, options);
  }

  /**
   * Runs `fn` as one transaction committed with synchronous=NORMAL (no fsync of the log), for work
   * that is safe to lose in a crash: a bulk slice is resent (ingestInSlices), a rollup slice rolls
   * back with its watermark and is folded again, a retention slice is deleted again. With FULL, each ≈ 10 ms slice paid an fsync
   * that also flushed every unsynced bulk-ingest frame before it — during a backlog drain that cost
   * more than the slices themselves. Restored to FULL at once, so nothing else commits unsynced.
   */
  #unsynced<T>(fn: () => T): T {
    this.#db.pragma('synchronous = NORMAL');
    try {
      return this.#db.transaction(fn).immediate();
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }

  /** One chunk of rollup() in its own transaction; -1 when nothing is left to fold. */
  #rollupChunk(chunk: number): number {
    const s = this.#s;
    return this.#unsynced(() => {
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
    });
  }

  /**
   * Per site, through the (site, cloud_ts) index, in slices like rollup(): a long delete would hold
   * the write lock and the event loop against alarm ingest.
   */
  async retention(
    now: number,
    policy: { rawDays: number; minuteDays: number },
    options: BackgroundOptions = {},
  ): Promise<number> {
    const s = this.#s;
    const rawCutoff = now - policy.rawDays * DAY_MS;
    const minuteCutoff = now - policy.minuteDays * DAY_MS;
    const slice = (run: (limit: number) => number) => (limit: number) => {
      const n = this.#unsynced(() => run(limit));
      return n === 0 ? -1 : n;
    };
    let deleted = 0;
    for (const site of s.readingSites!.all() as number[]) {
      deleted += await inSlices(
        slice((limit) => {
          const wm = (s.watermark!.get() as { value: number }).value;
          return s.deleteReadings!.run(site, rawCutoff, wm, limit).changes;
        }),
        RETENTION_SLICES,
        options,
      );
    }
    deleted += await inSlices(
      slice((limit) => s.deleteMinutes!.run(minuteCutoff, limit).changes),
      RETENTION_SLICES,
      options,
    );
    return deleted;
  }
}
