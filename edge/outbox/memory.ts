import type {
  Aggregate,
  EvictionCandidate,
  LoadedState,
  OutboxBackend,
  PreparedEntry,
  QuarantinedRow,
  RowRef,
  StoredRow,
} from './backend.js';
import { OutboxEngine, type OutboxOptions } from './engine.js';
import { OUTBOX_CLASSES, type OutboxClass, type OutboxCounters } from './types.js';

/**
 * What survives a "restart" of an in-memory outbox: pass the same instance to a new
 * MemoryOutbox to reopen it (tests use it like a file; a gateway without storage could keep one
 * for the life of the process).
 */
export class MemoryOutboxData {
  /** Pending rows per class, in ascending seq order. */
  readonly pending: Record<OutboxClass, Map<number, StoredRow>> = {
    alarm: new Map(),
    event: new Map(),
    telemetry: new Map(),
  };
  readonly quarantine = new Map<number, QuarantinedRow>();
  nextSeq = 1;
  /** Counters as JSON, as a file would hold them: no object is shared between instances. */
  counters: string | undefined;
  /** Side-state rows (key → JSON), kept sorted by key on read. */
  readonly sideState = new Map<string, string>();
}

/**
 * The outbox in memory, with the same semantics as the SQLite one (the policy is the shared
 * OutboxEngine). Not durable across process exit; transactions are not rolled back because no
 * backend step can fail after the engine validated its input.
 */
export class MemoryOutbox extends OutboxEngine {
  constructor(options: OutboxOptions & { data?: MemoryOutboxData } = {}) {
    super(new MemoryBackend(options.data ?? new MemoryOutboxData()), options);
  }
}

class MemoryBackend implements OutboxBackend {
  readonly name = 'memory';
  readonly #data: MemoryOutboxData;
  readonly #keys = new Map<string, number>();

  constructor(data: MemoryOutboxData) {
    this.#data = data;
  }

