import type { OperatorFunction, SchedulerLike } from 'rxjs';
import { NONE, type None, type StepOperator, single, TICK, type Tick } from './step.js';

/**
 * No data for T (`stale`), or the same value for T (`unchanged`: a heartbeat that stopped toggling
 * or stopped arriving). `last`: when data (stale) or a change (unchanged) last came; `value`: the
 * last value (unchanged); `armed`: an `unchanged` watch counts only once the point has reported, so
 * devices without the point never alarm; `out`: the last output (null before the first).
 */
export interface StaleState {
  last: number;
  value: unknown;
  armed: boolean;
  out: boolean | null;
}

export interface StaleOptions {
  afterMs: number;
  /** `unchanged`: only a changed value counts as data, and the watch is armed by the first one. */
  onChange?: boolean;
}

export function staleOperator(options: StaleOptions): StepOperator<unknown, StaleState, boolean> {
  const { afterMs, onChange = false } = options;
  const operator: StepOperator<unknown, StaleState, boolean> = {
    init: (now) => ({ last: now, value: null, armed: !onChange, out: null }),
    step(state, input: unknown | Tick, now): boolean | None {
      if (input !== TICK) {
        if (!onChange || !state.armed || input !== state.value) {
          state.armed = true;
          state.value = onChange ? input : null;
          state.last = now;
        }
      }
      const stale = state.armed && now >= state.last + afterMs;
      if (stale === state.out) return NONE;
      state.out = stale;
      return stale;
    },
    wakeAt: (state) => (state.armed && state.out !== true ? state.last + afterMs : Number.POSITIVE_INFINITY),
    tickAtStart: true,
  };
  return operator;
}

/**
 * After a restart the time the gateway was down is not silence of the device: a watch that was not
 * stale starts counting again from `now` (a stale one stays stale until data arrives).
 */
export function resumeStale(state: StaleState, now: number): void {
  if (state.out !== true) state.last = now;
}

/**
 * Staleness: emits `false` at subscription and whenever data arrives, `true` once nothing has
 * arrived for `afterMs` (counted from subscription for a source that never emits).
 */
export function staleAfter<T>(afterMs: number, scheduler?: SchedulerLike): OperatorFunction<T, boolean> {
  return single(staleOperator({ afterMs }), scheduler) as OperatorFunction<T, boolean>;
}
