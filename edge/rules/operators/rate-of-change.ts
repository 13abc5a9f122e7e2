import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';

/**
 * Rate of change in units per second over a sliding window: (newest − oldest) / elapsed, using the
 * samples that arrived within the last `windowMs` (scheduler time). Fewer than two samples, or no
 * elapsed time, give a rate of 0.
 */
export function ratePerSecond(
  windowMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<number, number> {
  return (source) =>
    new Observable<number>((subscriber) => {
      const times: number[] = [];
      const values: number[] = [];
      return source.subscribe({
        next(value) {
          const now = scheduler.now();
          times.push(now);
          values.push(value);
          let drop = 0;
          while (drop < times.length - 1 && now - times[drop]! > windowMs) drop++;
          if (drop > 0) {
            times.splice(0, drop);
            values.splice(0, drop);
          }
          const elapsed = now - times[0]!;
          subscriber.next(elapsed > 0 ? ((value - values[0]!) * 1000) / elapsed : 0);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}

export interface RateOfChangeOptions {
  windowMs: number;
  /** Active while the rate (units/s) is above this (a fast rise, e.g. a gas leak building up). */
  above?: number;
  /** Active while the rate is below this (a fast fall, e.g. a burst pipe: give a negative figure). */
  below?: number;
  scheduler?: SchedulerLike;
}

/** `true` while the rate of change crosses `above` or `below`; emits the first state and changes. */
export function rateOfChange(options: RateOfChangeOptions): OperatorFunction<number, boolean> {
  const { windowMs, above, below, scheduler = asyncScheduler } = options;
  return (source) =>
    new Observable<boolean>((subscriber) => {
      let last: boolean | undefined;
      return source.pipe(ratePerSecond(windowMs, scheduler)).subscribe({
        next(rate) {
          const active = (above !== undefined && rate > above) || (below !== undefined && rate < below);
          if (active !== last) {
            last = active;
            subscriber.next(active);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
