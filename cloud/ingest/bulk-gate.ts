import { SMALL_PAUSE_MS, whenNoneInFlight } from '../store/common.js';

/**
 * Alarms before telemetry, in the cloud too (GB 26875.1-2011 §4.1.2.3: a fire alarm pre-empts
 * every other transmission). Node runs one request's synchronous work at a time; when eight gateways
 * drain backlogs at once, their inflating, parsing, validating and storing interleave, and a small
 * alarm batch waits behind all of them (seen: p99 ≈ 1 s). This gate lets one bulk batch at a time
 * through, first come first served; small batches — alarms, events, live telemetry — never wait
 * for it, so an alarm waits at most for the one step of one bulk batch the event loop is in.
 *
 * The count of small requests in flight lives in an Int32Array (`smallInFlight`, shared memory, read
 * with Atomics): the store gets it with a bulk batch and pauses between the batch's slices while an
 * alarm is being stored (IngestMeta.smallInFlight) — on this thread or any other.
 */
export class BulkGate {
  private busy = false;
  private readonly waiting: Array<() => void> = [];
  private readonly holders = new WeakMap<object, () => void>();
  private readonly idleWaiters = new Set<() => void>();
  /** performance.now() when the gate last became free. */
  private idleSince = 0;
  /** [0]: small requests in flight; read by other threads with Atomics. */
  readonly smallInFlight = new Int32Array(new SharedArrayBuffer(4));
  waited = 0;

  /**
   * A small request is in flight: the bulk batch holding the gate waits for it at its next
   * checkpoint (whenNoSmall), so the small one's few awaits never queue behind bulk work.
   */
  smallStarted(): () => void {
    Atomics.add(this.smallInFlight, 0, 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (Atomics.sub(this.smallInFlight, 0, 1) === 1) Atomics.notify(this.smallInFlight, 0);
    };
  }

  /** Checkpoint of a bulk batch: proceeds once no small request is in flight, or after `maxWaitMs`. */
  whenNoSmall(maxWaitMs = SMALL_PAUSE_MS): Promise<void> {
    return whenNoneInFlight(this.smallInFlight, maxWaitMs);
  }

  /** Resolves once `holder` (a request) may proceed; it holds the gate until leave(holder). */
  async enter(holder: object): Promise<void> {
    if (this.busy) {
      this.waited++;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.busy = true;
    let released = false;
    this.holders.set(holder, () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else {
        this.busy = false;
        this.idleSince = performance.now();
        for (const wake of this.idleWaiters) wake();
        this.idleWaiters.clear();
      }
    });
  }

  /** Lets the next bulk batch in, if `holder` holds the gate; idempotent. */
  leave(holder: object): void {
    this.holders.get(holder)?.();
    this.holders.delete(holder);
  }

  /**
   * Resolves once no bulk batch has held the gate for `quietMs`, or after `maxWaitMs`: background
   * maintenance (rollup, retention) goes after bulk ingest, which goes after alarms — and is never
   * starved. The quiet period keeps it out of the short gaps between one gateway's backlog batches.
   */
  async whenIdle(maxWaitMs: number, quietMs = 0): Promise<void> {
    const deadline = performance.now() + maxWaitMs;
    for (;;) {
      const now = performance.now();
      const left = deadline - now;
      if (left <= 0) return;
      if (this.busy) {
        await this.#nextIdle(left);
        continue;
      }
      const quiet = now - this.idleSince;
      if (quiet >= quietMs) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(quietMs - quiet, left)));
    }
  }

  #nextIdle(maxWaitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.idleWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, maxWaitMs);
      this.idleWaiters.add(wake);
    });
  }

  get queued(): number {
    return this.waiting.length;
  }
}

/**
 * Inflated request bodies above this size are bulk (an alarm batch is a few hundred bytes; a
 * 5 000-reading batch ~94 KiB inflated, ~3 KiB compressed).
 */
export const BULK_BODY_BYTES = 16 * 1024;
