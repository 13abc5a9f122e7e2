import {
  asyncScheduler,
  concat,
  distinctUntilChanged,
  map,
  type OperatorFunction,
  of,
  type SchedulerLike,
  startWith,
  switchMap,
  timer,
} from 'rxjs';

/**
 * Staleness: emits `false` at subscription and whenever data arrives, `true` once nothing has
 * arrived for `afterMs` (counted from subscription for a source that never emits).
 */
export function staleAfter<T>(
  afterMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<T, boolean> {
  return (source) =>
    source.pipe(
      map(() => true),
      startWith(true),
      switchMap(() => concat(of(false), timer(afterMs, scheduler).pipe(map(() => true)))),
      distinctUntilChanged(),
    );
}
