import type { Logger } from '../../common/log.js';
import { DoorstepError } from '../../protocol/index.js';
import type { PersistedBatch, PersistedUplinkState, UplinkStateStore } from './types.js';

/** A batch ready to (re)send: the persisted record plus what only this process knows. */
export interface Inflight {
  persisted: PersistedBatch;
  body: Buffer;
  /** Outbox payload bytes (for halving on 413); rawBytes for a batch restored from disk. */
  payloadBytes: number;
  /** The batch filled the row/byte limit: more is waiting (backlog). */
  full: boolean;
}

/**
 * batchSeq numbering and the unacknowledged batch, mirrored to the state store: saved before a
 * new batch is first sent and after it is acknowledged, so a restart resends the same batch with
 * the same number and bytes, and no number is ever used twice.
 */
export class BatchLedger {
  readonly #store: UplinkStateStore;
  readonly #log: Logger | undefined;
  #state: PersistedUplinkState | undefined;
  #inflight: Inflight | undefined;

  constructor(store: UplinkStateStore, log: Logger | undefined) {
    this.#store = store;
    this.#log = log;
  }

  load(gateway: string, now: number): void {
    let loaded: PersistedUplinkState | undefined;
    try {
      loaded = this.#store.load();
    } catch (error) {
      // Never reuse a batchSeq: continue above the ms clock, which no 1-batch-a-second counter reaches.
      this.#log?.error({ err: error }, 'uplink state unreadable; batch numbers continue from the clock');
      loaded = { v: 1, gateway, nextBatchSeq: Math.max(1, Math.floor(now)) };
    }
    let state = loaded ?? { v: 1, gateway, nextBatchSeq: 1 };
    if (state.gateway !== gateway) {
      this.#log?.warn(
        { was: state.gateway },
        'uplink state belongs to another gateway id; in-flight batch dropped',
      );
      state = { v: 1, gateway, nextBatchSeq: state.nextBatchSeq };
    }
    this.#state = state;
    const p = state.inflight;
    this.#inflight = p && {
      persisted: p,
      body: Buffer.from(p.body, 'base64'),
      payloadBytes: p.rawBytes,
      full: true,
    };
  }

  get inflight(): Inflight | undefined {
    return this.#inflight;
  }

  get nextBatchSeq(): number {
    return this.#state?.nextBatchSeq ?? 0;
  }

  takeBatchSeq(): number {
    const state = this.#require();
    const seq = state.nextBatchSeq++;
    this.#persist();
    return seq;
  }

  setInflight(inflight: Inflight | undefined): void {
    this.#inflight = inflight;
    this.#require().inflight = inflight?.persisted;
    this.#persist();
  }

  /**
   * A failed save is logged and sync goes on: delivering data matters more than the numbering
   * (the cloud deduplicates rows by (gateway, seq)); README "Known limits" says what it costs.
   */
  #persist(): void {
    try {
      this.#store.save(this.#require());
    } catch (error) {
      this.#log?.error({ err: error }, 'uplink state not saved');
    }
  }

  #require(): PersistedUplinkState {
    if (!this.#state) throw new DoorstepError('EDGE_ERR_UPLINK_STOPPED', { operation: 'state' });
    return this.#state;
  }
}
