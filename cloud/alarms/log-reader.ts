/**
 * Reads the case-event log (AlarmCaseStore.readEvents) for one consumer — escalation, the tier
 * feed — after that consumer's durable cursor: at-least-once, in order, never skipping an entry.
 *
 * - The cursor moves only past entries whose effect was committed (`handle` resolved). A failing
 *   `handle` stops the round at that entry; the next round retries it (with a growing pause), so
 *   a failed plan write can never let a case go without its plan — it waits, logged, until the
 *   store takes the write. Effects must therefore be idempotent: after a crash the entries since
 *   the last advance are handled again.
 * - One reader per consumer among all cloud instances: the cursor carries a lease (the same short
 *   lease as the claims of the notification path, CLAIM_LEASE_MS), renewed every round; a dead
 *   instance's reader is replaced within seconds, a stopped one hands over at once.
 * - Latency: a local append rings `wake()` (the lifecycle's doorbell), so this instance's own
 *   changes are read at once; another instance's are found by the poll (`pollMs`).
 */

import { delayAfterFailuresMs } from '../../common/backoff.js';
import type { Logger } from '../../common/log.js';
import { CLAIM_LEASE_MS } from './contract.js';
import type { AlarmCaseStore, CaseLogEntry } from './store/port.js';

export type CaseLogSource = Pick<
  AlarmCaseStore,
  'readEvents' | 'lastEventSeq' | 'leaseCursor' | 'advanceCursor' | 'releaseCursor'
>;

export interface LogReaderOptions {
  /** The durable cursor's name (one per kind of consumer, shared by every instance). */
  consumer: string;
  /** Names this instance's reader in the lease; unique per process. */
  holder: string;
  source: CaseLogSource;
  /** The effect of one entry; resolves once it is committed. Must be idempotent. */
  handle(entry: CaseLogEntry): Promise<void>;
  /** After a round that handled entries (e.g. run the escalation worker now). */
  afterRound?(handled: number): void;
  clock: () => number;
  leaseMs?: number;
  /** How often the log is looked at without a local doorbell (another instance's appends). */
  pollMs?: number;
  batch?: number;
  /** A consumer seen for the first time starts after the newest entry (a live view), not at 0. */
  startAtEnd?: boolean;
  log?: Logger;
}

/** The pause before a failed entry is tried again: 200 ms doubling to 5 s. */
const retryDelay = (failures: number) => delayAfterFailuresMs({ initialMs: 200, maxMs: 5_000 }, failures);

export class CaseLogReader {
  readonly #o: LogReaderOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #rung = false;
  #failures = 0;
  #round: Promise<number> | undefined;
  #startAt: number | undefined;

  constructor(options: LogReaderOptions) {
    this.#o = options;
  }

  get #leaseMs(): number {
    return this.#o.leaseMs ?? CLAIM_LEASE_MS;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops reading after the current round and gives the cursor's lease back. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.wake();
    await this.#loop;
    await this.#o.source
      .releaseCursor(this.#o.consumer, this.#o.holder)
      .catch((error) => this.#o.log?.warn({ err: error }, 'case log: releasing the cursor failed'));
  }

  /** Something was appended: read now rather than at the next poll. */
  wake(): void {
    this.#rung = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * Reads until caught up with the log as it is now (tests, and a clean hand-over); returns how
   * many entries were handled. Throws what a `handle` threw, leaving the cursor before that entry.
   */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const { handled, more, error } = await this.#once();
      total += handled;
      if (error) throw error;
      if (!more) return total;
    }
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const { more, error } = await this.#once();
      if (!this.#running) return;
      if (more && !error) continue;
      const ms = error ? retryDelay(this.#failures) : (this.#o.pollMs ?? 250);
      await this.#sleep(ms, !error);
    }
  }

  /** Waits `ms`, or less when rung (never while backing off from a failure). */
  #sleep(ms: number, wakeable: boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref?.();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      if (!wakeable) return;
      if (this.#rung) {
        done();
        return;
      }
      this.#wake = done;
    });
  }

  /** One round: lease, read a batch, handle it in order, advance past what was done. */
  async #once(): Promise<{ handled: number; more: boolean; error?: unknown }> {
    // Rounds never overlap (drain() beside the loop): the second waits for the first.
    while (this.#round) await this.#round.catch(() => {});
    let result: { handled: number; more: boolean; error?: unknown } = { handled: 0, more: false };
    const round = (async () => {
      result = await this.#read();
      return result.handled;
    })();
    this.#round = round;
    try {
      await round;
    } finally {
      this.#round = undefined;
    }
    return result;
  }

  async #read(): Promise<{ handled: number; more: boolean; error?: unknown }> {
    const { source, consumer, holder, clock, log } = this.#o;
    const batch = this.#o.batch ?? 100;
    this.#rung = false;
    let lease: { seq: number } | undefined;
    let entries: CaseLogEntry[];
    try {
      if (this.#o.startAtEnd && this.#startAt === undefined) this.#startAt = await source.lastEventSeq();
      lease = await source.leaseCursor(consumer, holder, clock(), this.#leaseMs, this.#startAt ?? 0);
      if (!lease) return { handled: 0, more: false };
      entries = await source.readEvents(lease.seq, batch);
    } catch (error) {
      this.#failures++;
      log?.error({ err: error, consumer }, 'case log: reading failed');
      return { handled: 0, more: false, error };
    }
    let done = lease.seq;
    let handled = 0;
    let failure: unknown;
    for (const entry of entries) {
      try {
        await this.#o.handle(entry);
      } catch (error) {
        failure = error;
        this.#failures++;
        log?.error(
          {
            err: error,
            consumer,
            seq: entry.seq,
            case: entry.caseId,
            kind: entry.kind,
            failures: this.#failures,
          },
          'case log: entry not handled, tried again (the cursor stays before it)',
        );
        break;
      }
      done = entry.seq;
      handled++;
    }
    if (!failure) this.#failures = 0;
    if (done > lease.seq) {
      try {
        if (!(await source.advanceCursor(consumer, holder, done, clock())))
          log?.warn({ consumer, seq: done }, 'case log: cursor lease lost; the new holder continues');
      } catch (error) {
        // Handled again by the next round (or the next holder): effects are idempotent.
        log?.error({ err: error, consumer, seq: done }, 'case log: advancing the cursor failed');
        return { handled, more: false, error };
      }
    }
    if (handled > 0) this.#o.afterRound?.(handled);
    return { handled, more: !failure && entries.length === batch, ...(failure ? { error: failure } : {}) };
  }
}
