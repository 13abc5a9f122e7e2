import { Observable, type OperatorFunction } from 'rxjs';

/**
 * A threshold with a deadband (ISA-18.2 practice: an alarm clears only once the value is back past
 * the limit by the deadband, so noise around the limit does not chatter).
 * rising: active when value > threshold (≥ with `inclusive`), inactive again below threshold − deadband.
 * falling: active when value < threshold (≤ with `inclusive`), inactive again above threshold + deadband.
 */
export interface HysteresisOptions {
  threshold: number;
  deadband?: number;
  direction: 'rising' | 'falling';
  inclusive?: boolean;
}

/** One step of the hysteresis: the new active state given the previous one and a value. */
export function hysteresisStep(active: boolean, value: number, options: HysteresisOptions): boolean {
  const { threshold, direction, inclusive = false } = options;
  const deadband = options.deadband ?? 0;
  if (direction === 'rising') {
    if (active)
      return deadband > 0
        ? value >= threshold - deadband
        : inclusive
          ? value >= threshold
          : value > threshold;
    return inclusive ? value >= threshold : value > threshold;
  }
  if (active)
    return deadband > 0 ? value <= threshold + deadband : inclusive ? value <= threshold : value < threshold;
  return inclusive ? value <= threshold : value < threshold;
}

/** Emits the first state, then every change of state; values in the deadband keep the state. */
export function hysteresis(options: HysteresisOptions): OperatorFunction<number, boolean> {
  return (source) =>
    new Observable<boolean>((subscriber) => {
      let active = false;
      let first = true;
      return source.subscribe({
        next(value) {
          const next = hysteresisStep(active, value, options);
          if (first || next !== active) {
            first = false;
            active = next;
            subscriber.next(next);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
