import { performance } from 'node:perf_hooks';
import { bitsPerCharacter, type SerialSettings, wireTimeMs } from '../../link/types.js';

/**
 * Real wire-time pacing for a simulated RTU bus. A pty (or a MemoryLink) moves bytes instantly
 * whatever the baud rate, so the simulator delays each reply until the moment its last byte would
 * have arrived on a real RS-485 line. The modelled bus timeline for one transaction is
 *
 *   request start = max(request arrival − our own lateness on the previous reply, bus free)
 *   request end   = request start + request chars × bits/char ÷ baud
 *   reply start   = request end + t3.5 (the slave detects the end of the request) + turnaround
 *   reply end     = reply start + reply chars × bits/char ÷ baud      → the reply is written then
 *   bus free      = reply end + t3.5 (the master detects the end of the reply, inter-frame gap)
 *
 * t3.5 is 3.5 character times of the configured frame (Modbus over serial line v1.02 §2.5.1.1),
 * fixed at 1.75 ms above 19200 baud. A master that answers instantly therefore sees exactly
 * t3.5 + request + t3.5 + turnaround + reply per transaction: 9600 8N1, 10 registers = 8 + 25 chars
 * + 7 chars of gaps = 41.67 ms → 24 tx/s; 19200 → 20.83 ms → 48 tx/s. Because "bus free" already
 * holds the master's inter-frame gap, a master that waits t3.5 itself is not charged twice.
 */
export interface Pace extends SerialSettings {
  /** Slave processing time between the end of the request and the start of the reply. */
  turnaroundMs: number;
}

export interface TransactionPlan {
  requestStartMs: number;
  requestEndMs: number;
  replyStartMs: number;
  /** When the reply is handed to the link (its last byte's arrival on a real wire). */
  replyEndMs: number;
  busFreeAtMs: number;
}

/** The inter-frame silence t3.5 for the frame's own character size (§2.5.1.1). */
export function interFrameGapMs(settings: SerialSettings): number {
  if (settings.baudRate > 19200) return 1.75;
  return (3.5 * bitsPerCharacter(settings) * 1000) / settings.baudRate;
}

/** Wire time of one complete transaction with both gaps, as a master polling back-to-back sees it. */
export function transactionTimeMs(requestBytes: number, replyBytes: number, pace: Pace): number {
  const gap = interFrameGapMs(pace);
  return gap + wireTimeMs(requestBytes, pace) + gap + pace.turnaroundMs + wireTimeMs(replyBytes, pace);
}

/**
 * Plans one transaction on the bus timeline (see the file comment). `replyBytes` undefined means
 * no reply (silence, broadcast, another unit's address): the bus is busy for the request only.
 * `extraDelayMs` (the slow fault) postpones the reply but does not hold the bus: a real late
 * reply collides with whatever the master sends after giving up.
 */
export function planTransaction(input: {
  arrivalMs: number;
  busFreeAtMs: number;
  creditMs?: number;
  requestBytes: number;
  replyBytes: number | undefined;
  pace: Pace;
  extraDelayMs?: number;
}): TransactionPlan {
  const { pace } = input;
  const gap = interFrameGapMs(pace);
  const requestStartMs = Math.max(input.arrivalMs - (input.creditMs ?? 0), input.busFreeAtMs);
  const requestEndMs = requestStartMs + wireTimeMs(input.requestBytes, pace);
  if (input.replyBytes === undefined) {
    return {
      requestStartMs,
      requestEndMs,
      replyStartMs: requestEndMs,
      replyEndMs: requestEndMs,
      busFreeAtMs: requestEndMs + gap,
    };
  }
  const onTimeReplyStart = requestEndMs + gap + pace.turnaroundMs;
  const onTimeReplyEnd = onTimeReplyStart + wireTimeMs(input.replyBytes, pace);
  const extra = input.extraDelayMs ?? 0;
  return {
    requestStartMs,
    requestEndMs,
    replyStartMs: onTimeReplyStart + extra,
    replyEndMs: onTimeReplyEnd + extra,
    busFreeAtMs: onTimeReplyEnd + gap,
  };
}

/**
 * A monotonic clock and timers; injectable so schedules can be checked deterministically.
 * `setTimeout` takes fractional milliseconds and may fire early or late: the scheduler re-checks.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * performance.now() and Node timers. setTimeout works in whole milliseconds and may fire up to
 * ~1 ms early against performance.now(), so the last sub-millisecond is waited out on setImmediate.
 */
export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) =>
    ms >= 1 ? { timeout: setTimeout(callback, Math.floor(ms)) } : { immediate: setImmediate(callback) },
  clearTimeout: (handle) => {
    const { timeout, immediate } = handle as { timeout?: NodeJS.Timeout; immediate?: NodeJS.Immediate };
    if (timeout) clearTimeout(timeout);
    if (immediate) clearImmediate(immediate);
  },
};

/** Runs callbacks at absolute deadlines on a clock, never before them: a timer that fires early is re-armed. */
export class DeadlineScheduler {
  private readonly pending = new Set<{ handle: unknown }>();

  constructor(private readonly clock: Clock = monotonicClock) {}

  /** Calls `callback(lateByMs)` at or after `deadlineMs`; synchronously when the deadline has passed. */
  at(deadlineMs: number, callback: (lateByMs: number) => void): void {
    const entry: { handle: unknown } = { handle: undefined };
    const check = () => {
      const remaining = deadlineMs - this.clock.now();
      if (remaining <= 0) {
        this.pending.delete(entry);
        callback(-remaining);
      } else {
        this.pending.add(entry);
        entry.handle = this.clock.setTimeout(check, remaining);
      }
    };
    check();
  }

  cancelAll(): void {
    for (const entry of this.pending) this.clock.clearTimeout(entry.handle);
    this.pending.clear();
  }

  get size(): number {
    return this.pending.size;
  }
}
