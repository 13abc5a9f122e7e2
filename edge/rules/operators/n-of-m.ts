import type { OperatorFunction, SchedulerLike } from 'rxjs';
import { NONE, type None, type StepOperator, single, TICK, type Tick } from './step.js';

/**
 * N-of-M debounce (the "N times within T" filter of JetLinks/FastBee-style platforms): active when
 * at least `n` of the last `m` samples were `true` and, with `withinMs`, those samples arrived within
 * the last `withinMs`. Give `m`, `withinMs` or both. With `withinMs` the output also turns false by
 * itself once old `true` samples age out, without waiting for the next sample.
 */
export interface NOfMOptions {
  n: number;
  m?: number;
  withinMs?: number;
  scheduler?: SchedulerLike;
}

/** The window's samples; `expiry`: when the n-th newest true sample ages out (null: not active). */
export interface NOfMState {
  times: number[];
  values: boolean[];
  expiry: number | null;
  out: boolean | null;
}

/** Samples kept at most when only `withinMs` bounds the window. */
const MAX_SAMPLES = 1024;

export function nOfMOperator(
  options: Omit<NOfMOptions, 'scheduler'>,
): StepOperator<boolean, NOfMState, boolean> {
  const { n, m, withinMs } = options;
  if (m === undefined && withinMs === undefined) throw new RangeError('nOfM needs m, withinMs or both');
  const keep = Math.min(m ?? MAX_SAMPLES, MAX_SAMPLES);
  return {
    init: () => ({ times: [], values: [], expiry: null, out: null }),
    step(state, input: boolean | Tick, now): boolean | None {
      const { times, values } = state;
      if (input !== TICK) {
        times.push(now);
        values.push(input);
        if (times.length > keep) {
          times.shift();
          values.shift();
        }
        if (withinMs !== undefined) {
          while (times.length > 0 && now - times[0]! >= withinMs) {
            times.shift();
            values.shift();
          }
        }
      }
      let count = 0;
      let nthNewestTrue = 0;
      for (let i = times.length - 1; i >= 0; i--) {
        if (withinMs !== undefined && now - times[i]! >= withinMs) break;
        if (values[i]) {
          count++;
          if (count === n) nthNewestTrue = times[i]!;
        }
      }
      const active = count >= n;
      state.expiry = active && withinMs !== undefined ? nthNewestTrue + withinMs : null;
      if (active === state.out) return NONE;
      state.out = active;
      return active;
    },
    wakeAt: (state) => state.expiry ?? Number.POSITIVE_INFINITY,
  };
}

export function nOfM(options: NOfMOptions): OperatorFunction<boolean, boolean> {
  return single(nOfMOperator(options), options.scheduler);
}
