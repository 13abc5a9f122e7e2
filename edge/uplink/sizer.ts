import type { BatchLimits } from './types.js';

/** After a 413 the halved limits grow back (doubling) after this many acknowledged batches. */
const REGROW_AFTER = 20;

/**
 * The batch limits in force: the configured ones, halved on each 413 (the cloud's body limit is
 * not known in advance and may be lowered by a proxy), doubled back towards the configured ones
 * after REGROW_AFTER acknowledged batches in a row.
 */
export class BatchSizer {
  readonly #max: BatchLimits;
  #limits: BatchLimits;
  #ackedSinceSplit = 0;

  constructor(max: BatchLimits) {
    this.#max = { ...max };
    this.#limits = { ...max };
  }

  get limits(): BatchLimits {
    return { ...this.#limits };
  }

  /** A batch of `rows` rows and `payloadBytes` bytes was too large. */
  halve(rows: number, payloadBytes: number): BatchLimits {
    this.#ackedSinceSplit = 0;
    this.#limits = {
      rows: Math.max(1, Math.floor(rows / 2)),
      bytes: Math.max(1, Math.floor(Math.min(this.#limits.bytes, payloadBytes) / 2)),
    };
    return this.limits;
  }

  acked(): void {
    if (this.#limits.rows >= this.#max.rows && this.#limits.bytes >= this.#max.bytes) return;
    if (++this.#ackedSinceSplit < REGROW_AFTER) return;
    this.#ackedSinceSplit = 0;
    this.#limits = {
      rows: Math.min(this.#max.rows, this.#limits.rows * 2),
      bytes: Math.min(this.#max.bytes, this.#limits.bytes * 2),
    };
  }
}
