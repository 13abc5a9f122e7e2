import { exponentialDelayMs } from '../../common/backoff.js';
import type { DeviceLinkState } from '../../protocol/device.js';
import { DoorstepError } from '../../protocol/errors.js';
import { type BackoffPolicy, type PollBlock, type PollTask, PRIORITY_RANK } from './types.js';

export interface BlockState {
  block: PollBlock;
  rank: number;
  nextDue: number;
  /** Attempts already spent on the current poll of this block (0 = first attempt next). */
  attempt: number;
}

/** Late replies that make a device `slow` when no more than SLOW_CLEAR_AFTER on-time replies lie between them. */
const SLOW_AFTER_LATE = 2;
/** On-time replies in a row after which a slow device is no longer reported slow. */
const SLOW_CLEAR_AFTER = 20;
/** The timeout a slow device would need: its slowest recent turnaround plus a quarter, to 10 ms. */
export function neededTimeoutMs(turnaroundMs: number): number {
  return Math.ceil((turnaroundMs * 1.25) / 10) * 10;
}

/**
 * One device's schedule and link state. Online: every block polled at its interval, a failed
 * poll retried `retries` times. After `offlineAfter` failed transactions in a row: offline, and
 * only one probe (the most urgent block, no retries) per backoff period — so a dead slave costs
 * the bus at most one timeout per period. Any valid reply (an exception reply too: the device
 * answered) brings it back online at once with every block due.
 */
export class DeviceEntry {
  readonly task: PollTask;
  readonly blocks: BlockState[];
  readonly probe: BlockState;
  state: DeviceLinkState;
  nextProbeAt = 0;
  private backoffStep = 0;
  /** Late replies since the last run of SLOW_CLEAR_AFTER on-time replies. */
  private recentLate = 0;
  private onTimeSinceLate = 0;
  private slowestLateMs = 0;

  constructor(task: PollTask, now: number) {
    this.task = task;
    this.blocks = task.blocks.map((block) => ({
      block,
      rank: PRIORITY_RANK[block.priority],
      nextDue: now,
      attempt: 0,
    }));
    this.probe = this.blocks.reduce((best, b) => (b.rank < best.rank ? b : best), this.blocks[0]!);
    this.state = { device: task.device, state: 'unknown', since: Math.floor(now), consecutiveFailures: 0 };
  }

  get offline(): boolean {
    return this.state.state === 'offline';
  }

  /** A valid reply arrived; returns true when the device state changed (came online). */
  recordReply(now: number): boolean {
    const wasOnline = this.state.state === 'online';
    this.backoffStep = 0;
    if (!wasOnline) {
      for (const b of this.blocks) {
        b.nextDue = Math.min(b.nextDue, now);
        b.attempt = 0;
      }
    }
    const slowBefore = this.state.slow;
    this.onTimeSinceLate++;
    const slowCleared = slowBefore !== undefined && this.onTimeSinceLate >= SLOW_CLEAR_AFTER;
    if (this.onTimeSinceLate >= SLOW_CLEAR_AFTER) {
      this.recentLate = 0;
      this.slowestLateMs = 0;
    }
    this.state = {
      device: this.task.device,
      state: 'online',
      since: wasOnline ? this.state.since : Math.floor(now),
      lastSeen: Math.floor(now),
      consecutiveFailures: 0,
      ...(slowBefore && !slowCleared ? { slow: slowBefore } : {}),
    };
    return !wasOnline || slowCleared;
  }

