import type { Aggregate, LoadedState, OutboxBackend, RowRef } from './backend.js';
import type { OutboxConfig } from './config.js';
import { seriesOf } from './entry.js';
import { evictionTarget, thinningVictims, thinningWindow } from './policy.js';
import {
  type DropCounts,
  type DropReason,
  emptyCounters,
  emptyDropCounts,
  OUTBOX_CLASSES,
  type OutboxClass,
  type OutboxCounters,
} from './types.js';

/** The engine's in-memory mirror of the store's totals; mutated only inside a transaction. */
export interface LiveState {
  nextSeq: number;
  counters: OutboxCounters;
  pending: Record<OutboxClass, Aggregate>;
  quarantined: Aggregate;
}

const SCAN_PAGE = 1000;

/**
 * Caps, eviction and expiry (docs/architecture.md invariant 6): the oldest telemetry goes first (thinned per
 * series when configured), then events; alarms are never dropped, only reported over cap. Every
 * drop is counted per class and reason in state.counters, which the engine persists.
 */
export class CapPolicy {
  readonly #backend: OutboxBackend;
  readonly #config: Readonly<OutboxConfig>;

  constructor(backend: OutboxBackend, config: Readonly<OutboxConfig>) {
    this.#backend = backend;
    this.#config = config;
  }

  classesByPriority(): OutboxClass[] {
    return [...OUTBOX_CLASSES].sort(
      (a, b) => this.#config.classes[a].priority - this.#config.classes[b].priority,
    );
  }

  classOverCap(state: LiveState, cls: OutboxClass): boolean {
    const limits = this.#config.classes[cls];
    return state.pending[cls].rows > limits.maxRows || state.pending[cls].bytes > limits.maxBytes;
  }

  storeOverCap(state: LiveState): boolean {
    const totals = total(state);
    return totals.rows > this.#config.store.maxRows || totals.bytes > this.#config.store.maxBytes;
  }

