import type { OperatorFunction } from 'rxjs';
import { NONE, type None, type StepOperator, single, TICK, type Tick } from './step.js';

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

/** `seen`: a value has been judged (the first judgement is always an output). */
export interface HysteresisState {
  active: boolean;
  seen: boolean;
}

/** The hysteresis as a step operator; a value that is not a number leaves it as it was. */
export function hysteresisOperator(
  options: HysteresisOptions,
): StepOperator<unknown, HysteresisState, boolean> {
  return {
    init: () => ({ active: false, seen: false }),
    step(state, value: unknown | Tick): boolean | None {
      if (value === TICK || typeof value !== 'number') return NONE;
      const next = hysteresisStep(state.active, value, options);
      if (state.seen && next === state.active) return NONE;
      state.seen = true;
      state.active = next;
      return next;
    },
    wakeAt: () => Number.POSITIVE_INFINITY,
  };
}

/** Emits the first state, then every change of state; values in the deadband keep the state. */
export function hysteresis(options: HysteresisOptions): OperatorFunction<number, boolean> {
  return single(hysteresisOperator(options));
}
