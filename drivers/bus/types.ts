import type { ExponentialBackoff } from '../../common/backoff.js';
import type { Logger } from '../../common/log.js';
import type { DoorstepError } from '../../protocol/errors.js';
import type { Link, SerialSettings } from '../link/types.js';
import type { Clock } from '../modbus/clock.js';
import type { ModbusTable, WritableTable } from '../modbus/pdu.js';

export type PollPriority = 'critical' | 'normal' | 'diagnostic';

/** Lower runs first when several blocks are due at once. */
export const PRIORITY_RANK: Record<PollPriority, number> = { critical: 0, normal: 1, diagnostic: 2 };

/** One merged read (a profile's read plan entry): ≤ 125 registers or ≤ 2000 bits. */
export interface PollBlock {
  id: string;
  table: ModbusTable;
  address: number;
  count: number;
  /** Poll period; 0 = as fast as the bus allows (the block is due again as soon as it was read). */
  intervalMs: number;
  priority: PollPriority;
}

export interface TcpEndpoint {
  host: string;
  port: number;
}

/** Everything the scheduler polls on one device. */
export interface PollTask {
  device: string;
  unitId: number;
  /** Reply timeout of one transaction. */
  timeoutMs: number;
  /** Extra attempts of a failed transaction while the device is online. */
  retries: number;
  /**
   * RTU: how long the line stays closed after a timeout of this device so that its late reply is
   * discarded rather than taken for the next request's answer (default timeoutMs; never < t3.5).
   */
  lateReplyGuardMs?: number;
  blocks: PollBlock[];
  /** Modbus TCP only: the device's (or its gateway's) address; one connection per endpoint. */
  endpoint?: TcpEndpoint;
}

export interface PollResult {
  device: string;
  blockId: string;
  ts: number;
  /** Registers for holding/input blocks, bits for coil/discrete blocks. */
  values: number[] | boolean[];
}

export interface PollFailure {
  device: string;
  blockId: string;
  ts: number;
  error: DoorstepError;
}

export interface WriteCommand {
  table: WritableTable;
  address: number;
  /** One value uses function 5/6, several use 15/16. */
  values: number[] | boolean[];
}

export interface StallEvent {
  bus: string;
  stalled: boolean;
  /** DRV_ERR_BUS_STALLED while stalled. */
  error?: DoorstepError;
}

export interface BusSchedulerOptions {
  /** Bus name for logs, errors and stats, e.g. `rs485-1`. */
  bus: string;
  protocol: 'rtu' | 'tcp';
  /**
   * Makes a fresh, unopened link. RTU: called without an endpoint (the bus's one port). TCP:
   * called with a device endpoint; one link per endpoint. Re-invoked on every reconnect, so a
   * by-id serial path that reappears after a replug is opened afresh.
   */
  createLink: (endpoint?: TcpEndpoint) => Link;
  /** RTU line settings, for t3.5 (default 9600 8E1). */
  serial?: SerialSettings;
  /** Floor of the RTU inter-frame gap (default 2 ms) and quiet time after a failure (default 20 ms). */
  minSilentMs?: number;
  flushQuietMs?: number;
  /** Failed transactions in a row before a device is declared offline (default 3). */
  offlineAfter?: number;
  /** Probe interval of an offline device: initialMs × factor^n, capped at maxMs (default 1 s, ×2, 60 s). */
  backoff?: Partial<BackoffPolicy>;
  /** Reopen interval of a lost link (default 500 ms, ×2, 30 s). */
  reconnect?: Partial<BackoffPolicy>;
  /**
   * Priority ageing: a due block counts as one priority more urgent for every this-many ms it has
   * waited (default 1000), so a block polled as fast as the bus allows never starves the others.
   */
  priorityAgingMs?: number;
  /** Report DRV_ERR_BUS_STALLED when no transaction succeeds for this long while devices are registered (default 30 s). */
  stallAfterMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** Deterministic exponential backoff (common/backoff.ts), every field given: no jitter, so tests can count probes. */
export type BackoffPolicy = Required<ExponentialBackoff>;

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export interface BusStats {
  bus: string;
  transactions: number;
  successes: number;
  timeouts: number;
  /** Failed transactions by catalogue code (DRV_ERR_TIMEOUT included), and DRV_ERR_LATE_REPLY: late replies discarded. */
  errorsByCode: Record<string, number>;
  /** Replies that came after their request had timed out (RTU: in the guard or attributed to it; TCP: stale transaction id), discarded. */
  lateReplies: number;
  /** Frames that answered no request (wrong unit, function, byte count or echo), discarded. */
  rejectedReplies: number;
  writes: number;
  reconnects: number;
  /** Request-to-reply time of successful transactions, ms. */
  latencyMs: Percentiles;
  /** How late polls started against their due time, ms. */
  queueLagMs: Percentiles;
  stalled: boolean;
  /**
   * No valid reply for stallAfterMs although transactions kept failing (or the watchdog's stall):
   * the bus delivers nothing. Unlike `stalled` (work due, nothing completing: a restart may help),
   * this also holds while every device is offline and only probed with backoff.
   */
  degraded: boolean;
  /** While degraded: since when, and the failures since the last valid reply, by code. */
  degradedSince?: number;
  failuresSinceValid?: Record<string, number>;
  linksUp: number;
  links: number;
}
