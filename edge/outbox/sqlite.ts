import { closeSync, fsyncSync, openSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DoorstepError, isDoorstepError } from '../../protocol/index.js';
import {
  type Aggregate,
  CLASS_BY_CODE,
  CLASS_CODES,
  type EvictionCandidate,
  type LoadedState,
  type OutboxBackend,
  type PreparedEntry,
  type QuarantinedRow,
  type RowRef,
  type StoredRow,
} from './backend.js';
import { OutboxEngine, type OutboxOptions } from './engine.js';
import { consecutiveRuns } from './policy.js';
import { migrate } from './sqlite-schema.js';
import type { OutboxClass, OutboxCounters } from './types.js';

export interface SqliteOutboxOptions extends OutboxOptions {
  /** Database file; `:memory:` works (no WAL) for wiring tests. */
  path: string;
  /** How long open() waits for a lock held by another process before failing (default 2000 ms). */
  busyTimeoutMs?: number;
}

/** SQLite's answer to ENOSPC (sqlite.org/rescode.html#full), also as an extended code. */
const FULL_CODES = new Set([
  'SQLITE_FULL',
  'SQLITE_IOERR_WRITE',
  'SQLITE_IOERR_FSYNC',
  'SQLITE_IOERR_TRUNCATE',
]);
const RESERVE_CHUNK = 64 * 1024;

/**
 * The gateway's outbox on better-sqlite3. Durability choices (see README):
 * - WAL, one connection for everything, locking_mode=EXCLUSIVE: one writer by construction, and a
 *   second process opening the same file fails loudly instead of corrupting the in-memory totals.
 * - synchronous=FULL for every commit (syncMode 'full') or at least every commit holding an alarm
 *   (syncMode 'alarms'): with WAL, NORMAL loses the last commits on power loss (sqlite.org/wal.html
 *   §"Performance Considerations"; docs/stack.md), so an alarm is fsynced before put() returns.
 * - Periodic PASSIVE checkpoints (engine maintenance timer) and TRUNCATE on close keep the WAL short.
 * - A reserve file (`<path>-reserve`, real zero-filled blocks) is what makes a full disk survivable:
 *   SQLite in WAL mode needs new blocks to append even a DELETE, so rows freed inside the database
 *   cannot make room once the file system is full; deleting the reserve can (README "Full disk").
 */
export class SqliteOutbox extends OutboxEngine {
  constructor(options: SqliteOutboxOptions) {
    super(new SqliteBackend(options.path, options.busyTimeoutMs ?? 2000), options);
  }
}

type Row = {
  seq: number;
  class: number;
  ts: number;
  enqueued_at: number;
  key: string | null;
  bytes: number;
  payload: string;
};
type QRow = Row & { reason: string; quarantined_at: number };
type RefRow = { seq: number; class: number; bytes: number };

class SqliteBackend implements OutboxBackend {
  readonly name: string;
  readonly #path: string;
  readonly #busyTimeoutMs: number;
  #db: Database.Database | undefined;
  #statements: ReturnType<typeof prepareStatements> | undefined;
  #runInTransaction: ((work: () => unknown) => unknown) | undefined;
  #synchronousFull = true;
  readonly #reservePath: string | undefined;

  constructor(path: string, busyTimeoutMs: number) {
    this.name = path;
    this.#path = path;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#reservePath = path === ':memory:' ? undefined : `${path}-reserve`;
  }

