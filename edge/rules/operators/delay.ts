import type { OperatorFunction, SchedulerLike } from 'rxjs';
import { NONE, type None, type StepOperator, single, TICK, type Tick } from './step.js';

/**
 * On-delay and off-delay (ISA-18.2 §11.4 "alarm delay": a condition must persist before it
 * annunciates; a cleared condition must stay clear before the alarm returns to normal). One state
 * machine for both: `held` is the value that has to persist for `delayMs`; the other passes at once.
 *
 * `input` is the last input (null before the first), `since` when it last changed, `out` the last
 * output (null before the first). The time the held value took effect is `since + delayMs`.
 */
export interface DelayState {
  input: boolean | null;
  since: number;
  out: boolean | null;
}

export function delayInit(now: number): DelayState {
  return { input: null, since: now, out: null };
}

/** The step of an on-delay (`held` true) or off-delay (`held` false). */
export function delayStep(
  state: DelayState,
  input: boolean | Tick,
  now: number,
  delayMs: number,
  held: boolean,
): boolean | None {
  if (input !== TICK) {
    if (input !== state.input) {
      state.input = input;
      state.since = now;
    }
    if (input !== held) {
      if (state.out === input) return NONE;
      state.out = input;
      return input;
    }
  }
  if (state.input === held && state.out !== held && now >= state.since + delayMs) {
    state.out = held;
    return held;
  }
  return NONE;
}

/** When a delay completes without further input (+Infinity: nothing pending). */
export function delayWakeAt(state: DelayState, delayMs: number, held: boolean): number {
  return state.input === held && state.out !== held ? state.since + delayMs : Number.POSITIVE_INFINITY;
}

export function onDelayOperator(delayMs: number): StepOperator<boolean, DelayState, boolean> {
  return {
    init: delayInit,
    step: (state, input, now) => delayStep(state, input, now, delayMs, true),
    wakeAt: (state) => delayWakeAt(state, delayMs, true),
  };
}

export function offDelayOperator(delayMs: number): StepOperator<boolean, DelayState, boolean> {
  return {
    init: delayInit,
    step: (state, input, now) => delayStep(state, input, now, delayMs, false),
    wakeAt: (state) => delayWakeAt(state, delayMs, false),
  };
}

/** `true` is passed on only after it has held for `delayMs` without a `false` in between. */
export function onDelay(delayMs: number, scheduler?: SchedulerLike): OperatorFunction<boolean, boolean> {
  return single(onDelayOperator(delayMs), scheduler);
}

/** `false` is passed on only after it has held for `delayMs` without a `true` in between. */
export function offDelay(delayMs: number, scheduler?: SchedulerLike): OperatorFunction<boolean, boolean> {
  return single(offDelayOperator(delayMs), scheduler);
}
