import type { SchedulerLike, Subscription } from 'rxjs';

/**
 * One timer for the whole engine, set to the earliest deadline of any rule. Deadlines that move
 * later (a stale timer refreshed by a reading) are not chased: the timer fires early, finds
 * nothing due and is set again — cheaper than rescheduling on every reading.
 */
export class DeadlineTimer {
  readonly #scheduler: SchedulerLike;
  readonly #onDue: () => void;
  #subscription: Subscription | undefined;
  #at = Number.POSITIVE_INFINITY;

  constructor(scheduler: SchedulerLike, onDue: () => void) {
    this.#scheduler = scheduler;
    this.#onDue = onDue;
  }

  /** Fires at `at` unless already set to fire earlier. */
  atLatest(at: number): void {
    if (at < this.#at) this.set(at);
  }

  /** Fires at exactly `at` (Infinity: not at all). */
  set(at: number): void {
    if (at === this.#at) return;
    this.#subscription?.unsubscribe();
    this.#at = at;
    this.#subscription = Number.isFinite(at)
      ? this.#scheduler.schedule(
          () => {
            this.#subscription = undefined;
            this.#at = Number.POSITIVE_INFINITY;
            this.#onDue();
          },
          Math.max(0, at - this.#scheduler.now()),
        )
      : undefined;
  }

  cancel(): void {
    this.set(Number.POSITIVE_INFINITY);
  }
}
