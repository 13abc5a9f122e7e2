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
 * On-delay (ISA-18.2: the condition must persist before it annunciates): `true` is passed on only
 * after it has held for `delayMs` without a `false` in between; `false` passes at once.
 */
export function onDelay(
  delayMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<boolean, boolean> {
  return (source) =>
    source.pipe(
      distinctUntilChanged(),
      switchMap((active) => (active ? timer(delayMs, scheduler).pipe(map(() => true)) : of(false))),
      distinctUntilChanged(),
    );
}
