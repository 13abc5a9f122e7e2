import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';

/**
 * N-of-M debounce (the "N times within T" filter of JetLinks/FastBee-style platforms): active when
 * at least `n` of the last `m` samples were `true` and, with `withinMs`, those samples arrived within
 * the last `withinMs`. Give `m`, `withinMs` or both. With `withinMs` the output also turns false by
 * itself once old `true` samples age out, without waiting for the next sample.
 */
export interface NOfMOptions {
  n: number;
  m?: number;
  withinMs?: number;
  scheduler?: SchedulerLike;
}

export function nOfM(options: NOfMOptions): OperatorFunction<boolean, boolean> {
  const { n, m, withinMs, scheduler = asyncScheduler } = options;
  if (m === undefined && withinMs === undefined) throw new RangeError('nOfM needs m, withinMs or both');
  return (source) =>
    new Observable<boolean>((subscriber) => {
      const times: number[] = [];
      const values: boolean[] = [];
      let last: boolean | undefined;
      let expiry: Subscription | undefined;

      const evaluate = (): void => {
        const now = scheduler.now();
        let count = 0;
        let nthNewestTrue = Number.NaN; // time of the n-th newest true sample: when it ages out, re-check
        for (let i = times.length - 1; i >= 0; i--) {
          if (withinMs !== undefined && now - times[i]! >= withinMs) break;
          if (values[i]) {
            count++;
            if (count === n) nthNewestTrue = times[i]!;
          }
        }
        const active = count >= n;
        if (active !== last) {
          last = active;
          subscriber.next(active);
        }
        expiry?.unsubscribe();
        expiry = undefined;
        if (active && withinMs !== undefined) {
          expiry = scheduler.schedule(evaluate, nthNewestTrue + withinMs - now);
        }
      };

      const subscription = source.subscribe({
        next(value) {
          times.push(scheduler.now());
          values.push(value);
          if (m !== undefined && times.length > m) {
            times.shift();
            values.shift();
          }
          if (withinMs !== undefined) {
            const now = scheduler.now();
            while (times.length > 0 && now - times[0]! >= withinMs) {
              times.shift();
              values.shift();
            }
          }
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
