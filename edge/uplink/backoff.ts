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

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when absent or unparsable. */
export function parseRetryAfter(value: unknown, now: number): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
