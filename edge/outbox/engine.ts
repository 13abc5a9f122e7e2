import type { Logger } from '../../drivers/log.js';
import { DoorstepError } from '../../protocol/index.js';
import type { OutboxBackend } from './backend.js';
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
} from './types.js';

export interface OutboxOptions {
  config?: OutboxConfigInput;
  clock?: Clock;
  /** Runs maintain() every config.maintenanceIntervalMs; defaults to Node's timers (unref'd). */
  scheduler?: IntervalScheduler;
  logger?: Logger;
}

const DEFAULT_BATCH_ROWS = 500;
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
    this.#timer = this.#scheduler.setInterval(
      () => this.#maintainSafely(),
      this.#config.maintenanceIntervalMs,
    );
    this.#logger?.info({ pending: this.#state.pending, nextSeq: this.#state.nextSeq }, 'outbox open');
  }

  put(entries: readonly OutboxEntry[]): PutResult {
    this.#requireOpen();
    const prepared = entries.map((entry, index) => prepareEntry(entry, index, this.#config.maxEntryBytes));
    const dropped = emptyDropCounts();
    if (prepared.length === 0) return { seqs: [], accepted: 0, duplicates: 0, dropped, alarmsOverCap: false };
    const durable = this.#config.syncMode === 'full' || prepared.some((entry) => entry.cls === 'alarm');
    return this.#transaction(durable, (state) => {
      const now = this.#clock.now();
      const seqs: number[] = [];
      let accepted = 0;
      let alarms = 0;
      for (const entry of prepared) {
        const existing = entry.key === null ? undefined : this.#backend.seqOfKey(entry.key);
        if (existing !== undefined) {
          seqs.push(existing);
          continue;
        }
        const seq = state.nextSeq++;
        this.#backend.insert(seq, now, entry);
        add(state.pending[entry.cls], entry);
        seqs.push(seq);
        accepted++;
        if (entry.cls === 'alarm') alarms++;
      }
      this.#caps.enforceCaps(state, dropped);
      const alarmsOverCap =
        alarms > 0 && (this.#caps.classOverCap(state, 'alarm') || this.#caps.storeOverCap(state));
      if (alarmsOverCap) {
        state.counters.alarmsAcceptedOverCap += alarms;
        this.#logger?.warn({ alarms, pending: state.pending }, 'outbox over cap: alarms accepted beyond it');
      }
      state.counters.accepted += accepted;
      state.counters.duplicates += prepared.length - accepted;
      addDrops(state.counters.dropped, dropped);
      this.#backend.saveState(state.nextSeq, state.counters);
      return { seqs, accepted, duplicates: prepared.length - accepted, dropped, alarmsOverCap };
    });
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
          // One unreadable row must never block sync (anchors.md complaint 7): set it aside.
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
    return this.#transaction(this.#config.syncMode === 'full', (state) => {
      const removed = this.#backend.remove(valid);
      for (const ref of removed) subtract(state.pending[ref.cls], ref);
      state.counters.acked += removed.length;
      this.#backend.saveState(state.nextSeq, state.counters);
      return removed.length;
    });
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
      counters: structuredClone(state.counters),
      nextSeq: state.nextSeq,
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
    if (this.#caps.expiryDue(this.#clock.now())) this.#expire();
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