  /**
   * A late reply of this device was discarded (docs/architecture.md invariant 2: reported, never believed).
   * After SLOW_AFTER_LATE of them the device is `slow`, with the turnaround measured and the
   * timeout it would need; an offline device's reason becomes DRV_ERR_LATE_REPLY, which tells an
   * installer to raise the timeout rather than check the wiring. Returns true when the state
   * changed in a way worth reporting (slow set, needed timeout raised, offline reason changed).
   */
  recordLateReply(turnaroundMs: number, timeoutMs: number): boolean {
    this.recentLate++;
    this.onTimeSinceLate = 0;
    this.slowestLateMs = Math.max(this.slowestLateMs, turnaroundMs);
    let changed = false;
    const before = this.state.slow;
    if (before || this.recentLate >= SLOW_AFTER_LATE) {
      const needed = neededTimeoutMs(this.slowestLateMs);
      changed = !before || needed > before.neededTimeoutMs;
      this.state = {
        ...this.state,
        slow: {
          turnaroundMs: this.slowestLateMs,
          neededTimeoutMs: needed,
          lateReplies: (before?.lateReplies ?? this.recentLate - 1) + 1,
        },
      };
    }
    if (this.offline && this.state.reason === 'DRV_ERR_TIMEOUT') {
      const error = new DoorstepError('DRV_ERR_LATE_REPLY', {
        target: this.task.device,
        turnaroundMs,
        timeoutMs,
      });
      this.state = { ...this.state, reason: error.code, detail: error.message };
      changed = true;
    }
    return changed;
  }

  /**
   * A transaction failed without a valid reply. Returns whether to retry the same block now and
   * whether the device state changed (went offline).
   */
  recordFailure(
    block: BlockState | undefined,
    error: DoorstepError,
    now: number,
    offlineAfter: number,
    backoff: BackoffPolicy,
  ): { retry: boolean; changed: boolean } {
    const failures = this.state.consecutiveFailures + 1;
    if (this.offline) {
      this.backoffStep++;
      this.nextProbeAt = now + exponentialDelayMs(backoff, this.backoffStep);
      // A slow device's probes time out too: its reason stays the late reply, which says why.
      const keepLate = error.code === 'DRV_ERR_TIMEOUT' && this.state.reason === 'DRV_ERR_LATE_REPLY';
      this.state = {
        ...this.state,
        consecutiveFailures: failures,
        ...(keepLate ? {} : { reason: error.code, detail: error.message }),
      };
      return { retry: false, changed: false };
    }
    if (failures >= offlineAfter) {
      this.goOffline(error, now, backoff, failures);
      return { retry: false, changed: true };
    }
    this.state = { ...this.state, consecutiveFailures: failures };
    if (block && block.attempt < this.task.retries) {
      block.attempt++;
      return { retry: true, changed: false };
    }
    if (block) this.finishPoll(block, now);
    return { retry: false, changed: false };
  }

  /** The link under the device went away: offline now, probed as soon as the link is back. */
  markLinkDown(error: DoorstepError, now: number, backoff: BackoffPolicy): boolean {
    if (this.offline && this.state.reason === error.code) return false;
    this.goOffline(error, now, backoff, this.state.consecutiveFailures);
    this.nextProbeAt = now;
    return true;
  }

  /** The link is back: probe at once instead of waiting out the backoff. */
  linkRestored(now: number): void {
    this.backoffStep = 0;
    this.nextProbeAt = now;
  }

  /** Schedules the block's next poll on its own cadence, skipping slots missed while the bus was busy. */
  finishPoll(block: BlockState, now: number): void {
    block.attempt = 0;
    const interval = block.block.intervalMs;
    if (interval <= 0) {
      block.nextDue = now; // as fast as the bus allows: due again at once, ageing shares the bus
      return;
    }
    let next = block.nextDue + interval;
    if (next <= now) next += Math.ceil((now - next) / interval + 1e-9) * interval;
    block.nextDue = next;
  }

  private goOffline(cause: DoorstepError, now: number, backoff: BackoffPolicy, failures: number): void {
    const slow = this.state.slow;
    const error =
      slow && cause.code === 'DRV_ERR_TIMEOUT'
        ? new DoorstepError('DRV_ERR_LATE_REPLY', {
            target: this.task.device,
            turnaroundMs: slow.turnaroundMs,
            timeoutMs: this.task.timeoutMs,
          })
        : cause;
    this.backoffStep = 0;
    this.nextProbeAt = now + exponentialDelayMs(backoff, 0);
    for (const b of this.blocks) b.attempt = 0;
    this.state = {
      device: this.task.device,
      state: 'offline',
      reason: error.code,
      detail: error.message,
      since: Math.floor(now),
      lastSeen: this.state.lastSeen,
      consecutiveFailures: failures,
      slow: this.state.slow,
    };
    if (this.state.lastSeen === undefined) delete this.state.lastSeen;
    if (this.state.slow === undefined) delete this.state.slow;
  }
}
