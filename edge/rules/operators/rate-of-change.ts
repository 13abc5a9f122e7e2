import type { OperatorFunction, SchedulerLike } from 'rxjs';
import { NONE, type None, type StepOperator, single, TICK, type Tick } from './step.js';

/**
 * Rate of change in units per second over a sliding window: (newest − oldest) / elapsed, using the
 * samples that arrived within the last `windowMs`. Fewer than two samples, or no elapsed time, give
 * a rate of 0. `times`/`values` hold the window's samples (bounded by `maxSamples`, oldest dropped).
 */
export interface RateState {
  times: number[];
  values: number[];
  rate: number;
  out: boolean | null;
}

/** Samples kept per series at most: a fast poller in a long window must not grow without bound. */
const MAX_SAMPLES = 256;

export function rateInit(): RateState {
  return { times: [], values: [], rate: 0, out: null };
}

/** Adds a sample at `now` and returns the rate over the window (units/s). */
export function rateStep(state: RateState, value: number, now: number, windowMs: number): number {
  const { times, values } = state;
  times.push(now);
  values.push(value);
  let drop = 0;
  while (drop < times.length - 1 && (now - times[drop]! > windowMs || times.length - drop > MAX_SAMPLES))
    drop++;
  if (drop > 0) {
    times.splice(0, drop);
    values.splice(0, drop);
  }
  const elapsed = now - times[0]!;
  state.rate = elapsed > 0 ? ((value - values[0]!) * 1000) / elapsed : 0;
  return state.rate;
}

export interface RateOfChangeOptions {
  windowMs: number;
  /** Active while the rate (units/s) is above this (a fast rise, e.g. a gas leak building up). */
  above?: number;
  /** Active while the rate is below this (a fast fall, e.g. a burst pipe: give a negative figure). */
  below?: number;
  scheduler?: SchedulerLike;
}

/** `true` while the rate of change crosses `above` or `below`; non-numbers leave it unchanged. */
export function rateOfChangeOperator(
  options: Omit<RateOfChangeOptions, 'scheduler'>,
): StepOperator<unknown, RateState, boolean> {
  const { windowMs, above, below } = options;
  return {
    init: rateInit,
    step(state, value: unknown | Tick, now): boolean | None {
      if (value === TICK || typeof value !== 'number') return NONE;
      const rate = rateStep(state, value, now, windowMs);
      const active = (above !== undefined && rate > above) || (below !== undefined && rate < below);
      if (active === state.out) return NONE;
      state.out = active;
      return active;
    },
    wakeAt: () => Number.POSITIVE_INFINITY,
  };
}

/** Every sample's rate (units/s). */
export function ratePerSecond(windowMs: number, scheduler?: SchedulerLike): OperatorFunction<number, number> {
  return single<number, RateState, number>(
    {
      init: rateInit,
      step: (state, value, now) => (value === TICK ? NONE : rateStep(state, value, now, windowMs)),
      wakeAt: () => Number.POSITIVE_INFINITY,
    },
    scheduler,
  );
}

/** `true` while the rate of change crosses `above` or `below`; emits the first state and changes. */
export function rateOfChange(options: RateOfChangeOptions): OperatorFunction<number, boolean> {
  return single(rateOfChangeOperator(options), options.scheduler);
}
