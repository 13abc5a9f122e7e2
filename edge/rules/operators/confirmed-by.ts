import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';

/**
 * Two independent alarm sources ANDed (GB 50116-2013 §4.1.6; GB 55036-2022 §12.0.11: automatic
 * linkage needs two independent alarm signals). Active while both are `true` and their latest
 * rising edges lie within `windowMs` of each other (scheduler time), so a detector stuck in alarm
 * for a day does not confirm an unrelated alarm elsewhere.
 */
export function confirmedBy(
  other$: Observable<boolean>,
  windowMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<boolean, boolean> {
  return (source) =>
    new Observable<boolean>((subscriber) => {
      let own = false;
      let ownSince = 0;
      let other = false;
      let otherSince = 0;
      let last: boolean | undefined;
      const evaluate = (): void => {
        const active = own && other && Math.abs(ownSince - otherSince) <= windowMs;
        if (active !== last) {
          last = active;
          subscriber.next(active);
        }
      };
      const otherSubscription = other$.subscribe({
        next(value) {
          if (value && !other) otherSince = scheduler.now();
          other = value;
          evaluate();
        },
        error: (error: unknown) => subscriber.error(error),
      });
      const ownSubscription = source.subscribe({
        next(value) {
          if (value && !own) ownSince = scheduler.now();
          own = value;
          evaluate();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        otherSubscription.unsubscribe();
        ownSubscription.unsubscribe();
      };
    });
}

/** `allOf(a$, b$, windowMs)`: the symmetric spelling of `a$.pipe(confirmedBy(b$, windowMs))`. */
export function allOf(
  first$: Observable<boolean>,
  second$: Observable<boolean>,
  windowMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): Observable<boolean> {
  return first$.pipe(confirmedBy(second$, windowMs, scheduler));
}