  open(): LoadedState {
    let db: Database.Database | undefined;
    try {
      db = new Database(this.#path, { timeout: this.#busyTimeoutMs });
      db.pragma('locking_mode = EXCLUSIVE');
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal' && this.#path !== ':memory:')
        throw new Error(`journal_mode is ${mode}, WAL unavailable`);
      db.pragma('synchronous = FULL');
      db.pragma('journal_size_limit = 67108864'); // keep a checkpointed WAL file ≤ 64 MiB
      db.pragma('cache_size = -4096'); // 4 MiB page cache: rows are appended and read back in order, a small cache suffices
      migrate(db, this.name);
      this.#statements = prepareStatements(db);
      this.#runInTransaction = db.transaction((work: () => unknown) => work());
      this.#db = db;
      this.#synchronousFull = true;
      return this.#load(this.#statements);
    } catch (error) {
      db?.close();
      this.#db = undefined;
      if (isDoorstepError(error)) throw error;
      throw new DoorstepError(
        'EDGE_ERR_OUTBOX_OPEN',
        { outbox: this.name, reason: (error as Error).message },
        { cause: error },
      );
    }
  }

  transaction<T>(work: () => T, durable: boolean): T {
    if (durable !== this.#synchronousFull) {
      this.#db!.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
      this.#synchronousFull = durable;
    }
    return this.#runInTransaction!(work) as T;
  }

  insert(seq: number, enqueuedAt: number, entry: PreparedEntry): void {
    this.#s.insert.run(
      seq,
      CLASS_CODES[entry.cls],
      entry.ts,
      enqueuedAt,
      entry.key,
      entry.bytes,
      entry.payload,
    );
  }

  seqOfKey(key: string): number | undefined {
    return this.#s.seqOfKey.get(key, key) as number | undefined;
  }

  oldest(cls: OutboxClass, limit: number, afterSeq: number, withPayload: boolean): EvictionCandidate[] {
    if (limit <= 0) return [];
    const statement = withPayload ? this.#s.oldestWithPayload : this.#s.oldest;
    return statement.all(CLASS_CODES[cls], afterSeq, limit) as EvictionCandidate[];
  }

  read(cls: OutboxClass, limit: number, newestFirst: boolean): StoredRow[] {
    if (limit <= 0) return [];
    const statement = newestFirst ? this.#s.readNewest : this.#s.readOldest;
    return (statement.all(CLASS_CODES[cls], limit) as Row[]).map(fromRow);
  }

  oldestEnqueuedAt(cls: OutboxClass): number | undefined {
    return this.#s.oldestEnqueuedAt.get(CLASS_CODES[cls]) as number | undefined;
  }

