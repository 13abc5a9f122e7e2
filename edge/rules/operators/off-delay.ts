import {
  asyncScheduler,
  distinctUntilChanged,
  map,
  type OperatorFunction,
  of,
  type SchedulerLike,
  switchMap,
  timer,
} from 'rxjs';

/**
 * Off-delay (ISA-18.2: held through brief dips): `false` is passed on only after it has held for
 * `delayMs` without a `true` in between; `true` passes at once.
 */
export function offDelay(
  delayMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<boolean, boolean> {
  return (source) =>
    source.pipe(
      distinctUntilChanged(),
      switchMap((active) => (active ? of(true) : timer(delayMs, scheduler).pipe(map(() => false)))),
      distinctUntilChanged(),
    );
}