  open(): LoadedState {
    const pending = {} as Record<OutboxClass, Aggregate>;
    for (const cls of OUTBOX_CLASSES) pending[cls] = aggregate(this.#data.pending[cls].values());
    this.#keys.clear();
    for (const row of this.#allRows()) if (row.key !== null) this.#keys.set(row.key, row.seq);
    const counters = this.#data.counters === undefined ? undefined : JSON.parse(this.#data.counters);
    return {
      nextSeq: this.#data.nextSeq,
      counters,
      pending,
      quarantined: aggregate(this.#data.quarantine.values()),
    };
  }

  transaction<T>(work: () => T): T {
    return work();
  }

  insert(seq: number, enqueuedAt: number, entry: PreparedEntry): void {
    this.#data.pending[entry.cls].set(seq, { ...entry, seq, enqueuedAt });
    if (entry.key !== null) this.#keys.set(entry.key, seq);
  }

  seqOfKey(key: string): number | undefined {
    return this.#keys.get(key);
  }

  oldest(cls: OutboxClass, limit: number, afterSeq: number, withPayload: boolean): EvictionCandidate[] {
    const out: EvictionCandidate[] = [];
    for (const row of this.#data.pending[cls].values()) {
      if (out.length >= limit) break;
      if (row.seq <= afterSeq) continue;
      const candidate: EvictionCandidate = { seq: row.seq, bytes: row.bytes, enqueuedAt: row.enqueuedAt };
      if (withPayload) candidate.payload = row.payload;
      out.push(candidate);
    }
    return out;
  }

  read(cls: OutboxClass, limit: number, newestFirst: boolean): StoredRow[] {
    const rows = [...this.#data.pending[cls].values()];
    return (newestFirst ? rows.reverse() : rows).slice(0, Math.max(0, limit)).map((row) => ({ ...row }));
  }

  oldestEnqueuedAt(cls: OutboxClass): number | undefined {
    for (const row of this.#data.pending[cls].values()) return row.enqueuedAt;
    return undefined;
  }

  remove(seqs: readonly number[]): RowRef[] {
    const removed: RowRef[] = [];
    for (const seq of new Set(seqs)) {
      const row = this.#takePending(seq);
      if (!row) continue;
      if (row.key !== null) this.#keys.delete(row.key);
      removed.push(ref(row));
    }
    return removed;
  }

  moveToQuarantine(seqs: readonly number[], reason: string, at: number): RowRef[] {
    const moved: RowRef[] = [];
    for (const seq of new Set(seqs)) {
      const row = this.#takePending(seq);
      if (!row) continue;
      this.#data.quarantine.set(seq, { ...row, reason, quarantinedAt: at });
      moved.push(ref(row));
    }
    sortMap(this.#data.quarantine);
    return moved;
  }

  moveFromQuarantine(seqs: readonly number[]): RowRef[] {
    const moved: RowRef[] = [];
    const touched = new Set<OutboxClass>();
    for (const seq of new Set(seqs)) {
      const row = this.#data.quarantine.get(seq);
      if (!row) continue;
      this.#data.quarantine.delete(seq);
      const { reason: _reason, quarantinedAt: _at, ...pending } = row;
      this.#data.pending[row.cls].set(seq, pending);
      touched.add(row.cls);
      moved.push(ref(row));
    }
    // A requeued row keeps its seq, so it goes back to its place in seq order.
    for (const cls of touched) sortMap(this.#data.pending[cls]);
    return moved;
  }

  listQuarantine(afterSeq: number, limit: number): QuarantinedRow[] {
    const out: QuarantinedRow[] = [];
    for (const row of this.#data.quarantine.values()) {
      if (out.length >= limit) break;
      if (row.seq > afterSeq) out.push({ ...row });
    }
    return out;
  }

  oldestDroppableQuarantined(limit: number): RowRef[] {
    const out: RowRef[] = [];
    for (const row of this.#data.quarantine.values()) {
      if (out.length >= limit) break;
      if (row.cls !== 'alarm') out.push(ref(row));
    }
    return out;
  }

  removeQuarantined(seqs: readonly number[]): RowRef[] {
    const removed: RowRef[] = [];
    for (const seq of new Set(seqs)) {
      const row = this.#data.quarantine.get(seq);
      if (!row) continue;
      this.#data.quarantine.delete(seq);
      if (row.key !== null) this.#keys.delete(row.key);
      removed.push(ref(row));
    }
    return removed;
  }

  saveState(nextSeq: number, counters: OutboxCounters): void {
    this.#data.nextSeq = nextSeq;
    this.#data.counters = JSON.stringify(counters);
  }

  loadSideState(prefix: string): Array<{ key: string; value: string }> {
    return [...this.#data.sideState]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => ({ key, value }));
  }

  writeSideState(set: ReadonlyArray<{ key: string; value: string }>, remove: readonly string[]): void {
    for (const key of remove) this.#data.sideState.delete(key);
    for (const { key, value } of set) this.#data.sideState.set(key, value);
  }

  isStorageFull(): boolean {
    return false;
  }

  releaseReserve(): number {
    return 0;
  }

  restoreReserve(): boolean {
    return false;
  }

  reserveHeld(): number {
    return 0;
  }

  diskSpace(): undefined {
    return undefined;
  }

  checkpoint(): number {
    return 0;
  }

  close(): void {
    this.#keys.clear();
  }

  #takePending(seq: number): StoredRow | undefined {
    for (const cls of OUTBOX_CLASSES) {
      const row = this.#data.pending[cls].get(seq);
      if (row) {
        this.#data.pending[cls].delete(seq);
        return row;
      }
    }
    return undefined;
  }

  *#allRows(): Iterable<StoredRow> {
    for (const cls of OUTBOX_CLASSES) yield* this.#data.pending[cls].values();
    yield* this.#data.quarantine.values();
  }
}

function ref(row: StoredRow): RowRef {
  return { seq: row.seq, cls: row.cls, bytes: row.bytes };
}

function aggregate(rows: Iterable<StoredRow>): Aggregate {
  const result: Aggregate = { rows: 0, bytes: 0 };
  for (const row of rows) {
    result.rows++;
    result.bytes += row.bytes;
  }
  return result;
}

function sortMap<T>(map: Map<number, T>): void {
  const entries = [...map.entries()].sort((a, b) => a[0] - b[0]);
  map.clear();
  for (const [key, value] of entries) map.set(key, value);
}