  remove(seqs: readonly number[]): RowRef[] {
    const removed: RowRef[] = [];
    // Runs of consecutive seqs contain exactly those seqs, so BETWEEN deletes nothing else.
    for (const [first, last] of consecutiveRuns(seqs)) {
      for (const row of this.#s.removeRange.all(first, last) as RefRow[]) removed.push(fromRef(row));
    }
    return removed;
  }

  moveToQuarantine(seqs: readonly number[], reason: string, at: number): RowRef[] {
    const moved: RowRef[] = [];
    for (const seq of new Set(seqs)) {
      const row = this.#s.takePending.get(seq) as Row | undefined;
      if (!row) continue;
      const s = this.#s;
      s.insertQuarantine.run(
        row.seq,
        row.class,
        row.ts,
        row.enqueued_at,
        row.key,
        row.bytes,
        row.payload,
        reason,
        at,
      );
      moved.push(fromRef(row));
    }
    return moved;
  }

  moveFromQuarantine(seqs: readonly number[]): RowRef[] {
    const moved: RowRef[] = [];
    for (const seq of new Set(seqs)) {
      const row = this.#s.takeQuarantined.get(seq) as QRow | undefined;
      if (!row) continue;
      this.#s.insert.run(row.seq, row.class, row.ts, row.enqueued_at, row.key, row.bytes, row.payload);
      moved.push(fromRef(row));
    }
    return moved;
  }

  listQuarantine(afterSeq: number, limit: number): QuarantinedRow[] {
    return (this.#s.listQuarantine.all(afterSeq, limit) as QRow[]).map((row) => ({
      ...fromRow(row),
      reason: row.reason,
      quarantinedAt: row.quarantined_at,
    }));
  }

  oldestDroppableQuarantined(limit: number): RowRef[] {
    return (this.#s.oldestDroppableQuarantined.all(limit) as RefRow[]).map(fromRef);
  }

  removeQuarantined(seqs: readonly number[]): RowRef[] {
    const removed: RowRef[] = [];
    for (const seq of new Set(seqs)) {
      const row = this.#s.removeQuarantined.get(seq) as RefRow | undefined;
      if (row) removed.push(fromRef(row));
    }
    return removed;
  }

  saveState(nextSeq: number, counters: OutboxCounters): void {
    this.#s.saveState.run(nextSeq, JSON.stringify(counters));
  }

  loadSideState(prefix: string): Array<{ key: string; value: string }> {
    // Keys are compared as text: every key in [prefix, prefix + U+FFFF) starts with prefix.
    return this.#s.loadSideState.all(prefix, `${prefix}\uffff`) as Array<{ key: string; value: string }>;
  }

  writeSideState(set: ReadonlyArray<{ key: string; value: string }>, remove: readonly string[]): void {
    for (const key of remove) this.#s.deleteSideState.run(key);
    for (const { key, value } of set) this.#s.upsertSideState.run(key, value);
  }

  isStorageFull(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === 'string' && (FULL_CODES.has(code) || code === 'ENOSPC');
  }

  releaseReserve(): number {
    const held = this.reserveHeld();
    if (this.#reservePath === undefined || held === 0) return 0;
    try {
      unlinkSync(this.#reservePath);
      return held;
    } catch {
      return 0;
    }
  }

  restoreReserve(bytes: number): boolean {
    const path = this.#reservePath;
    if (path === undefined) return false;
    if (this.reserveHeld() >= bytes) return true;
    let fd: number | undefined;
    try {
      // Zeros written, not a sparse truncate: the blocks must really be taken from the file system.
      fd = openSync(path, 'w', 0o600);
      const chunk = Buffer.alloc(RESERVE_CHUNK);
      for (let written = 0; written < bytes; ) {
        const n = Math.min(RESERVE_CHUNK, bytes - written);
        written += writeSync(fd, chunk, 0, n);
      }
      fsyncSync(fd);
      return true;
    } catch {
      // No room for all of it: hold none (a partial reserve would only look like one).
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
      return false;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  reserveHeld(): number {
    if (this.#reservePath === undefined) return 0;
    try {
      return statSync(this.#reservePath).size;
    } catch {
      return 0;
    }
  }

  diskSpace(): { freeBytes: number; totalBytes: number } | undefined {
    if (this.#reservePath === undefined) return undefined;
    try {
      const fs = statfsSync(dirname(this.#path));
      return { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
    } catch {
      return undefined;
    }
  }

  checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): number {
    if (!this.#db || this.#path === ':memory:') return 0;
    const [result] = this.#db.pragma(`wal_checkpoint(${mode})`) as Array<{ checkpointed: number }>;
    return Math.max(0, result?.checkpointed ?? 0);
  }

  close(): void {
    this.#db?.close();
    this.#db = undefined;
    this.#statements = undefined;
    this.#runInTransaction = undefined;
  }

  get #s(): ReturnType<typeof prepareStatements> {
    return this.#statements!;
  }

  #load(s: ReturnType<typeof prepareStatements>): LoadedState {
    const pending = { alarm: zero(), event: zero(), telemetry: zero() } as Record<OutboxClass, Aggregate>;
    for (const row of s.pendingTotals.all() as Array<{ class: number; rows: number; bytes: number }>) {
      const cls = CLASS_BY_CODE[row.class];
      if (cls) pending[cls] = { rows: row.rows, bytes: row.bytes };
    }
    const quarantined = s.quarantineTotals.get() as Aggregate;
    const state = s.loadState.get() as { next_seq: number; counters: string | null; max_seq: number };
    return {
      // Never reuse a seq: take the larger of the saved counter and anything present.
      nextSeq: Math.max(state.next_seq, state.max_seq + 1),
      counters: state.counters === null ? undefined : (JSON.parse(state.counters) as OutboxCounters),
      pending,
      quarantined,
    };
  }
}

function prepareStatements(db: Database.Database) {
  const columns = 'seq, class, ts, enqueued_at, key, bytes, payload';
  return {
    insert: db.prepare(`INSERT INTO entries (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    seqOfKey: db
      .prepare(
        'SELECT seq FROM entries WHERE key = ? UNION ALL SELECT seq FROM quarantine WHERE key = ? LIMIT 1',
      )
      .pluck(),
    oldest: db.prepare(
      'SELECT seq, bytes, enqueued_at AS enqueuedAt FROM entries WHERE class = ? AND seq > ? ORDER BY seq LIMIT ?',
    ),
    oldestWithPayload: db.prepare(
      'SELECT seq, bytes, enqueued_at AS enqueuedAt, payload FROM entries WHERE class = ? AND seq > ? ORDER BY seq LIMIT ?',
    ),
    readOldest: db.prepare(`SELECT ${columns} FROM entries WHERE class = ? ORDER BY seq LIMIT ?`),
    readNewest: db.prepare(`SELECT ${columns} FROM entries WHERE class = ? ORDER BY seq DESC LIMIT ?`),
    oldestEnqueuedAt: db
      .prepare('SELECT enqueued_at FROM entries WHERE class = ? ORDER BY seq LIMIT 1')
      .pluck(),
    removeRange: db.prepare('DELETE FROM entries WHERE seq BETWEEN ? AND ? RETURNING seq, class, bytes'),
    takePending: db.prepare(`DELETE FROM entries WHERE seq = ? RETURNING ${columns}`),
    insertQuarantine: db.prepare(
      `INSERT INTO quarantine (${columns}, reason, quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    takeQuarantined: db.prepare(
      `DELETE FROM quarantine WHERE seq = ? RETURNING ${columns}, reason, quarantined_at`,
    ),
    listQuarantine: db.prepare(
      `SELECT ${columns}, reason, quarantined_at FROM quarantine WHERE seq > ? ORDER BY seq LIMIT ?`,
    ),
    oldestDroppableQuarantined: db.prepare(
      `SELECT seq, class, bytes FROM quarantine WHERE class != ${CLASS_CODES.alarm} ORDER BY seq LIMIT ?`,
    ),
    removeQuarantined: db.prepare('DELETE FROM quarantine WHERE seq = ? RETURNING seq, class, bytes'),
    saveState: db.prepare('UPDATE outbox_state SET next_seq = ?, counters = ? WHERE id = 1'),
    loadSideState: db.prepare('SELECT key, value FROM side_state WHERE key >= ? AND key < ? ORDER BY key'),
    upsertSideState: db.prepare(
      'INSERT INTO side_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    deleteSideState: db.prepare('DELETE FROM side_state WHERE key = ?'),
    pendingTotals: db.prepare(
      'SELECT class, count(*) AS rows, coalesce(sum(bytes), 0) AS bytes FROM entries GROUP BY class',
    ),
    quarantineTotals: db.prepare('SELECT count(*) AS rows, coalesce(sum(bytes), 0) AS bytes FROM quarantine'),
    loadState: db.prepare(
      `SELECT next_seq, counters, max(coalesce((SELECT max(seq) FROM entries), 0),
              coalesce((SELECT max(seq) FROM quarantine), 0)) AS max_seq
       FROM outbox_state WHERE id = 1`,
    ),
  };
}

function fromRow(row: Row): StoredRow {
  return {
    seq: row.seq,
    cls: classOf(row.class),
    ts: row.ts,
    enqueuedAt: row.enqueued_at,
    key: row.key,
    bytes: row.bytes,
    payload: row.payload,
  };
}

function fromRef(row: RefRow): RowRef {
  return { seq: row.seq, cls: classOf(row.class), bytes: row.bytes };
}

function classOf(code: number): OutboxClass {
  const cls = CLASS_BY_CODE[code];
  if (!cls) throw new Error(`outbox row has unknown class code ${code}`);
  return cls;
}

function zero(): Aggregate {
  return { rows: 0, bytes: 0 };
}