  /**
   * Class caps first (telemetry, events; never alarms), then the store cap, freeing space from the
   * lowest-priority droppable class upwards. Alarms are accepted beyond any cap (invariant 5).
   */
  enforceCaps(state: LiveState, dropped: DropCounts): void {
    const slack = this.#config.evictionSlack;
    const droppable = this.classesByPriority()
      .reverse()
      .filter((cls) => cls !== 'alarm');
    for (const cls of droppable) {
      if (!this.classOverCap(state, cls)) continue;
      const limits = this.#config.classes[cls];
      const aggregate = state.pending[cls];
      this.#evict(
        state,
        cls,
        aggregate.rows - evictionTarget(limits.maxRows, slack),
        aggregate.bytes - evictionTarget(limits.maxBytes, slack),
        dropped,
      );
    }
    if (!this.storeOverCap(state)) return;
    const totals = total(state);
    let needRows = totals.rows - evictionTarget(this.#config.store.maxRows, slack);
    let needBytes = totals.bytes - evictionTarget(this.#config.store.maxBytes, slack);
    for (const cls of droppable) {
      if (needRows <= 0 && needBytes <= 0) break;
      const freed = this.#evict(state, cls, needRows, needBytes, dropped);
      needRows -= freed.rows;
      needBytes -= freed.bytes;
    }
  }

  /** Frees at least needRows rows and needBytes bytes of `cls` (or all of it): thinning first, then oldest-first. */
  #evict(
    state: LiveState,
    cls: OutboxClass,
    needRows: number,
    needBytes: number,
    dropped: DropCounts,
  ): Aggregate {
    const freed: Aggregate = { rows: 0, bytes: 0 };
    const aggregate = state.pending[cls];
    const drop = (refs: RowRef[], reason: DropReason) => {
      for (const ref of refs) {
        subtract(aggregate, ref);
        add(freed, ref);
      }
      dropped[cls][reason] += refs.length;
    };
    const keepEvery = cls === 'telemetry' ? this.#config.classes.telemetry.downsampleEvery : 1;
    if (keepEvery > 1 && aggregate.rows > 0) {
      const averageBytes = Math.max(1, aggregate.bytes / aggregate.rows);
      const need = Math.max(needRows, Math.ceil(needBytes / averageBytes), 0);
      const window = this.#backend
        .oldest(cls, thinningWindow(need, keepEvery), 0, true)
        .map((row) => ({ seq: row.seq, series: seriesOf(row.payload) }));
      drop(this.#backend.remove(thinningVictims(window, keepEvery).map((row) => row.seq)), 'downsample');
    }
    this.#evictOldest(state, cls, needRows, needBytes, dropped, 'cap', freed);
    return freed;
  }

  /**
   * Full file system: frees at least needRows rows and needBytes bytes of the oldest telemetry,
   * then events (never alarms), counted as `storage_full`. Their pages are reused by what the same
   * transaction inserts, so the store does not grow while the disk is full.
   */
  makeRoom(state: LiveState, needRows: number, needBytes: number, dropped: DropCounts): Aggregate {
    const freed: Aggregate = { rows: 0, bytes: 0 };
    for (const cls of this.classesByPriority().reverse()) {
      if (cls === 'alarm' || (freed.rows >= needRows && freed.bytes >= needBytes)) continue;
      this.#evictOldest(state, cls, needRows, needBytes, dropped, 'storage_full', freed);
    }
    return freed;
  }

  /** Deletes the oldest rows of `cls` until `freed` reaches needRows and needBytes (or the class is empty). */
  #evictOldest(
    state: LiveState,
    cls: OutboxClass,
    needRows: number,
    needBytes: number,
    dropped: DropCounts,
    reason: DropReason,
    freed: Aggregate,
  ): void {
    const aggregate = state.pending[cls];
    while ((freed.rows < needRows || freed.bytes < needBytes) && aggregate.rows > 0) {
      const page = this.#backend.oldest(
        cls,
        Math.min(Math.max(needRows - freed.rows, 64), SCAN_PAGE * 10),
        0,
        false,
      );
      if (page.length === 0) break;
      const victims: number[] = [];
      let rows = freed.rows;
      let bytes = freed.bytes;
      for (const row of page) {
        if (rows >= needRows && bytes >= needBytes) break;
        victims.push(row.seq);
        rows++;
        bytes += row.bytes;
      }
      const removed = this.#backend.remove(victims);
      for (const ref of removed) {
        subtract(aggregate, ref);
        add(freed, ref);
      }
      dropped[cls][reason] += removed.length;
    }
  }

  enforceQuarantineCap(state: LiveState): void {
    const cap = this.#config.quarantine;
    const dropped = emptyDropCounts();
    while (state.quarantined.rows > cap.maxRows || state.quarantined.bytes > cap.maxBytes) {
      const excess = Math.max(state.quarantined.rows - cap.maxRows, 1);
      const page = this.#backend.oldestDroppableQuarantined(Math.min(excess, SCAN_PAGE));
      if (page.length === 0) break; // only alarms left: kept beyond the cap
      const victims: number[] = [];
      for (const ref of page) {
        if (state.quarantined.rows <= cap.maxRows && state.quarantined.bytes <= cap.maxBytes) break;
        victims.push(ref.seq);
        subtract(state.quarantined, ref);
      }
      for (const ref of this.#backend.removeQuarantined(victims)) dropped[ref.cls].quarantine_cap++;
    }
    addDrops(state.counters.dropped, dropped);
  }

  /** Drops pending events/telemetry enqueued before now − TTL; alarms have none. */
  expire(state: LiveState, now: number): DropCounts {
    const expired = emptyDropCounts();
    for (const cls of OUTBOX_CLASSES) {
      const ttl = this.#config.classes[cls].ttlMs;
      if (ttl === null || cls === 'alarm') continue;
      const cutoff = now - ttl;
      let afterSeq = 0;
      for (;;) {
        const page = this.#backend.oldest(cls, SCAN_PAGE, afterSeq, false);
        const victims = page.filter((row) => row.enqueuedAt < cutoff).map((row) => row.seq);
        const removed = this.#backend.remove(victims);
        for (const ref of removed) subtract(state.pending[cls], ref);
        expired[cls].ttl += removed.length;
        // Rows are scanned in seq order, which follows enqueue time unless the clock stepped back.
        if (page.length < SCAN_PAGE || victims.length < page.length) break;
        afterSeq = page[page.length - 1]!.seq;
      }
    }
    addDrops(state.counters.dropped, expired);
    return expired;
  }

  /** True when some TTL class holds a row past its TTL (one indexed lookup per class). */
  expiryDue(now: number): boolean {
    return OUTBOX_CLASSES.some((cls) => {
      const ttl = this.#config.classes[cls].ttlMs;
      const oldest = ttl === null ? undefined : this.#backend.oldestEnqueuedAt(cls);
      return ttl !== null && oldest !== undefined && oldest < now - ttl;
    });
  }
}

export function liveState(loaded: LoadedState): LiveState {
  // Counters saved by an older build lack newer reasons: start those at 0.
  const counters = { ...emptyCounters(), ...loaded.counters };
  const dropped = emptyDropCounts();
  addDrops(dropped, counters.dropped);
  counters.dropped = dropped;
  return {
    nextSeq: loaded.nextSeq,
    counters,
    pending: loaded.pending,
    quarantined: loaded.quarantined,
  };
}

export function add(aggregate: Aggregate, row: { bytes: number }): void {
  aggregate.rows += 1;
  aggregate.bytes += row.bytes;
}

export function subtract(aggregate: Aggregate, row: { bytes: number }): void {
  aggregate.rows -= 1;
  aggregate.bytes -= row.bytes;
}

export function total(state: LiveState): Aggregate {
  let rows = 0;
  let bytes = 0;
  for (const cls of OUTBOX_CLASSES) {
    rows += state.pending[cls].rows;
    bytes += state.pending[cls].bytes;
  }
  return { rows, bytes };
}

export function addDrops(into: DropCounts, from: DropCounts): void {
  for (const cls of OUTBOX_CLASSES) {
    for (const reason of Object.keys(from[cls]) as DropReason[])
      into[cls][reason] = (into[cls][reason] ?? 0) + from[cls][reason];
  }
}
