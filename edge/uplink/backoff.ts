import { delayAfterFailuresMs, equalJitterMs, fullJitterMs } from '../../common/backoff.js';
import type { BackoffPolicy } from './types.js';

export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: 1000,
  maxMs: 60_000,
  minMs: 250,
  authMinMs: 30_000,
};

/**
 * The uplink's delay before the next attempt after `failures` consecutive failures (≥ 1): full
 * jitter over the exponential ceiling (common/backoff.ts), raised to minMs and `floorMs`
 * (Retry-After, auth), capped at maxMs.
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  failures: number,
  random: () => number,
  floorMs = 0,
): number {
  const ceiling = delayAfterFailuresMs({ initialMs: policy.baseMs, maxMs: policy.maxMs }, failures);
  return Math.min(policy.maxMs, Math.max(policy.minMs, floorMs, fullJitterMs(ceiling, random)));
}

/**
 * Delay before the next attempt while an alarm is pending: equal jitter over
 * min(maxMs, baseMs × 2^(failures−1)), so it never collapses to ~0 and a district of gateways still
 * spreads out. Bounded by maxMs however many attempts failed: an alarm keeps knocking every few
 * seconds through any outage (GB 26875.1-2011 §4.1.2.1: 10 s to the centre).
 */
export function alarmRetryDelayMs(
  baseMs: number,
  maxMs: number,
  failures: number,
  random: () => number,
): number {
  return equalJitterMs(delayAfterFailuresMs({ initialMs: baseMs, maxMs }, failures), random);
}
