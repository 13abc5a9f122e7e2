import type { Logger } from '../../common/log.js';
import { DoorstepError } from '../../protocol/index.js';
import { faultPoint } from '../fault.js';
import type { OutboxBackend, PreparedEntry } from './backend.js';
import { type OutboxConfig, type OutboxConfigInput, resolveOutboxConfig } from './config.js';
import { prepareEntry, toQuarantinedRecord, toRecord } from './entry.js';
import { add, addDrops, CapPolicy, type LiveState, liveState, subtract, total } from './eviction.js';
import {
  type BatchOptions,
  type Clock,
  type DropCounts,
  emptyDropCounts,
  type IntervalScheduler,
  type MaintenanceResult,
  OUTBOX_CLASSES,
  type Outbox,
  type OutboxBatch,
  type OutboxEntry,
  type OutboxRecord,
  type OutboxStats,
  type PutResult,
  type QuarantinedRecord,
  type SideStateChange,
  type StorageStats,
} from './types.js';

export interface OutboxOptions {
  config?: OutboxConfigInput;
  clock?: Clock;
  /** Runs maintain() every config.maintenanceIntervalMs; defaults to Node's timers (unref'd). */
  scheduler?: IntervalScheduler;
  logger?: Logger;
}

const DEFAULT_BATCH_ROWS = 500;
/** How often (at most) the file system is looked at while the reserve is not fully held. */
const STORAGE_CHECK_MS = 1000;
/** Rows of the oldest telemetry deleted to free pages when even a decision could not be written. */
const FREE_PAGES_ROWS = 256;
const MiB = 1024 * 1024;
const DEFAULT_BATCH_BYTES = 1024 * 1024;

