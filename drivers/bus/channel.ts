import { exponentialDelayMs } from '../../common/backoff.js';
import type { Logger } from '../../common/log.js';
import type { DeviceLinkState } from '../../protocol/device.js';
import { DoorstepError, isDoorstepError } from '../../protocol/errors.js';
import type { Link } from '../link/types.js';
import type { Clock } from '../modbus/clock.js';
import type { ModbusMaster, ReplyEvent } from '../modbus/master.js';
import type { ModbusRequest } from '../modbus/pdu.js';
import type { BlockState, DeviceEntry } from './device-entry.js';
import type { BackoffPolicy, PollFailure, PollResult } from './types.js';

export interface TransactionOutcome {
  ok: boolean;
  code?: string;
  latencyMs?: number;
  write?: boolean;
}

export interface ChannelHooks {
  result(result: PollResult): void;
  pollError(failure: PollFailure): void;
  deviceState(state: DeviceLinkState): void;
  transaction(outcome: TransactionOutcome): void;
  queueLag(lagMs: number): void;
  linkUp(): void;
  /** A late reply was discarded (with the device it belongs to, when known). */
  lateReply(device: string | undefined): void;
  /** A frame that answered no request was discarded. */
  rejectedReply(code: string): void;
}

export interface ChannelOptions {
  name: string;
  createLink: () => Link;
  createMaster: (link: Link) => ModbusMaster;
  offlineAfter: number;
  /** A due block counts one priority more urgent per this-many ms of waiting. */
  priorityAgingMs: number;
  backoff: BackoffPolicy;
  reconnect: BackoffPolicy;
  clock: Clock;
  logger: Logger;
  hooks: ChannelHooks;
}

export interface WriteJob {
  entry: DeviceEntry;
  request: ModbusRequest;
  resolve(): void;
  reject(error: unknown): void;
}

interface PollJob {
  entry: DeviceEntry;
  block: BlockState;
  due: number;
  probe: boolean;
}

function asDoorstepError(error: unknown, target: string): DoorstepError {
  if (isDoorstepError(error)) return error;
  return new DoorstepError('DRV_ERR_BAD_REPLY', { target, reason: String(error) }, { cause: error });
}

/**
 * One link and the one request in flight on it: the whole RS-485 bus for RTU, one connection per
 * device endpoint for TCP. Invariant 1 (docs/architecture.md): a single loop per channel issues requests, so two
 * requests can never race on the line (anchors: complaint 3). Writes go ahead of polls; among due
 * polls the most urgent priority, then the oldest due time, goes first — where a block's priority
 * improves by one for every `priorityAgingMs` it has waited, so a block polled as fast as the bus
 * allows (interval 0) takes every idle slot but never starves the others: a normal block waits at
 * most one ageing period behind it, a diagnostic block two. A block the master holds back (an RTU
 * late reply of the same shape may still come, see RtuMaster.heldUntil) is not due until released.
 */
export class BusChannel {
  readonly name: string;
  readonly devices = new Map<string, DeviceEntry>();
  private readonly options: ChannelOptions;
  private readonly writes: WriteJob[] = [];
  private link: Link | undefined;
  private master: ModbusMaster | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private reconnectStep = 0;
  private reconnectAt = 0;

  constructor(options: ChannelOptions) {
    this.options = options;
    this.name = options.name;
  }

