import { type Observable, type OperatorFunction, Observable as RxObservable } from 'rxjs';

/**
 * Latch (ISA-18.2 "latched" alarms: fire, gas high, manhole): once the condition is active the
 * output stays `true` until `reset$` fires while the condition is `false`. A reset during an
 * active condition is ignored, so nobody can reset a fire that is still burning.
 */
export function latchUntilReset(reset$: Observable<unknown>): OperatorFunction<boolean, boolean> {
  return (source) =>
    new RxObservable<boolean>((subscriber) => {
      let condition = false;
      let latched = false;
      let emitted: boolean | undefined;
      const emit = (): void => {
        if (emitted !== latched) {
          emitted = latched;
          subscriber.next(latched);
        }
      };
      const resetSubscription = reset$.subscribe(() => {
        if (!condition && latched) {
          latched = false;
          emit();
        }
      });
      const sourceSubscription = source.subscribe({
        next(active) {
          condition = active;
          if (active) latched = true;
          emit();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        resetSubscription.unsubscribe();
        sourceSubscription.unsubscribe();
      };
    });
}
