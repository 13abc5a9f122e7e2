import type { Logger } from '../../common/log.js';
import type { DownlinkCommand, GatewayHealthReport, SitePath, UplinkResponse } from '../../protocol/index.js';
import type { Outbox, OutboxClass } from '../outbox/types.js';

/** Milliseconds since the epoch, injected so tests control time. */
export interface UplinkClock {
  now(): number;
}

/** One-shot timers, injected so tests fire backoff and pacing timers by hand. */
export interface UplinkTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Exponential backoff with full jitter: delay = random() × min(maxMs, baseMs × 2^(failures−1)),
 * never below minMs ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015: full jitter
 * spreads a district of gateways reconnecting after one outage).
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** Floor, so random() ≈ 0 never turns into a tight retry loop. */
  minMs: number;
  /** After 401/403 wait at least this long (a wrong secret will not fix itself in a second). */
  authMinMs: number;
}

export interface BatchLimits {
  /** Most rows per batch (outbox.nextBatch maxRows). */
  rows: number;
  /** Most payload bytes per batch (outbox.nextBatch maxBytes, raw JSON of the payloads). */
  bytes: number;
}

/** How backlog telemetry is replayed once the live edge is sent: rows per second, or as fast as possible. */
export type BacklogPace = { rowsPerSecond: number } | 'max';

/** The gateway's persisted batch numbering and the batch in flight (a resend keeps both). */
export interface UplinkStateStore {
  load(): PersistedUplinkState | undefined;
  save(state: PersistedUplinkState): void;
  readonly description: string;
}

export interface PersistedUplinkState {
  v: 1;
  gateway: string;
  /** The batchSeq the next new batch gets; never reused. */
  nextBatchSeq: number;
  inflight?: PersistedBatch | undefined;
}

/** A built, encoded batch not yet acknowledged: resent byte for byte until it is. */
export interface PersistedBatch {
  batchSeq: number;
  sentAt: number;
  seqs: number[];
  counts: Record<OutboxClass, number>;
  rawBytes: number;
  /** The gzip body, base64. */
  body: string;
}

export type FailureReason =
  | 'network'
  | 'timeout'
  | 'server'
  | 'throttled'
  | 'auth'
  | 'too_large'
  | 'malformed'
  | 'rejected'
  | 'bad_response'
  /** The gateway's own storage failed (a full disk: the outbox could not read, expire or ack). */
  | 'storage'
  /** Any other failure inside the gateway while preparing or finishing a step. */
  | 'internal';

export const FAILURE_REASONS: readonly FailureReason[] = [
  'network',
  'timeout',
  'server',
  'throttled',
  'auth',
  'too_large',
  'malformed',
  'rejected',
  'bad_response',
  'storage',
  'internal',
];

/** What one sync step did. */
export type SyncOutcome =
  | { kind: 'idle' }
  | { kind: 'acked'; batchSeq: number; rows: number; full: boolean; heartbeat: boolean }
  | { kind: 'failed'; batchSeq: number; reason: FailureReason; status?: number; retryAfterMs?: number }
  | { kind: 'quarantined'; rows: number; delivered: number; reason: string }
  | { kind: 'split'; rows: number };

/** Passed to onResponse after every request (metrics). */
export interface ResponseInfo {
  batchSeq: number;
  status: number | undefined;
  outcome: 'acked' | FailureReason;
  rttMs: number;
  rows: number;
  rawBytes: number;
  wireBytes: number;
  response?: UplinkResponse;
}

export interface UplinkOptions {
  /** e.g. https://cloud.example.org — the uplink POSTs to {baseUrl}/v1/sync. */
  baseUrl: string;
  gateway: string;
  site: SitePath;
  /** Returns the current gateway secret; called for every request, so rotation needs no restart. */
  credentials: () => string | Promise<string>;
  outbox: Outbox;
  /** Where batchSeq and the in-flight batch live (FileUplinkState beside the outbox); default in memory. */
  state?: UplinkStateStore;
  batch?: Partial<BatchLimits>;
  /** Whole-request deadline (connect + upload + response), ms; default 8000 (GB 26875.1: alarm ≤ 10 s). */
  requestTimeoutMs?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Backlog replay pace; default 2000 rows/s. */
  backlogPace?: BacklogPace;
  /** How often an idle uplink looks at the outbox for new telemetry/events, ms; default 5000. */
  intervalMs?: number;
  /** An empty (health-only) batch goes out after this long without a request, ms; it also fetches commands. Default 30 000. */
  heartbeatMs?: number;
  /** Health is attached to a batch at most this often, ms (heartbeats always carry it); default 30 000. */
  healthEveryMs?: number;
  /**
   * While an alarm is pending, retries come at most alarmRetryMaxMs apart however long the outage
   * (exponential from alarmRetryMs, half-jittered); notify() during backoff retries no sooner than
   * alarmRetryMs after the last attempt. Defaults 1000 and 4000 ms.
   */
  alarmRetryMs?: number;
  alarmRetryMaxMs?: number;
  /** Software name/version in the health report. */
  software?: string;
  clock?: UplinkClock;
  timers?: UplinkTimers;
  random?: () => number;
  logger?: Logger;
  /** Extra health (devices, …); the uplink fills in outbox figures and clockOffsetMs. */
  healthReport?: () => Partial<GatewayHealthReport>;
  /** Commands from the cloud; the gateway answers each with a `command_result` event in the outbox. */
  onCommands?: (commands: DownlinkCommand[]) => void;
  /** Called when the cloud names a config version other than the last one seen. */
  onConfigVersion?: (version: string, url: string | undefined) => void;
  /** The version the gateway runs, so an unchanged version does not fire onConfigVersion. */
  configVersion?: string;
  onResponse?: (info: ResponseInfo) => void;
}

export interface UplinkStats {
  state: 'stopped' | 'idle' | 'sending' | 'pacing' | 'backoff';
  batches: { sent: number; acked: number; heartbeats: number; failed: Record<FailureReason, number> };
  rowsSent: Record<OutboxClass, number>;
  rowsAcked: Record<OutboxClass, number>;
  bytes: { raw: number; wire: number };
  lastSuccessAt: number | undefined;
  lastFailure: { at: number; reason: FailureReason; detail: string } | undefined;
  consecutiveFailures: number;
  backoff: { delayMs: number; nextAttemptAt: number } | undefined;
  quarantined: { batches: number; rows: number; alarmsIsolated: number; alarmsRescued: number };
  splits: number;
  batchLimits: BatchLimits;
  nextBatchSeq: number;
  /** Gateway − cloud, ms (RFC 5905 clock filter over recent samples); undefined before the first response. */
  clockOffsetMs: number | undefined;
  clockOffsetSamples: number;
  lastAppliedOffsetMs: number | undefined;
}
