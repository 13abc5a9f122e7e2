import { map, merge, type Observable, type OperatorFunction } from 'rxjs';
import { NONE, type None, type StepOperator, single, TICK, type Tick } from './step.js';

/** The input that asks for a reset. */
export const RESET = 'reset' as const;

export interface LatchState {
  condition: boolean;
  latched: boolean;
  out: boolean | null;
}

/**
 * Latch (ISA-18.2 "latched" alarms: fire, gas high, manhole): once the condition is active the
 * output stays `true` until a reset arrives while the condition is `false`. A reset during an
 * active condition is refused (returns false), so nobody can reset a fire that is still burning.
 */
export function latchReset(state: LatchState): boolean {
  if (state.condition || !state.latched) return false;
  state.latched = false;
  return true;
}

export function latchOperator(): StepOperator<boolean | typeof RESET, LatchState, boolean> {
  return {
    init: () => ({ condition: false, latched: false, out: null }),
    step(state, input: boolean | typeof RESET | Tick): boolean | None {
      if (input === TICK) return NONE;
      if (input === RESET) latchReset(state);
      else {
        state.condition = input;
        if (input) state.latched = true;
      }
      if (state.latched === state.out) return NONE;
      state.out = state.latched;
      return state.latched;
    },
    wakeAt: () => Number.POSITIVE_INFINITY,
  };
}

export function latchUntilReset(reset$: Observable<unknown>): OperatorFunction<boolean, boolean> {
  return (source) => merge(reset$.pipe(map(() => RESET)), source).pipe(single(latchOperator()));
}
