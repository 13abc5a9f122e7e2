import type { OutboxClass, OutboxCounters } from './types.js';

/**
 * What an outbox implementation stores; the policy (caps, eviction, TTL, counters, batching) lives
 * once in OutboxEngine so SQLite and memory cannot drift apart. Backend methods other than open(),
 * checkpoint() and close() are called inside transaction().
 */
export interface OutboxBackend {
  /** Names the store in errors and logs (a file path or `memory`). */
  readonly name: string;
  open(): LoadedState;
  /** Runs `work` atomically; `durable` asks that the commit be fsynced before returning. */
  transaction<T>(work: () => T, durable: boolean): T;
  insert(seq: number, enqueuedAt: number, entry: PreparedEntry): void;
  /** Seq of the pending or quarantined row holding `key`, if any. */
  seqOfKey(key: string): number | undefined;
  /** Pending rows of `cls` with seq > afterSeq, oldest first; with their payload when `withPayload`. */
  oldest(cls: OutboxClass, limit: number, afterSeq: number, withPayload: boolean): EvictionCandidate[];
  /** Pending rows of `cls`, oldest or newest first. */
  read(cls: OutboxClass, limit: number, newestFirst: boolean): StoredRow[];
  oldestEnqueuedAt(cls: OutboxClass): number | undefined;
  /** Deletes these pending rows; returns the ones that existed. */
  remove(seqs: readonly number[]): RowRef[];
  moveToQuarantine(seqs: readonly number[], reason: string, at: number): RowRef[];
  moveFromQuarantine(seqs: readonly number[]): RowRef[];
  listQuarantine(afterSeq: number, limit: number): QuarantinedRow[];
  /** Oldest quarantined rows that are not alarms (alarms are never dropped). */
  oldestDroppableQuarantined(limit: number): RowRef[];
  removeQuarantined(seqs: readonly number[]): RowRef[];
  saveState(nextSeq: number, counters: OutboxCounters): void;
  /** Rows of the side-state table whose key starts with `prefix`. Called outside transactions too. */
  loadSideState(prefix: string): Array<{ key: string; value: string }>;
  /** Upserts and deletes side-state rows (inside the transaction that stores what they decided). */
  writeSideState(set: ReadonlyArray<{ key: string; value: string }>, remove: readonly string[]): void;
  /** True when `error` means the file system is full (SQLITE_FULL from ENOSPC). */
  isStorageFull(error: unknown): boolean;
  /**
   * Deletes the reserve file kept beside the store so a full file system has room again for
   * alarms; returns the bytes given back (0 when no reserve is held).
   */
  releaseReserve(): number;
  /** Creates the reserve file of `bytes` (real blocks, fsynced); false when there is no room. */
  restoreReserve(bytes: number): boolean;
  /** Bytes of the reserve file held now (0: released or none). */
  reserveHeld(): number;
  /** Free and total bytes of the file system holding the store; undefined in memory. */
  diskSpace(): { freeBytes: number; totalBytes: number } | undefined;
  /** Checkpoints the write-ahead log; returns frames checkpointed. */
  checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): number;
  close(): void;
}

export interface StoredRow {
  seq: number;
  cls: OutboxClass;
  ts: number;
  enqueuedAt: number;
  key: string | null;
  /** UTF-8 length of `payload`. */
  bytes: number;
  /** The entry's payload as JSON text. */
  payload: string;
}

export interface QuarantinedRow extends StoredRow {
  reason: string;
  quarantinedAt: number;
}

export interface RowRef {
  seq: number;
  cls: OutboxClass;
  bytes: number;
}

export interface EvictionCandidate {
  seq: number;
  bytes: number;
  enqueuedAt: number;
  payload?: string;
}

/** An entry checked and serialised, waiting for its seq. */
export type PreparedEntry = Omit<StoredRow, 'seq' | 'enqueuedAt'>;

export interface Aggregate {
  rows: number;
  bytes: number;
}

export interface LoadedState {
  nextSeq: number;
  /** Undefined for a new store. */
  counters: OutboxCounters | undefined;
  pending: Record<OutboxClass, Aggregate>;
  quarantined: Aggregate;
}

/** Class codes as stored (SQLite column `class`); fixed, independent of configured priorities. */
export const CLASS_CODES: Record<OutboxClass, number> = { alarm: 0, event: 1, telemetry: 2 };
export const CLASS_BY_CODE: readonly OutboxClass[] = ['alarm', 'event', 'telemetry'];
