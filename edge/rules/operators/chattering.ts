import type { OperatorFunction, SchedulerLike } from 'rxjs';
import { NONE, type None, type StepOperator, single, TICK, type Tick } from './step.js';

/** ISA-18.2 / EEMUA 191 practice: ≥ 3 activations within 1 min is a chattering alarm. */
export const CHATTERING_DEFAULTS = { count: 3, windowMs: 60_000 } as const;

export interface ChatteringOptions {
  count?: number;
  windowMs?: number;
  scheduler?: SchedulerLike;
}

/**
 * Given the time of the `count`-th newest activation, is the point chattering at `now`?
 * The window is half-open: activations at t and t + windowMs are not "within" one window.
 */
export function isChattering(oldestOfRecent: number | undefined, now: number, windowMs: number): boolean {
  return oldestOfRecent !== undefined && now - oldestOfRecent < windowMs;
}

/** `rises`: times of the most recent activations (at most `count`); `previous`: the last input. */
export interface ChatteringState {
  rises: number[];
  previous: boolean;
  out: boolean | null;
}

/** Records an activation at `ts` (keeping the newest `count`) and says whether it now chatters. */
export function recordActivation(rises: number[], ts: number, count: number, windowMs: number): boolean {
  rises.push(ts);
  if (rises.length > count) rises.shift();
  return isChattering(rises[rises.length - count], ts, windowMs);
}

/** When the chattering flag drops by itself (+Infinity: not chattering). */
export function chatteringEndsAt(rises: readonly number[], count: number, windowMs: number): number {
  return rises.length >= count ? rises[rises.length - count]! + windowMs : Number.POSITIVE_INFINITY;
}

export function chatteringOperator(
  options: Omit<ChatteringOptions, 'scheduler'> = {},
): StepOperator<boolean, ChatteringState, boolean> {
  const { count = CHATTERING_DEFAULTS.count, windowMs = CHATTERING_DEFAULTS.windowMs } = options;
  return {
    init: () => ({ rises: [], previous: false, out: null }),
    step(state, input: boolean | Tick, now): boolean | None {
      if (input !== TICK) {
        if (input && !state.previous) recordActivation(state.rises, now, count, windowMs);
        state.previous = input;
      }
      const flagged = isChattering(state.rises[state.rises.length - count], now, windowMs);
      if (flagged === state.out) return NONE;
      state.out = flagged;
      return flagged;
    },
    wakeAt: (state) =>
      state.out ? chatteringEndsAt(state.rises, count, windowMs) : Number.POSITIVE_INFINITY,
  };
}

/**
 * Flags a boolean condition as chattering: `true` once it has risen `count` times within
 * `windowMs`, `false` again once fewer than `count` rises lie within the window.
 */
export function chattering(options: ChatteringOptions = {}): OperatorFunction<boolean, boolean> {
  return single(chatteringOperator(options), options.scheduler);
}