  get linkUp(): boolean {
    return this.master !== undefined;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((error) => {
      // The loop itself must never die silently (anchors: complaint 4); the watchdog will see it too.
      this.options.logger.error({ err: error }, 'bus channel loop crashed');
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.rejectWrites('bus stopped');
    this.master?.dispose();
    this.wake();
    await this.loop;
    const link = this.link;
    this.link = undefined;
    this.master = undefined;
    await link?.close().catch(() => undefined);
  }

  add(entry: DeviceEntry): void {
    this.devices.set(entry.task.device, entry);
    this.wake();
  }

  remove(device: string): void {
    this.devices.delete(device);
    for (const job of this.writes.filter((w) => w.entry.task.device === device)) {
      this.writes.splice(this.writes.indexOf(job), 1);
      job.reject(new DoorstepError('DRV_ERR_CANCELLED', { target: device, reason: 'device removed' }));
    }
  }

  enqueueWrite(job: WriteJob): void {
    if (!this.running || !this.master) {
      const reason = this.running ? 'link is down' : 'bus not started';
      job.reject(new DoorstepError('DRV_ERR_LINK_DOWN', { link: this.name, reason }));
      return;
    }
    this.writes.push(job);
    this.wake();
  }

  /** True when a poll or write is due now or the link is down with devices waiting on it. */
  hasDueWork(now: number): boolean {
    if (this.devices.size === 0) return false;
    return this.writes.length > 0 || !this.master || this.pickPoll(now).job !== undefined;
  }

  private wake(): void {
    this.wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    const { clock } = this.options;
    return new Promise((resolve) => {
      const done = () => {
        clock.clearTimeout(timer);
        if (this.wakeUp === done) this.wakeUp = undefined;
        resolve();
      };
      const timer = clock.setTimeout(done, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
      this.wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    const { clock } = this.options;
    while (this.running) {
      const now = clock.now();
      if (!this.master) {
        if (this.devices.size === 0) await this.sleep(Number.POSITIVE_INFINITY);
        else if (now < this.reconnectAt) await this.sleep(this.reconnectAt - now);
        else await this.connect();
        continue;
      }
      const write = this.writes.shift();
      if (write) {
        await this.executeWrite(write);
        continue;
      }
      const pick = this.pickPoll(now);
      if (pick.job) await this.executePoll(pick.job);
      else await this.sleep(pick.wakeAt - now);
    }
  }

  private async connect(): Promise<void> {
    const { clock, logger, hooks } = this.options;
    // A link factory that throws (bad path, bad settings) is a failed open like any other: retried
    // with backoff, never a dead loop.
    let link: Link | undefined;
    try {
      link = this.options.createLink();
      await link.open();
    } catch (error) {
      const reason = isDoorstepError(error)
        ? error
        : new DoorstepError(
            'DRV_ERR_LINK_OPEN',
            { link: link?.name ?? this.name, reason: error instanceof Error ? error.message : String(error) },
            { cause: error },
          );
      this.reconnectAt = clock.now() + exponentialDelayMs(this.options.reconnect, this.reconnectStep++);
      logger.warn(
        { link: link?.name ?? this.name, err: reason, retryAt: this.reconnectAt },
        'cannot open link; will retry',
      );
      this.markDevicesDown(reason);
      return;
    }
    if (!this.running) {
      await link.close();
      return;
    }
    this.link = link;
    const master = this.options.createMaster(link);
    this.master = master;
    master.onReplyEvent((event) => this.replyEvent(event));
    this.reconnectStep = 0;
    link.onClose((error) => this.linkLost(link, error));
    logger.info({ link: link.name }, 'link up');
    hooks.linkUp();
    const now = clock.now();
    for (const entry of this.devices.values()) entry.linkRestored(now);
  }

  private replyEvent(event: ReplyEvent): void {
    const { hooks } = this.options;
    if (event.kind === 'rejected') {
      hooks.rejectedReply(event.code);
      return;
    }
    const entry = [...this.devices.values()].find((e) => e.task.unitId === event.unitId);
    hooks.lateReply(entry?.task.device);
    if (entry && event.turnaroundMs !== undefined) {
      const changed = entry.recordLateReply(event.turnaroundMs, event.timeoutMs ?? entry.task.timeoutMs);
      if (changed) {
        this.options.logger.warn(
          { device: entry.task.device, slow: entry.state.slow, timeoutMs: entry.task.timeoutMs },
          'device answers later than its timeout; late replies are discarded',
        );
        hooks.deviceState(entry.state);
      }
    }
    this.wake(); // a held block may be free now
  }

  private linkLost(link: Link, error?: Error): void {
    if (link !== this.link || !this.running) return;
    const { clock, logger } = this.options;
    this.master?.dispose();
    this.master = undefined;
    this.link = undefined;
    const reason = isDoorstepError(error)
      ? error
      : new DoorstepError('DRV_ERR_LINK_DOWN', { link: link.name, reason: error?.message ?? 'closed' });
    logger.warn({ link: link.name, err: reason }, 'link lost; reconnecting with backoff');
    this.rejectWrites('link lost');
    this.markDevicesDown(reason);
    this.reconnectAt = clock.now() + exponentialDelayMs(this.options.reconnect, this.reconnectStep++);
    this.wake();
  }

  private markDevicesDown(reason: DoorstepError): void {
    const now = this.options.clock.now();
    for (const entry of this.devices.values()) {
      if (entry.markLinkDown(reason, now, this.options.backoff)) this.options.hooks.deviceState(entry.state);
    }
  }

  private rejectWrites(reason: string): void {
    for (const job of this.writes.splice(0)) {
      job.reject(new DoorstepError('DRV_ERR_CANCELLED', { target: job.entry.task.device, reason }));
    }
  }

  private pickPoll(now: number): { job?: PollJob; wakeAt: number } {
    let best: (PollJob & { rank: number }) | undefined;
    let wakeAt = Number.POSITIVE_INFINITY;
    const agingMs = this.options.priorityAgingMs;
    const consider = (entry: DeviceEntry, block: BlockState, due: number, probe: boolean) => {
      if (due > now) {
        wakeAt = Math.min(wakeAt, due);
        return;
      }
      const { table, address, count } = block.block;
      const heldUntil = this.master?.heldUntil(entry.task.unitId, { kind: 'read', table, address, count });
      if (heldUntil !== undefined && heldUntil > now) {
        wakeAt = Math.min(wakeAt, heldUntil);
        return;
      }
      const rank = Math.max(0, block.rank - Math.floor((now - due) / agingMs));
      if (!best || rank < best.rank || (rank === best.rank && due < best.due)) {
        best = { entry, block, due, probe, rank };
      }
    };
    for (const entry of this.devices.values()) {
      if (entry.offline) consider(entry, entry.probe, entry.nextProbeAt, true);
      else for (const block of entry.blocks) consider(entry, block, block.nextDue, false);
    }
    return best ? { job: best, wakeAt: now } : { wakeAt };
  }

  private isCurrent(entry: DeviceEntry): boolean {
    return this.devices.get(entry.task.device) === entry;
  }

  private async executePoll(job: PollJob): Promise<void> {
    const { clock, hooks } = this.options;
    const { entry, block, probe } = job;
    const { device, unitId, timeoutMs } = entry.task;
    const started = clock.now();
    if (block.attempt === 0 && !probe) hooks.queueLag(started - job.due);
    const { table, address, count, id: blockId } = block.block;
    try {
      const { lateReplyGuardMs } = entry.task;
      const reply = await this.master!.request(
        unitId,
        { kind: 'read', table, address, count },
        { timeoutMs, ...(lateReplyGuardMs !== undefined && { lateReplyGuardMs }) },
      );
      const ended = clock.now();
      hooks.transaction({ ok: true, latencyMs: ended - started });
      if (!this.isCurrent(entry)) return;
      if (entry.recordReply(ended)) hooks.deviceState(entry.state);
      entry.finishPoll(block, ended);
      const values = reply.kind === 'bits' || reply.kind === 'registers' ? reply.values : [];
      hooks.result({ device, blockId, ts: Math.floor(ended), values });
    } catch (caught) {
      const error = asDoorstepError(caught, device);
      const ended = clock.now();
      hooks.transaction({ ok: false, code: error.code });
      // A lost link or a stop is the link's story, told once by linkLost(), not each device's fault.
      if (error.code === 'DRV_ERR_LINK_DOWN' || error.code === 'DRV_ERR_CANCELLED' || !this.isCurrent(entry))
        return;
      if (error.code === 'DRV_ERR_EXCEPTION') {
        // The device answered: it is alive, only this block's map is wrong. No retry: the answer will not change.
        if (entry.recordReply(ended)) hooks.deviceState(entry.state);
        entry.finishPoll(block, ended);
        hooks.pollError({ device, blockId, ts: Math.floor(ended), error });
        return;
      }
      const outcome = entry.recordFailure(
        probe ? undefined : block,
        error,
        ended,
        this.options.offlineAfter,
        this.options.backoff,
      );
      if (outcome.changed) hooks.deviceState(entry.state);
      if (!outcome.retry) hooks.pollError({ device, blockId, ts: Math.floor(ended), error });
    }
  }

  private async executeWrite(job: WriteJob): Promise<void> {
    const { clock, hooks } = this.options;
    const { entry } = job;
    // An offline device gets one attempt: retrying a dead slave only takes time from the others.
    const attempts = entry.offline ? 1 : 1 + entry.task.retries;
    let lastError: DoorstepError | undefined;
    for (let attempt = 0; attempt < attempts && this.master; attempt++) {
      const started = clock.now();
      try {
        const { timeoutMs, lateReplyGuardMs } = entry.task;
        await this.master.request(entry.task.unitId, job.request, {
          timeoutMs,
          ...(lateReplyGuardMs !== undefined && { lateReplyGuardMs }),
        });
        hooks.transaction({ ok: true, latencyMs: clock.now() - started, write: true });
        if (this.isCurrent(entry) && entry.recordReply(clock.now())) hooks.deviceState(entry.state);
        job.resolve();
        return;
      } catch (caught) {
        lastError = asDoorstepError(caught, entry.task.device);
        hooks.transaction({ ok: false, code: lastError.code, write: true });
        if (lastError.code === 'DRV_ERR_LINK_DOWN' || lastError.code === 'DRV_ERR_CANCELLED') break;
        if (lastError.code === 'DRV_ERR_EXCEPTION') {
          if (this.isCurrent(entry) && entry.recordReply(clock.now())) hooks.deviceState(entry.state);
          break;
        }
        if (!this.isCurrent(entry)) break;
        const outcome = entry.recordFailure(
          undefined,
          lastError,
          clock.now(),
          this.options.offlineAfter,
          this.options.backoff,
        );
        if (outcome.changed) hooks.deviceState(entry.state);
      }
    }
    job.reject(
      lastError ??
        new DoorstepError('DRV_ERR_LINK_DOWN', { link: this.name, reason: 'link lost before the write' }),
    );
  }
}
