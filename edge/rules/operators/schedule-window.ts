import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { isInSchedule, nextScheduleEdge, type ScheduleWindow } from '../schedule.js';

/**
 * Passes the condition only inside the given day/night windows (Asia/Shanghai, fixed UTC+8 — see
 * schedule.ts). While the condition is `true` the output also changes at window edges on its own,
 * so a vehicle parked before the night window opens becomes active when it opens.
 */
export function scheduleWindow(
  windows: readonly ScheduleWindow[],
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<boolean, boolean> {
  return (source) =>
    new Observable<boolean>((subscriber) => {
      let condition = false;
      let last: boolean | undefined;
      let edgeTimer: Subscription | undefined;

      const evaluate = (): void => {
        const now = scheduler.now();
        const active = condition && isInSchedule(windows, now);
        if (active !== last) {
          last = active;
          subscriber.next(active);
        }
        edgeTimer?.unsubscribe();
        edgeTimer = undefined;
        // Only a true condition can change the output at an edge; idle rules need no timer.
        if (condition && windows.length > 0) {
          edgeTimer = scheduler.schedule(evaluate, nextScheduleEdge(windows, now) - now);
        }
      };

      const subscription = source.subscribe({
        next(value) {
          condition = value;
          evaluate();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        edgeTimer?.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
