import type { OperatorFunction, SchedulerLike } from 'rxjs';
import { isInSchedule, nextScheduleEdge, type ScheduleWindow } from '../schedule.js';
import { NONE, type None, type StepOperator, single, TICK, type Tick } from './step.js';

/** `condition`: the last input; `edge`: the next window edge that can change the output (null: none). */
export interface ScheduleState {
  condition: boolean;
  edge: number | null;
  out: boolean | null;
}

/**
 * Passes the condition only inside the given day/night windows (Asia/Shanghai, fixed UTC+8 — see
 * schedule.ts; `holidays`, local dates YYYY-MM-DD, are outside every window). While the condition is
 * `true` the output also changes at window edges on its own, so a vehicle parked before the night
 * window opens becomes active when it opens.
 */
export function scheduleOperator(
  windows: readonly ScheduleWindow[],
  holidays: readonly string[] = [],
): StepOperator<boolean, ScheduleState, boolean> {
  return {
    init: () => ({ condition: false, edge: null, out: null }),
    step(state, input: boolean | Tick, now): boolean | None {
      if (input !== TICK) state.condition = input;
      const active = state.condition && isInSchedule(windows, now, holidays);
      // Only a true condition can change the output at an edge; idle rules need no timer.
      state.edge = state.condition && windows.length > 0 ? nextScheduleEdge(windows, now) : null;
      if (active === state.out) return NONE;
      state.out = active;
      return active;
    },
    wakeAt: (state) => state.edge ?? Number.POSITIVE_INFINITY,
  };
}

export function scheduleWindow(
  windows: readonly ScheduleWindow[],
  scheduler?: SchedulerLike,
  holidays: readonly string[] = [],
): OperatorFunction<boolean, boolean> {
  return single(scheduleOperator(windows, holidays), scheduler);
}
