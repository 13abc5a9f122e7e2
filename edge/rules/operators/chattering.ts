import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';

/** ISA-18.2 / EEMUA 191 practice: ≥ 3 activations within 1 min is a chattering alarm. */
export const CHATTERING_DEFAULTS = { count: 3, windowMs: 60_000 } as const;

export interface ChatteringOptions {
  count?: number;
  windowMs?: number;
  scheduler?: SchedulerLike;
}

/**
 * Given the time of the `count`-th newest activation, is the point chattering at `now`?
 * The window is half-open: activations at t and t + windowMs are not "within" one window.
 */
export function isChattering(oldestOfRecent: number | undefined, now: number, windowMs: number): boolean {
  return oldestOfRecent !== undefined && now - oldestOfRecent < windowMs;
}

/**
 * Flags a boolean condition as chattering: `true` once it has risen `count` times within
 * `windowMs`, `false` again once fewer than `count` rises lie within the window.
 */
export function chattering(options: ChatteringOptions = {}): OperatorFunction<boolean, boolean> {
  const {
    count = CHATTERING_DEFAULTS.count,
    windowMs = CHATTERING_DEFAULTS.windowMs,
    scheduler = asyncScheduler,
  } = options;
  return (source) =>
    new Observable<boolean>((subscriber) => {
      const rises: number[] = [];
      let previous = false;
      let last: boolean | undefined;
      let expiry: Subscription | undefined;
      const evaluate = (): void => {
        const now = scheduler.now();
        const oldest = rises.length >= count ? rises[rises.length - count] : undefined;
        const flagged = isChattering(oldest, now, windowMs);
        if (flagged !== last) {
          last = flagged;
          subscriber.next(flagged);
        }
        expiry?.unsubscribe();
        expiry =
          flagged && oldest !== undefined ? scheduler.schedule(evaluate, oldest + windowMs - now) : undefined;
      };
      const subscription = source.subscribe({
        next(value) {
          if (value && !previous) {
            rises.push(scheduler.now());
            if (rises.length > count) rises.shift();
          }
          previous = value;
          evaluate();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        expiry?.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
