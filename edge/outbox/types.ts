import type { AlarmTransition, Reading } from '../../protocol/index.js';

/**
 * The outbox's narrow port (docs/architecture.md: "narrow ports with one shared contract suite"). Everything the
 * gateway produces waits here until the cloud acknowledged it (invariants 3 and 5). The uplink is
 * the only consumer: nextBatch() → send → ack(batch.seqs); a batch it does not acknowledge simply
 * comes again from the next nextBatch(). A batch the cloud rejects as malformed goes to quarantine()
 * so it never blocks what follows (docs/field-lessons.md complaint 7).
 *
 * Every call is synchronous: better-sqlite3 is, and an alarm must be on disk when put() returns.
 */
export interface Outbox {
  /** Creates/migrates the store and starts the maintenance timer. Opening an open outbox is a no-op. */
  open(): void;
  /**
   * Stores entries atomically (all or none) and enforces caps; alarms are durable when it returns.
   * `state` rows commit in the same transaction (the rule state that decided the alarms: one
   * transaction per decision). On a full file system (see README "Full disk") an alarm or state
   * change uses the reserve and throws only if even that failed (the caller retries); telemetry and
   * events then replace the oldest telemetry or are refused, counted as `storage_full`.
   */
  put(entries: readonly OutboxEntry[], state?: SideStateChange): PutResult;
  /** Side-state rows whose key starts with `prefix` (e.g. the rule engine's `rule/`). */
  loadSideState(prefix: string): Array<{ key: string; value: string }>;
  /**
   * Seq of the pending or quarantined row holding `key` (e.g. `alarm:{id}:raised`), undefined once
   * the cloud acknowledged it (or it never got in). The gateway modem asks whether the cloud has an alarm.
   */
  seqOfKey(key: string): number | undefined;
  /** Reads the next batch: classes by priority (alarm first), oldest first within a class. Read-only apart from TTL expiry. */
  nextBatch(options?: BatchOptions): OutboxBatch;
  /** Removes exactly these pending rows (the cloud has them); unknown seqs are ignored. Returns rows removed. */
  ack(seqs: readonly number[]): number;
  /** Moves pending rows to quarantine (kept, counted, listed; never sent again unless requeued). Returns rows moved. */
  quarantine(seqs: readonly number[], reason: string): number;
  /** Lists quarantined rows in seq order, `afterSeq` exclusive, for operators and diagnostics. */
  listQuarantine(options?: { afterSeq?: number; limit?: number }): QuarantinedRecord[];
  /** Moves quarantined rows back to pending, with their original seq (e.g. after a cloud fix). Returns rows moved. */
  requeue(seqs: readonly number[]): number;
  /** Expires entries past their TTL and checkpoints the WAL; the maintenance timer calls it. */
  maintain(): MaintenanceResult;
  stats(): OutboxStats;
  /** Checkpoints and closes; closing a closed outbox is a no-op. */
  close(): void;
}

/** alarm > event > telemetry (GB 26875.1-2011 §4.1.2.3: a fire alarm pre-empts every other transmission). */
export const OUTBOX_CLASSES = ['alarm', 'event', 'telemetry'] as const;
export type OutboxClass = (typeof OUTBOX_CLASSES)[number];

/**
 * Why a row left the outbox without an ack (or never got in). `quarantine_cap`: quarantine over its
 * own cap. `storage_full`: the file system was full and the row, among the oldest, made room for a
 * newer one. `storage_refused`: a telemetry/event entry put while the file system was full found
 * nothing older to replace and was never stored.
 */