const realScheduler: IntervalScheduler = {
  setInterval: (callback, ms) => {
    const handle = setInterval(callback, ms);
    handle.unref();
    return handle;
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/**
 * The outbox policy over any backend: seqs, caps and eviction, TTL, quarantine, counters and batch
 * assembly. In-memory totals mirror the store (loaded on open, updated in each transaction, restored
 * if a transaction fails) so caps cost no COUNT(*) per put. One engine per store: one writer.
 */
export class OutboxEngine implements Outbox {
  readonly #backend: OutboxBackend;
  readonly #config: Readonly<OutboxConfig>;
  readonly #clock: Clock;
  readonly #scheduler: IntervalScheduler;
  readonly #logger: Logger | undefined;
  readonly #caps: CapPolicy;
  #state: LiveState | undefined;
  #timer: unknown;
  readonly #storage = {
    full: false,
    fullSince: undefined as number | undefined,
    writeFailures: 0,
    checkedAt: Number.NEGATIVE_INFINITY,
    enabled: false,
  };

  constructor(backend: OutboxBackend, options: OutboxOptions = {}) {
    this.#backend = backend;
    this.#config = resolveOutboxConfig(options.config);
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#scheduler = options.scheduler ?? realScheduler;
    this.#logger = options.logger?.child({ svc: 'outbox', outbox: backend.name });
    this.#caps = new CapPolicy(backend, this.#config);
  }

  get config(): Readonly<OutboxConfig> {
    return this.#config;
  }

  open(): void {
    if (this.#state) return;
    this.#state = liveState(this.#backend.open());
    this.#storage.enabled = this.#config.reserveBytes > 0 && this.#backend.diskSpace() !== undefined;
    this.#storage.full = false;
    this.#storage.checkedAt = Number.NEGATIVE_INFINITY;
    if (this.#storage.enabled && this.#backend.reserveHeld() < this.#config.reserveBytes) {
      if (!this.#backend.restoreReserve(this.#config.reserveBytes)) {
        // No room even for the reserve: start as if a write had failed (telemetry must not grow).
        this.#storage.full = true;
        this.#storage.fullSince = this.#clock.now();
        this.#logger?.error(
          { reserveBytes: this.#config.reserveBytes, disk: this.#backend.diskSpace() },
          'file system full at open: no reserve for alarms; telemetry replaces its oldest rows',
        );
      }
    }
    this.#timer = this.#scheduler.setInterval(
      () => this.#maintainSafely(),
      this.#config.maintenanceIntervalMs,
    );
    this.#logger?.info({ pending: this.#state.pending, nextSeq: this.#state.nextSeq }, 'outbox open');
  }

  put(entries: readonly OutboxEntry[], state?: SideStateChange): PutResult {
    this.#requireOpen();
    const prepared = entries.map((entry, index) => prepareEntry(entry, index, this.#config.maxEntryBytes));
    const stateRows = (state?.set.length ?? 0) + (state?.remove.length ?? 0);
    if (prepared.length === 0 && stateRows === 0) {
      return {
        seqs: [],
        accepted: 0,
        duplicates: 0,
        refused: 0,
        dropped: emptyDropCounts(),
        alarmsOverCap: false,
      };
    }
    // A decision: alarms, or the state that decided them. Never refused, always fsynced.
    const decision =
      (stateRows > 0 && state?.critical !== false) || prepared.some((entry) => entry.cls === 'alarm');
    const durable = this.#config.syncMode === 'full' || decision;
    this.#checkStorage();
    if (!this.#storage.full) {
      try {
        return this.#store(prepared, state, durable, decision, false);
      } catch (error) {
        if (!this.#backend.isStorageFull(error)) throw error;
        this.#onStorageFull(error);
      }
    }
    try {
      return this.#storeWhileFull(prepared, state, durable, decision);
    } catch (error) {
      if (!this.#backend.isStorageFull(error)) throw error;
      this.#storage.writeFailures++;
      if (!decision) return this.#refuse(prepared);
      // Last resort before handing the failure to the caller (who retries the decision): free pages.
      this.#freePages();
      return this.#storeWhileFull(prepared, state, durable, decision);
    }
  }

  seqOfKey(key: string): number | undefined {
    this.#requireOpen();
    return this.#backend.seqOfKey(key);
  }

  loadSideState(prefix: string): Array<{ key: string; value: string }> {
    this.#requireOpen();
    return this.#backend.loadSideState(prefix);
  }

  #store(
    prepared: readonly PreparedEntry[],
    sideState: SideStateChange | undefined,
    durable: boolean,
    decision: boolean,
    full: boolean,
  ): PutResult {
    return this.#transaction(durable, (state) => {
      const now = this.#clock.now();
      const dropped = emptyDropCounts();
      let admitted = prepared;
      if (full) {
        // The disk is full: nothing may grow the store into the room kept for alarms. Telemetry and
        // events go in only in place of older telemetry/events; alarms go in regardless.
        const others = prepared.filter((entry) => entry.cls !== 'alarm');
        const otherBytes = others.reduce((sum, entry) => sum + entry.bytes, 0);
        const replaceable = state.pending.telemetry.bytes + state.pending.event.bytes;
        if (others.length > 0 && otherBytes > replaceable) {
          admitted = prepared.filter((entry) => entry.cls === 'alarm');
          for (const entry of others) dropped[entry.cls].storage_refused++;
        }
        const bytes = admitted.reduce((sum, entry) => sum + entry.bytes, 0);
        this.#caps.makeRoom(state, admitted.length, bytes, dropped);
      }
      const seqs: number[] = [];
      let accepted = 0;
      let alarms = 0;
      let duplicates = 0;
      for (const entry of prepared) {
        if (!admitted.includes(entry)) {
          seqs.push(0);
          continue;
        }
        const existing = entry.key === null ? undefined : this.#backend.seqOfKey(entry.key);
        if (existing !== undefined) {
          seqs.push(existing);
          duplicates++;
          continue;
        }
        const seq = state.nextSeq++;
        this.#backend.insert(seq, now, entry);
        add(state.pending[entry.cls], entry);
        seqs.push(seq);
        accepted++;
        if (entry.cls === 'alarm') alarms++;
      }
      if (sideState && (decision || admitted.length > 0))
        this.#backend.writeSideState(sideState.set, sideState.remove);
      this.#caps.enforceCaps(state, dropped);
      const alarmsOverCap =
        alarms > 0 && (this.#caps.classOverCap(state, 'alarm') || this.#caps.storeOverCap(state));
      if (alarmsOverCap) {
        state.counters.alarmsAcceptedOverCap += alarms;
        this.#logger?.warn({ alarms, pending: state.pending }, 'outbox over cap: alarms accepted beyond it');
      }
      state.counters.accepted += accepted;
      state.counters.duplicates += duplicates;
      addDrops(state.counters.dropped, dropped);
      this.#backend.saveState(state.nextSeq, state.counters);
      if (alarms > 0) faultPoint('decision:before-commit');
      const refused = prepared.length - admitted.length;
      return { seqs, accepted, duplicates, refused, dropped, alarmsOverCap };
    });
  }

  /** A write while the file system is full; afterwards the WAL is checkpointed so it is reused, not grown. */
  #storeWhileFull(
    prepared: readonly PreparedEntry[],
    sideState: SideStateChange | undefined,
    durable: boolean,
    decision: boolean,
  ): PutResult {
    const result = this.#store(prepared, sideState, durable, decision, true);
    this.#checkpointQuietly();
    if (result.refused > 0)
      this.#logger?.warn(
        { refused: result.refused },
        'file system full: rows refused (counted as storage_refused)',
      );
    return result;
  }

  /** Nothing could be written: the entries are counted as dropped (persisted with the next write). */
  #refuse(prepared: readonly PreparedEntry[]): PutResult {
    const dropped = emptyDropCounts();
    for (const entry of prepared) dropped[entry.cls].storage_refused++;
    addDrops(this.#requireOpen().counters.dropped, dropped);
    this.#logger?.warn(
      { rows: prepared.length },
      'file system full: rows refused (counted as storage_refused)',
    );
    return {
      seqs: prepared.map(() => 0),
      accepted: 0,
      duplicates: 0,
      refused: prepared.length,
      dropped,
      alarmsOverCap: false,
    };
  }

  #onStorageFull(error: unknown): void {
    this.#storage.writeFailures++;
    if (this.#storage.full) return;
    this.#storage.full = true;
    this.#storage.fullSince = this.#clock.now();
    this.#storage.checkedAt = this.#clock.now();
    const released = this.#backend.releaseReserve();
    this.#logger?.error(
      { err: error, reserveReleased: released, disk: this.#backend.diskSpace() },
      'file system full: reserve released for alarms; telemetry now replaces its oldest rows',
    );
  }

  /** Deletes a page's worth of the oldest telemetry and checkpoints, so pages can be reused. */
  #freePages(): void {
    try {
      this.#transaction(false, (state) => {
        const dropped = emptyDropCounts();
        this.#caps.makeRoom(state, FREE_PAGES_ROWS, 0, dropped);
        addDrops(state.counters.dropped, dropped);
        this.#backend.saveState(state.nextSeq, state.counters);
      });
    } catch (error) {
      this.#logger?.debug({ err: error }, 'could not free pages on a full file system');
    }
    this.#checkpointQuietly();
  }

  #checkpointQuietly(): void {
    try {
      this.#backend.checkpoint('PASSIVE');
    } catch (error) {
      this.#logger?.debug({ err: error }, 'checkpoint failed on a full file system');
    }
  }

  /**
   * While the reserve is not fully held (at most once a second): once the file system has room for
   * the reserve and as much again, write the reserve back and leave the full state.
   */
  #checkStorage(): void {
    const storage = this.#storage;
    if (!storage.enabled) return;
    const reserve = this.#config.reserveBytes;
    if (!storage.full && this.#backend.reserveHeld() >= reserve) return;
    const now = this.#clock.now();
    if (now - storage.checkedAt < STORAGE_CHECK_MS) return;
    storage.checkedAt = now;
    const free = this.#backend.diskSpace()?.freeBytes ?? 0;
    if (free < reserve + Math.max(reserve, MiB)) return;
    if (!this.#backend.restoreReserve(reserve)) return;
    if (storage.full) {
      this.#logger?.warn(
        { fullForMs: now - (storage.fullSince ?? now), freeBytes: free },
        'file system has room again: reserve restored, telemetry grows again',
      );
    }
    storage.full = false;
    storage.fullSince = undefined;
  }

  nextBatch(options: BatchOptions = {}): OutboxBatch {
    this.#requireOpen();
    const maxRows = positiveInteger(options.maxRows, DEFAULT_BATCH_ROWS, 'maxRows');
    const maxBytes = positiveInteger(options.maxBytes, DEFAULT_BATCH_BYTES, 'maxBytes');
    this.#expireIfDue();
    const records: OutboxRecord[] = [];
    const unreadable: Array<{ seq: number; reason: string }> = [];
    let bytes = 0;
    let full = false;
    for (const cls of this.#caps.classesByPriority()) {
      if (full) break;
      const newestFirst = cls === 'telemetry' && options.telemetryOrder === 'newest-first';
      for (const row of this.#backend.read(cls, maxRows - records.length, newestFirst)) {
        if (records.length > 0 && bytes + row.bytes > maxBytes) {
          full = true;
          break;
        }
        try {
          records.push(toRecord(row));
          bytes += row.bytes;
        } catch (error) {
          // One unreadable row must never block sync (docs/field-lessons.md complaint 7): set it aside.
          unreadable.push({ seq: row.seq, reason: `unreadable payload: ${(error as Error).message}` });
        }
      }
      if (records.length >= maxRows) full = true;
    }
    for (const { seq, reason } of unreadable) this.quarantine([seq], reason);
    return { records, seqs: records.map((record) => record.seq), bytes };
  }

  ack(seqs: readonly number[]): number {
    this.#requireOpen();
    const valid = seqs.filter((seq) => Number.isSafeInteger(seq));
    if (valid.length === 0) return 0;
    // Durable only in 'full' mode: an ack lost to power loss only resends rows the cloud stores idempotently.
    const remove = () =>
      this.#transaction(this.#config.syncMode === 'full', (state) => {
        const removed = this.#backend.remove(valid);
        for (const ref of removed) subtract(state.pending[ref.cls], ref);
        state.counters.acked += removed.length;
        this.#backend.saveState(state.nextSeq, state.counters);
        return removed.length;
      });
    this.#checkStorage();
    try {
      return remove();
    } catch (error) {
      // Deleting needs WAL room too: release the reserve and try once more; if that fails the rows
      // stay (the cloud stores them once however often they are resent) and the caller is told.
      if (!this.#backend.isStorageFull(error)) throw error;
      this.#onStorageFull(error);
      const removed = remove();
      this.#checkpointQuietly();
      return removed;
    }
  }

  quarantine(seqs: readonly number[], reason: string): number {
    this.#requireOpen();
    const valid = seqs.filter((seq) => Number.isSafeInteger(seq));
    if (valid.length === 0) return 0;
    return this.#transaction(this.#config.syncMode === 'full', (state) => {
      const moved = this.#backend.moveToQuarantine(valid, String(reason).slice(0, 1024), this.#clock.now());
      for (const ref of moved) {
        subtract(state.pending[ref.cls], ref);
        add(state.quarantined, ref);
      }
      state.counters.quarantined += moved.length;
      this.#caps.enforceQuarantineCap(state);
      this.#backend.saveState(state.nextSeq, state.counters);
      if (moved.length > 0) this.#logger?.warn({ rows: moved.length, reason }, 'outbox rows quarantined');
      return moved.length;
    });
  }

  listQuarantine(options: { afterSeq?: number; limit?: number } = {}): QuarantinedRecord[] {
    this.#requireOpen();
    const limit = positiveInteger(options.limit, 100, 'limit');
    return this.#backend.listQuarantine(options.afterSeq ?? 0, limit).map(toQuarantinedRecord);
  }

  requeue(seqs: readonly number[]): number {
    this.#requireOpen();
    const valid = seqs.filter((seq) => Number.isSafeInteger(seq));
    if (valid.length === 0) return 0;
    return this.#transaction(this.#config.syncMode === 'full', (state) => {
      const moved = this.#backend.moveFromQuarantine(valid);
      for (const ref of moved) {
        subtract(state.quarantined, ref);
        add(state.pending[ref.cls], ref);
      }
      state.counters.requeued += moved.length;
      const dropped = emptyDropCounts();
      this.#caps.enforceCaps(state, dropped);
      addDrops(state.counters.dropped, dropped);
      this.#backend.saveState(state.nextSeq, state.counters);
      return moved.length;
    });
  }

  maintain(): MaintenanceResult {
    this.#requireOpen();
    this.#checkStorage();
    const expired = this.#expire();
    return { expired, checkpointedFrames: this.#backend.checkpoint('PASSIVE') };
  }

  stats(): OutboxStats {
    const state = this.#requireOpen();
    const pending = {} as OutboxStats['pending'];
    for (const cls of OUTBOX_CLASSES) {
      const limits = this.#config.classes[cls];
      pending[cls] = {
        ...state.pending[cls],
        oldestEnqueuedAt: this.#backend.oldestEnqueuedAt(cls),
        capRows: limits.maxRows,
        capBytes: limits.maxBytes,
        overCap: this.#caps.classOverCap(state, cls),
      };
    }
    const totals = total(state);
    return {
      pending,
      totalRows: totals.rows,
      totalBytes: totals.bytes,
      storeOverCap: this.#caps.storeOverCap(state),
      quarantined: { ...state.quarantined },
      storage: this.#storageStats(),
      counters: structuredClone(state.counters),
      nextSeq: state.nextSeq,
    };
  }

  #storageStats(): StorageStats {
    const disk = this.#backend.diskSpace();
    return {
      full: this.#storage.full,
      fullSince: this.#storage.fullSince,
      freeBytes: disk?.freeBytes,
      totalBytes: disk?.totalBytes,
      reserveBytes: this.#storage.enabled ? this.#config.reserveBytes : 0,
      reserveHeld: this.#backend.reserveHeld(),
      writeFailures: this.#storage.writeFailures,
    };
  }

  close(): void {
    if (!this.#state) return;
    this.#scheduler.clearInterval(this.#timer);
    this.#state = undefined;
    try {
      this.#backend.checkpoint('TRUNCATE');
    } finally {
      this.#backend.close();
    }
  }

  #requireOpen(): LiveState {
    if (!this.#state) throw new DoorstepError('EDGE_ERR_OUTBOX_CLOSED', { outbox: this.#backend.name });
    return this.#state;
  }

  /** Runs `work` in one backend transaction; if it throws, the in-memory totals are put back. */
  #transaction<T>(durable: boolean, work: (state: LiveState) => T): T {
    const before = this.#requireOpen();
    const state = structuredClone(before);
    const result = this.#backend.transaction(() => work(state), durable);
    this.#state = state;
    return result;
  }

  /** Drops rows past their TTL in one transaction; counted in the persisted counters. */
  #expire(): DropCounts {
    const now = this.#clock.now();
    return this.#transaction(this.#config.syncMode === 'full', (state) => {
      const expired = this.#caps.expire(state, now);
      this.#backend.saveState(state.nextSeq, state.counters);
      return expired;
    });
  }

  #expireIfDue(): void {
    if (!this.#caps.expiryDue(this.#clock.now())) return;
    try {
      this.#expire();
    } catch (error) {
      // Expiry can wait; sending what is pending must not (a full disk is the usual cause).
      if (!this.#backend.isStorageFull(error)) throw error;
      this.#onStorageFull(error);
    }
  }

  #maintainSafely(): void {
    try {
      const result = this.maintain();
      this.#logger?.debug(result, 'outbox maintenance');
    } catch (error) {
      // A failed checkpoint must not take the gateway down; the next tick tries again.
      this.#logger?.error({ err: error }, 'outbox maintenance failed');
    }
  }
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    // A wiring bug in the caller, not something a user can meet: a plain RangeError.
    throw new RangeError(`outbox option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}
