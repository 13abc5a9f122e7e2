import type { BackoffPolicy } from './types.js';

export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: 1000,
  maxMs: 60_000,
  minMs: 250,
  authMinMs: 30_000,
};

/**
 * Delay before the next attempt after `failures` consecutive failures (≥ 1), full jitter:
 * random() × min(maxMs, baseMs × 2^(failures−1)) ("Exponential Backoff And Jitter", AWS
 * Architecture Blog, 2015). `floorMs` raises the result (Retry-After, auth), capped at maxMs.
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  failures: number,
  random: () => number,
  floorMs = 0,
): number {
  const exponent = Math.min(Math.max(0, failures - 1), 30);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const r = Math.min(1, Math.max(0, random()));
  const jittered = Math.round(r * ceiling);
  return Math.min(policy.maxMs, Math.max(policy.minMs, floorMs, jittered));
}

/**
 * Delay before the next attempt while an alarm is pending: min(maxMs, baseMs × 2^(failures−1)),
 * "equal jitter" (half fixed, half random; same AWS article) so it never collapses to ~0 and a
 * district of gateways still spreads out. Bounded by maxMs however many attempts failed: an alarm
 * keeps knocking every few seconds through any outage (GB 26875.1-2011 §4.1.2.1: 10 s to the centre).
 */
export function alarmRetryDelayMs(
  baseMs: number,
  maxMs: number,
  failures: number,
  random: () => number,
): number {
  const exponent = Math.min(Math.max(0, failures - 1), 30);
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling / 2 + (r * ceiling) / 2);
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when absent or unparsable. */
export function parseRetryAfter(value: unknown, now: number): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
