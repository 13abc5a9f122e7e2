import { map, merge, type Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { NONE, type None, type StepOperator, single, TICK, type Tick } from './step.js';

/**
 * Two independent alarm sources ANDed (GB 50116-2013 §4.1.6; GB 55036-2022 §12.0.11: automatic
 * linkage needs two independent alarm signals). Active while both are `true` and their latest
 * rising edges lie within `windowMs` of each other, so a detector stuck in alarm for a day does not
 * confirm an unrelated alarm elsewhere.
 */
export function isConfirmed(
  own: boolean,
  ownSince: number,
  other: boolean,
  otherSince: number,
  windowMs: number,
): boolean {
  return own && other && Math.abs(ownSince - otherSince) <= windowMs;
}

export interface ConfirmState {
  own: boolean;
  ownSince: number;
  other: boolean;
  otherSince: number;
  out: boolean | null;
}

/** Input: which source (0 own, 1 other) and its value. */
export type ConfirmInput = readonly [0 | 1, boolean];

export function confirmOperator(windowMs: number): StepOperator<ConfirmInput, ConfirmState, boolean> {
  return {
    init: () => ({ own: false, ownSince: 0, other: false, otherSince: 0, out: null }),
    step(state, input: ConfirmInput | Tick, now): boolean | None {
      if (input === TICK) return NONE;
      const [side, value] = input;
      if (side === 0) {
        if (value && !state.own) state.ownSince = now;
        state.own = value;
      } else {
        if (value && !state.other) state.otherSince = now;
        state.other = value;
      }
      const active = isConfirmed(state.own, state.ownSince, state.other, state.otherSince, windowMs);
      if (active === state.out) return NONE;
      state.out = active;
      return active;
    },
    wakeAt: () => Number.POSITIVE_INFINITY,
  };
}

export function confirmedBy(
  other$: Observable<boolean>,
  windowMs: number,
  scheduler?: SchedulerLike,
): OperatorFunction<boolean, boolean> {
  return (source) =>
    merge(
      other$.pipe(map((value): ConfirmInput => [1, value])),
      source.pipe(map((value): ConfirmInput => [0, value])),
    ).pipe(single(confirmOperator(windowMs), scheduler));
}

/** `allOf(a$, b$, windowMs)`: the symmetric spelling of `a$.pipe(confirmedBy(b$, windowMs))`. */
export function allOf(
  first$: Observable<boolean>,
  second$: Observable<boolean>,
  windowMs: number,
  scheduler?: SchedulerLike,
): Observable<boolean> {
  return first$.pipe(confirmedBy(second$, windowMs, scheduler));
}
