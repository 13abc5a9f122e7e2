/**
 * Retry spacing for every process: one exponential ceiling and two ways of jittering it.
 *
 * The ceiling is initialMs × factor^step, capped at maxMs (step 0 is the first retry). Jitter follows
 * "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015): full jitter spreads a district of
 * gateways that reconnect after one outage; equal jitter (half fixed, half random) spreads them too
 * but never collapses to ~0, for retries that must keep knocking (an alarm). Deterministic callers
 * (the bus scheduler, whose tests count probes) use the ceiling alone.
 */

export interface ExponentialBackoff {
  /** Delay of the first retry (step 0). */
  initialMs: number;
  /** Cap, however many attempts failed. */
  maxMs: number;
  /** Growth per step; 2 (doubling) when omitted. */
  factor?: number;
}

/** The step is capped so that factor^step stays finite; any cap ≥ 1 ms is reached long before. */
const MAX_STEP = 30;

/** initialMs × factor^step, capped at maxMs; `step` is 0-based (negative counts as 0). */
export function exponentialDelayMs(policy: ExponentialBackoff, step: number): number {
  const s = Math.min(Math.max(0, step), MAX_STEP);
  return Math.min(policy.maxMs, policy.initialMs * (policy.factor ?? 2) ** s);
}

/** The same, counted in consecutive failures (≥ 1; the first failure waits initialMs). */
export function delayAfterFailuresMs(policy: ExponentialBackoff, failures: number): number {
  return exponentialDelayMs(policy, failures - 1);
}

/** random() clamped to [0, 1], so an injected source out of range cannot push past the ceiling. */
function unit(random: () => number): number {
  return Math.min(1, Math.max(0, random()));
}

/** Full jitter: a whole number of ms uniformly in [0, ceilingMs]. */
export function fullJitterMs(ceilingMs: number, random: () => number = Math.random): number {
  return Math.round(unit(random) * ceilingMs);
}

/** Equal jitter: a whole number of ms uniformly in [ceilingMs / 2, ceilingMs]. */
export function equalJitterMs(ceilingMs: number, random: () => number = Math.random): number {
  return Math.round(ceilingMs / 2 + (unit(random) * ceilingMs) / 2);
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, in ms; undefined when absent or unparsable. */
export function parseRetryAfter(value: unknown, now: number): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
