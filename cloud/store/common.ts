/**
 * Small pieces every adapter shares: scope checks, query limits, time constants and the
 * "closed" guard. Kept here so the memory, SQLite and PostgreSQL adapters agree to the letter.
 */
import { DoorstepError, ScopePath, type SitePath } from '../../protocol/index.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** A query without `limit` returns at most this many rows; larger limits are capped at MAX. */
export const DEFAULT_QUERY_LIMIT = 1000;
export const MAX_QUERY_LIMIT = 50_000;

/** Validates a scope (docs/architecture.md invariant 11): a malformed scope is an error, never "everything". */
export function checkScope(scope: string): string {
  if (!ScopePath.safeParse(scope).success) throw new DoorstepError('CLOUD_ERR_STORE_SCOPE', { scope });
  return scope;
}

export function queryLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit) || limit <= 0) return DEFAULT_QUERY_LIMIT;
  return Math.min(Math.floor(limit), MAX_QUERY_LIMIT);
}

/**
 * Scope test on a stored site path string. SQL adapters express the same as
 * `path = scope OR (path >= scope || '/' AND path < scope || '0')` — a byte-order range ('0' is the
 * character after '/') that an index can serve, and which, unlike LIKE, does not treat the `_`
 * of a slug as a wildcard.
 */
export function pathInScope(scope: string, path: string): boolean {
  return path === scope || path.startsWith(`${scope}/`);
}

/** Lower and upper bound of the scope range described above. */
export function scopeRange(scope: string): [string, string] {
  return [`${scope}/`, `${scope}0`];
}

export function sitePathString(site: SitePath): string {
  return `${site.district}/${site.town}/${site.community}`;
}

export function siteFromPath(path: string): SitePath {
  const [district = '', town = '', community = ''] = path.split('/');
  return { district, town, community };
}

export function bucketStart(ts: number, size: number): number {
  return Math.floor(ts / size) * size;
}

export function closedError(operation: string): DoorstepError {
  return new DoorstepError('CLOUD_ERR_STORE_CLOSED', { operation });
}

/** Removes keys whose value is undefined or null, so records compare equal across adapters. */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) out[k] = v;
  return out as T;
}

/** Longest pause of a bulk batch for alarm-sized requests in flight, ms (bulk is never starved). */
export const SMALL_PAUSE_MS = 250;

/**
 * Resolves once `counter[0]` (IngestMeta.smallInFlight) is zero, or after `maxWaitMs`. Works on any
 * thread: the counter is shared memory.
 */
export async function whenNoneInFlight(counter: Int32Array, maxWaitMs = SMALL_PAUSE_MS): Promise<void> {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const value = Atomics.load(counter, 0);
    const left = deadline - performance.now();
    if (value === 0 || left <= 0) return;
    const waited = Atomics.waitAsync(counter, 0, value, left);
    if (waited.async) {
      // A waitAsync timeout keeps no handle on the event loop; the timer does, so the wait ends on
      // time even where nothing else is pending.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([waited.value, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
  }
}

/** How background maintenance (rollup, retention) is to share the store with requests. */
export interface BackgroundOptions {
  /** Alarm-sized requests in flight (the ingest service's BulkGate counter): pause while non-zero. */
  smallInFlight?: Int32Array;
  /**
   * Resolves when bulk ingest has been idle for `quietMs`, or after `maxWaitMs` (BulkGate.whenIdle):
   * each slice waits for it, so a backlog drain is not slowed by the rollup of what it has stored.
   */
  whenBulkIdle?: (maxWaitMs: number, quietMs: number) => Promise<void>;
  /** Aborted: stop after the current slice (what is done stays done; the next run goes on). */
  signal?: AbortSignal;
}

/** Longest wait of a maintenance slice for bulk ingest: with bulk never idle, ≥ 1 slice a second. */
export const BULK_DEFER_MS = 1_000;
/**
 * How long bulk ingest must have been idle before a maintenance slice runs (BulkGate.whenIdle):
 * longer than the gap between one draining gateway's batches (tens of ms), so a backlog drain
 * keeps the thread (measured, 8.64 M-reading drain: 192 s with rollup slices in those gaps, 103 s
 * without).
 */
export const BULK_QUIET_MS = 250;

export interface SliceBounds {
  /** Work per slice to aim for, ms: what an alarm may have to wait for once a slice has started. */
  sliceMs: number;
  /** Size of the first slice, and the bounds every later size is clamped to. */
  start: number;
  min: number;
  max: number;
}

/** The next slice size: scaled so the next slice takes about `sliceMs`, within the bounds. */
export function nextSliceSize(size: number, tookMs: number, b: SliceBounds): number {
  const scaled = Math.round((size * b.sliceMs) / Math.max(tookMs, 0.1));
  return Math.min(b.max, Math.max(b.min, scaled));
}

/**
 * Runs background work as a series of slices (`step(size)` does one, in its own transaction, and
 * returns how much it did, or -1 when nothing was left), sized to take about `sliceMs` each. Between
 * slices it yields to the event loop; given `whenBulkIdle`, it lets bulk ingest go first (at most
 * BULK_DEFER_MS a slice), and given `smallInFlight`, it waits while alarm-sized requests are in
 * flight (at most SMALL_PAUSE_MS each time) — so maintenance is never starved. Returns the total.
 */
export async function inSlices(
  step: (size: number) => number | Promise<number>,
  bounds: SliceBounds,
  options: BackgroundOptions = {},
): Promise<number> {
  let size = bounds.start;
  let total = 0;
  for (;;) {
    if (options.signal?.aborted) return total;
    await options.whenBulkIdle?.(BULK_DEFER_MS, BULK_QUIET_MS);
    if (options.smallInFlight) await whenNoneInFlight(options.smallInFlight);
    if (options.signal?.aborted) return total;
    const started = performance.now();
    const n = await step(size);
    if (n < 0) return total;
    total += n;
    size = nextSliceSize(size, performance.now() - started, bounds);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
