import { DoorstepError, GatewayId, SitePath } from '../../protocol/index.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import { MemoryUplinkState } from './state.js';
import type { BacklogPace, BackoffPolicy, BatchLimits, UplinkOptions, UplinkStateStore } from './types.js';

export const DEFAULT_BATCH: BatchLimits = { rows: 2000, bytes: 1024 * 1024 };

export type ResolvedUplinkOptions = Omit<
  UplinkOptions,
  'batch' | 'backoff' | 'state' | 'clock' | 'timers' | 'random' | 'backlogPace'
> & {
  batch: BatchLimits;
  backoff: BackoffPolicy;
  state: UplinkStateStore;
  backlogPace: BacklogPace;
  requestTimeoutMs: number;
  intervalMs: number;
  heartbeatMs: number;
  healthEveryMs: number;
  alarmRetryMs: number;
  alarmRetryMaxMs: number;
  software: string;
  clock: NonNullable<UplinkOptions['clock']>;
  timers: NonNullable<UplinkOptions['timers']>;
  random: () => number;
};

const realTimers = {
  setTimeout: (callback: () => void, ms: number): unknown => {
    const handle = setTimeout(callback, ms);
    // The uplink's timers never keep a stopping process alive; start()/stop() own the lifecycle.
    handle.unref();
    return handle;
  },
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
};

/** Fills defaults and checks every option, reporting all problems at once (EDGE_ERR_UPLINK_OPTIONS). */
export function resolveUplinkOptions(options: UplinkOptions): ResolvedUplinkOptions {
  const problems: string[] = [];
  try {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push('baseUrl must be http(s)');
  } catch {
    problems.push(`baseUrl ${JSON.stringify(options.baseUrl)} is not a URL`);
  }
  if (!GatewayId.safeParse(options.gateway).success) problems.push('gateway must be a slug');
  if (!SitePath.safeParse(options.site).success)
    problems.push('site must be {district, town, community} slugs');
  if (typeof options.credentials !== 'function') problems.push('credentials must be a function');
  const batch = { ...DEFAULT_BATCH, ...options.batch };
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  const pace = options.backlogPace ?? { rowsPerSecond: 2000 };
  const positive: Array<[string, number | undefined]> = [
    ['batch.rows', batch.rows],
    ['batch.bytes', batch.bytes],
    ['requestTimeoutMs', options.requestTimeoutMs],
    ['intervalMs', options.intervalMs],
    ['heartbeatMs', options.heartbeatMs],
    ['healthEveryMs', options.healthEveryMs],
    ['backoff.baseMs', backoff.baseMs],
    ['backoff.maxMs', backoff.maxMs],
    ['backlogPace.rowsPerSecond', pace === 'max' ? undefined : pace.rowsPerSecond],
  ];
  for (const [name, value] of positive)
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) problems.push(`${name} must be > 0`);
  for (const [name, value] of [
    ['backoff.minMs', backoff.minMs],
    ['backoff.authMinMs', backoff.authMinMs],
    ['alarmRetryMs', options.alarmRetryMs],
    ['alarmRetryMaxMs', options.alarmRetryMaxMs],
  ] as const)
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) problems.push(`${name} must be ≥ 0`);
  if (backoff.maxMs < backoff.minMs) problems.push('backoff.maxMs must be ≥ backoff.minMs');
  if ((options.alarmRetryMaxMs ?? 4000) < (options.alarmRetryMs ?? 1000))
    problems.push('alarmRetryMaxMs must be ≥ alarmRetryMs');
  if (problems.length > 0)
    throw new DoorstepError('EDGE_ERR_UPLINK_OPTIONS', { reason: problems.join('; ') });
  return {
    ...options,
    batch: { rows: Math.floor(batch.rows), bytes: Math.floor(batch.bytes) },
    backoff,
    state: options.state ?? new MemoryUplinkState(),
    backlogPace: pace,
    requestTimeoutMs: options.requestTimeoutMs ?? 8000,
    intervalMs: options.intervalMs ?? 5000,
    heartbeatMs: options.heartbeatMs ?? 30_000,
    healthEveryMs: options.healthEveryMs ?? 30_000,
    alarmRetryMs: options.alarmRetryMs ?? 1000,
    alarmRetryMaxMs: options.alarmRetryMaxMs ?? 4000,
    software: options.software ?? 'doorstep-edge',
    clock: options.clock ?? { now: () => Date.now() },
    timers: options.timers ?? realTimers,
    random: options.random ?? Math.random,
  };
}