export const DROP_REASONS = [
  'cap',
  'ttl',
  'downsample',
  'quarantine_cap',
  'storage_full',
  'storage_refused',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Something the gateway reports that is neither a reading nor an alarm transition (health, link state, commands done). */
export type OutboxEvent = { readonly kind: string } & Readonly<Record<string, unknown>>;

interface EntryBase {
  /** Producer's timestamp, ms since the epoch (gateway clock). */
  ts: number;
  /**
   * Identity for de-duplication: while a row with the same key is pending or quarantined, a put of
   * that key stores nothing and returns the existing seq. Alarms default to `alarm:{id}:{state}`
   * ((id, state) is unique per protocol/alarm.ts); other classes have no default.
   */
  key?: string;
}
export type OutboxEntry =
  | (EntryBase & { class: 'alarm'; payload: AlarmTransition })
  | (EntryBase & { class: 'event'; payload: OutboxEvent })
  | (EntryBase & { class: 'telemetry'; payload: Reading });

/** A stored entry as read back: the entry plus its seq and when it was put (outbox clock). */
export type OutboxRecord = OutboxEntry & { seq: number; enqueuedAt: number };

export type QuarantinedRecord = OutboxRecord & { reason: string; quarantinedAt: number };

export interface BatchOptions {
  /** Most rows in one batch (default 500). */
  maxRows?: number;
  /** Most payload bytes in one batch (default 1 MiB); a batch always holds at least one row. */
  maxBytes?: number;
  /** 'newest-first' sends live telemetry before backlog; alarms and events are always oldest first. */
  telemetryOrder?: 'oldest-first' | 'newest-first';
}

export interface OutboxBatch {
  records: OutboxRecord[];
  /** The seqs to pass to ack() once the cloud acknowledged the batch. */
  seqs: number[];
  /** Sum of the records' payload bytes (UTF-8 JSON). */
  bytes: number;
}

export type DropCounts = Record<OutboxClass, Record<DropReason, number>>;

export interface PutResult {
  /**
   * One seq per entry, in input order; a duplicate gets the seq of the row it duplicates; 0 for an
   * entry refused because the file system is full.
   */
  seqs: number[];
  accepted: number;
  duplicates: number;
  /** Telemetry/event entries refused on a full file system (also counted as dropped `storage_refused`). */
  refused: number;
  /** Rows this put evicted to stay within caps. */
  dropped: DropCounts;
  /** True when alarms were accepted while the alarm class or the store was over its cap. */
  alarmsOverCap: boolean;
}

/** Rows of small state committed together with a put (see Outbox.put). */
export interface SideStateChange {
  set: ReadonlyArray<{ key: string; value: string }>;
  remove: readonly string[];
  /**
   * true (default): the state decides something (rule state) — the put is fsynced and never
   * refused on a full disk. false: bookkeeping that rides along with telemetry and shares its fate.
   */
  critical?: boolean;
}

/** The file system under the store, as the outbox last saw it. */
export interface StorageStats {
  /** A write failed for lack of space and the reserve is not back yet. */
  full: boolean;
  /** When the current full episode began (outbox clock). */
  fullSince: number | undefined;
  /** Free bytes for unprivileged writers (statfs f_bavail × f_bsize); undefined in memory. */
  freeBytes: number | undefined;
  totalBytes: number | undefined;
  /** Configured reserve and the part of it held on disk right now. */
  reserveBytes: number;
  reserveHeld: number;
  /** Transactions that failed for lack of space since open (each was retried or counted). */
  writeFailures: number;
}

export interface MaintenanceResult {
  expired: DropCounts;
  /** WAL frames checkpointed (0 for the in-memory implementation). */
  checkpointedFrames: number;
}

export interface ClassStats {
  rows: number;
  bytes: number;
  /** enqueuedAt of the oldest pending row: how far behind the uplink is. */
  oldestEnqueuedAt: number | undefined;
  capRows: number;
  capBytes: number;
  overCap: boolean;
}

export interface OutboxStats {
  pending: Record<OutboxClass, ClassStats>;
  /** Pending rows and bytes over all classes (checked against the store cap). */
  totalRows: number;
  totalBytes: number;
  storeOverCap: boolean;
  quarantined: { rows: number; bytes: number };
  storage: StorageStats;
  /** Persisted, monotone counters since the file was created. */
  counters: OutboxCounters;
  /** The seq the next accepted entry gets. */
  nextSeq: number;
}

export interface OutboxCounters {
  accepted: number;
  duplicates: number;
  acked: number;
  quarantined: number;
  requeued: number;
  /** Alarm rows accepted while the alarm class or the store was over its cap (alarms are never dropped). */
  alarmsAcceptedOverCap: number;
  dropped: DropCounts;
}

export function emptyDropCounts(): DropCounts {
  const counts = {} as DropCounts;
  for (const cls of OUTBOX_CLASSES) {
    counts[cls] = { cap: 0, ttl: 0, downsample: 0, quarantine_cap: 0, storage_full: 0, storage_refused: 0 };
  }
  return counts;
}

export function emptyCounters(): OutboxCounters {
  return {
    accepted: 0,
    duplicates: 0,
    acked: 0,
    quarantined: 0,
    requeued: 0,
    alarmsAcceptedOverCap: 0,
    dropped: emptyDropCounts(),
  };
}

/** A clock in ms since the epoch; injected so tests drive TTL with a virtual clock. */
export interface Clock {
  now(): number;
}

/** Interval timers, injected so tests control the maintenance timer. */
export interface IntervalScheduler {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}
