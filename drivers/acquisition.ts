import type { Logger } from '../common/log.js';
import type { DeviceLinkState, Reading } from '../protocol/index.js';
import { DoorstepError, isDoorstepError } from '../protocol/index.js';
import type { PollBlock, PollFailure, PollResult, PollTask, TcpEndpoint } from './bus/types.js';
import { decodeBlock, qualityFor, type StartupValues } from './profiles/codec.js';
import { buildReadPlan, type ReadBlock } from './profiles/plan.js';
import { type Implausibility, implausibilities, withPlausibility } from './profiles/plausibility.js';
import type { PointPriority, RegisterProfile } from './profiles/types.js';

/** What acquisition needs from a bus scheduler (drivers/bus BusScheduler implements it). */
export interface PollingBus {
  addDevice(task: PollTask): void;
  removeDevice(device: string): void;
  onResult(listener: (result: PollResult) => void): () => void;
  onPollError(listener: (failure: PollFailure) => void): () => void;
  onDeviceState(listener: (state: DeviceLinkState) => void): () => void;
  /** Live link states: `lastSeen` advances on every reply, without an event per poll. */
  deviceStates(): DeviceLinkState[];
}

export interface AcquiredDevice {
  id: string;
  profile: RegisterProfile;
  unitId: number;
  endpoint?: TcpEndpoint;
  timeoutMs?: number;
  retries?: number;
  /** RTU late-reply guard after a timeout of this device (default: its timeout). */
  lateReplyGuardMs?: number;
  intervals?: Partial<Record<PointPriority, number>>;
}

const STARTUP_BLOCK = 'startup';
/** Pseudo block under which a decode that contradicts itself keeps the device faulty. */
const PLAUSIBILITY = 'plausibility';
/**
 * Exception replies to one block in a row before the device is reported `faulty`. Exceptions 01–03
 * (illegal function, data address, data value — Modbus Application Protocol v1.1b3 §7) say the
 * register map does not fit the device: the answer will not change, so the first one counts.
 * Others (04 device failure, 05/06 busy, 0A/0B gateway) may pass: three in a row.
 */
const EXCEPTIONS_BEFORE_FAULTY = 3;
const DEFINITIVE_EXCEPTIONS = new Set([1, 2, 3]);
/** Start-up registers (unit, decimals) are re-read this often, in case someone reconfigures the device. */
const STARTUP_REREAD_MS = 10 * 60_000;

interface DeviceContext {
  device: AcquiredDevice;
  blocks: Map<string, ReadBlock>;
  startup: StartupValues | undefined;
  /** Last values of the profile's quality flags (fault, maintenance) — they may arrive in another block. */
  flags: Map<string, number | boolean>;
  /** Last decoded value of every point, across blocks: what plausibility is judged on. */
  values: Map<string, number | boolean>;
  startupProblem: DoorstepError | undefined;
  /** A decode failure was logged and no block has decoded since (one log line per streak, not per poll). */
  decodeFailing: boolean;
  /** The scheduler's latest word on the link (online/offline/unknown). */
  link: DeviceLinkState | undefined;
  /** Blocks that currently answer with exceptions or undecodable data, by block id. */
  blockFaults: Map<string, { error: DoorstepError; count: number; faulty: boolean }>;
  /** What was last told to listeners, so each change is told once. */
  published: DeviceLinkState | undefined;
  publishQueued?: boolean;
  publishAt?: number;
}

/**
 * Turns a device list into poll tasks on a bus and the bus's raw results into Readings through each
 * device's profile: read plan → scheduler → decode → quality. Start-up registers are read before
 * anything is decoded.
 *
 * It also says what state each device is in: the scheduler knows whether a device answers
 * (online/offline); only here is it known whether the answers are usable. A device that answers a
 * block with Modbus exceptions (DRV_ERR_EXCEPTION), whose start-up values are impossible or whose
 * registers the profile cannot decode (DRV_ERR_DECODE) is `faulty`, with the block and the
 * reason — never `online` while it delivers nothing a rule can trust. Readings of its other blocks
 * still flow. It is `online` again once every block delivers.
 */
export class DeviceAcquisition {
  private readonly contexts = new Map<string, DeviceContext>();
  private readonly readingListeners = new Set<(readings: Reading[]) => void>();
  private readonly stateListeners = new Set<(state: DeviceLinkState) => void>();
  private readonly unsubscribe: Array<() => void> = [];
  decodeErrors = 0;

  constructor(
    private readonly bus: PollingBus,
    private readonly options: { logger?: Logger } = {},
  ) {}

  onReadings(listener: (readings: Reading[]) => void): () => void {
    this.readingListeners.add(listener);
    return () => this.readingListeners.delete(listener);
  }

  onDeviceState(listener: (state: DeviceLinkState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  start(): void {
    this.unsubscribe.push(
      this.bus.onResult((r) => this.handleResult(r)),
      this.bus.onPollError((f) => this.handlePollError(f)),
      this.bus.onDeviceState((s) => this.handleState(s)),
    );
  }

  stop(): void {
    for (const id of [...this.contexts.keys()]) this.remove(id);
    for (const u of this.unsubscribe.splice(0)) u();
  }

  add(device: AcquiredDevice): void {
    if (this.contexts.has(device.id)) this.remove(device.id);
    const plan = buildReadPlan(device.profile, device.intervals ? { intervals: device.intervals } : {});
    const blocks: PollBlock[] = plan.map((b) => ({
      id: b.id,
      table: b.table,
      address: b.address,
      count: b.count,
      intervalMs: b.intervalMs,
      priority: b.priority,
    }));
    const startup = device.profile.startup;
    if (startup.length > 0) {
      const first = Math.min(...startup.map((s) => s.address));
      const last = Math.max(...startup.map((s) => s.address));
      const table = startup[0]!.table;
      blocks.unshift({
        id: STARTUP_BLOCK,
        table,
        address: first,
        count: last - first + 1,
        intervalMs: STARTUP_REREAD_MS,
        priority: 'critical',
      });
    }
    this.contexts.set(device.id, {
      device,
      blocks: new Map(plan.map((b) => [b.id, b])),
      startup: startup.length > 0 ? undefined : {},
      flags: new Map(),
      values: new Map(),
      startupProblem: undefined,
      decodeFailing: false,
      link: undefined,
      blockFaults: new Map(),
      published: undefined,
    });
    this.bus.addDevice({
      device: device.id,
      unitId: device.unitId,
      timeoutMs: device.timeoutMs ?? 500,
      retries: device.retries ?? 1,
      ...(device.lateReplyGuardMs !== undefined ? { lateReplyGuardMs: device.lateReplyGuardMs } : {}),
      blocks,
      ...(device.endpoint ? { endpoint: device.endpoint } : {}),
    });
  }

  remove(id: string): void {
    if (!this.contexts.delete(id)) return;
    this.bus.removeDevice(id);
  }

  /**
   * Each device's current state, with `lastSeen` as of its latest reply (the scheduler's live view;
   * events go out only on a change of state or reason, not on every poll).
   */
  deviceStates(): DeviceLinkState[] {
    const live = new Map(this.bus.deviceStates().map((s) => [s.device, s]));
    const out: DeviceLinkState[] = [];
    for (const [id, ctx] of this.contexts) {
      const seen = live.get(id)?.lastSeen;
      const base = ctx.published ?? live.get(id);
      if (!base) continue;
      out.push({ ...base, ...(seen !== undefined ? { lastSeen: Math.max(seen, base.lastSeen ?? 0) } : {}) });
    }
    return out;
  }

  private handleState(state: DeviceLinkState): void {
    const ctx = this.contexts.get(state.device);
    if (!ctx) {
      for (const l of this.stateListeners) l(state);
      return;
    }
    ctx.link = state;
    this.publish(ctx, state.since);
  }

  private handlePollError(failure: PollFailure): void {
    const ctx = this.contexts.get(failure.device);
    if (!ctx || failure.error.code !== 'DRV_ERR_EXCEPTION') return; // silence is the scheduler's story
    const code = Number(failure.error.details.exceptionCode);
    const entry = ctx.blockFaults.get(failure.blockId);
    const count = entry && entry.error.code === 'DRV_ERR_EXCEPTION' ? entry.count + 1 : 1;
    const faulty = count >= EXCEPTIONS_BEFORE_FAULTY || DEFINITIVE_EXCEPTIONS.has(code);
    ctx.blockFaults.set(failure.blockId, { error: failure.error, count, faulty });
    if (faulty && !entry?.faulty)
      this.options.logger?.warn(
        { device: ctx.device.id, block: failure.blockId, err: failure.error },
        'device answers with exceptions',
      );
    this.publish(ctx, failure.ts);
  }

  /** A block delivered decodable data: its fault (if any) is over. */
  private blockHealthy(ctx: DeviceContext, blockId: string, ts: number): void {
    if (ctx.blockFaults.delete(blockId)) this.publish(ctx, ts);
  }

  private blockUndecodable(ctx: DeviceContext, blockId: string, error: DoorstepError, ts: number): void {
    const entry = ctx.blockFaults.get(blockId);
    const same = entry?.faulty && entry.error.message === error.message;
    ctx.blockFaults.set(blockId, { error, count: (entry?.count ?? 0) + 1, faulty: true });
    if (!same) this.publish(ctx, ts);
  }

  /**
   * The state to tell: offline (or unknown) as the scheduler says; faulty while it answers but a
   * block or its start-up values are unusable; online otherwise. Told only when state, reason or
   * detail change; `since` is when the state itself changed.
   */
  private publish(ctx: DeviceContext, ts: number): void {
    // The scheduler reports "online" and then, in the same turn, the exception or the result the
    // reply carried: decide once they are all in, so an exception-only device is never told online.
    ctx.publishAt = Math.max(ctx.publishAt ?? 0, ts);
    if (ctx.publishQueued) return;
    ctx.publishQueued = true;
    queueMicrotask(() => {
      const at = ctx.publishAt ?? ts;
      ctx.publishQueued = false;
      ctx.publishAt = undefined;
      if (this.contexts.get(ctx.device.id) === ctx) this.decide(ctx, at);
    });
  }

  private decide(ctx: DeviceContext, ts: number): void {
    const link = ctx.link;
    if (!link) return; // nothing said yet: the first answer or failure decides
    let next: DeviceLinkState;
    const fault =
      ctx.startupProblem ?? [...ctx.blockFaults.values()].find((f) => f.faulty)?.error ?? undefined;
    if (link.state !== 'online' || !fault) next = { ...link };
    else {
      const blocks = [...ctx.blockFaults].filter(([, f]) => f.faulty).map(([id]) => id);
      next = {
        device: link.device,
        state: 'faulty',
        reason: fault.code,
        detail:
          ctx.startupProblem || blocks.length <= 1
            ? fault.message
            : `${fault.message} (blocks ${blocks.join(', ')})`,
        since: Math.floor(ts),
        ...(link.lastSeen !== undefined ? { lastSeen: link.lastSeen } : {}),
        consecutiveFailures: 0,
        ...(link.slow ? { slow: link.slow } : {}),
      };
    }
    const before = ctx.published;
    // A device that has so far answered a block only with exceptions (not yet enough to call it
    // faulty) has delivered nothing: not announced online until it does, or is found faulty.
    if (!before && next.state === 'online' && ctx.blockFaults.size > 0) return;
    if (before && before.state === next.state) {
      const sameSlow = JSON.stringify(before.slow) === JSON.stringify(next.slow);
      if (before.reason === next.reason && before.detail === next.detail && sameSlow) return;
      next.since = before.since; // same state in new words: not a new `since`
    } else if (before?.state === 'faulty' && next.state === 'online') next.since = Math.floor(ts);
    ctx.published = next;
    for (const l of this.stateListeners) l(next);
  }

  private handleResult(result: PollResult): void {
    const ctx = this.contexts.get(result.device);
    if (!ctx) return;
    if (result.blockId === STARTUP_BLOCK) {
      this.applyStartup(ctx, result);
      return;
    }
    const block = ctx.blocks.get(result.blockId);
    if (!block || !ctx.startup) return; // nothing is decoded before start-up values are known
    const profile = ctx.device.profile;
    let decoded: ReturnType<typeof decodeBlock>;
    try {
      decoded = decodeBlock(profile, block, result.values, ctx.startup);
    } catch (error) {
      this.decodeErrors++;
      if (!ctx.decodeFailing)
        this.options.logger?.warn({ device: ctx.device.id, err: error }, 'decode failed');
      ctx.decodeFailing = true;
      const reason = isDoorstepError(error)
        ? error
        : new DoorstepError('DRV_ERR_DECODE', {
            point: block.id,
            device: ctx.device.id,
            reason: error instanceof Error ? error.message : String(error),
          });
      this.blockUndecodable(ctx, result.blockId, reason, result.ts);
      return;
    }
    if (ctx.decodeFailing) {
      ctx.decodeFailing = false;
      this.options.logger?.info({ device: ctx.device.id }, 'decoding again');
    }
    this.blockHealthy(ctx, result.blockId, result.ts);
    for (const d of decoded) {
      if (profile.quality.badWhen.includes(d.point) || profile.quality.uncertainWhen.includes(d.point))
        ctx.flags.set(d.point, d.value);
    }
    for (const d of decoded) ctx.values.set(d.point, d.value);
    const implausible = implausibilities(profile, ctx.values);
    this.judgePlausibility(ctx, implausible, result.ts);
    const readings: Reading[] = decoded.map((d) => ({
      device: ctx.device.id,
      point: d.point,
      value: d.value,
      unit: d.unit,
      quality: withPlausibility(qualityFor(profile, d.point, ctx.flags), d.point, implausible),
      ts: result.ts,
    }));
    for (const l of this.readingListeners) l(readings);
  }

  /**
   * A decode that contradicts itself (a value outside its physical range, an alarm bit with no
   * concentration) makes the device faulty with the reason, for as long as it lasts; its readings
   * are already marked uncertain, so no rule trusts them for an alarm.
   */
  private judgePlausibility(ctx: DeviceContext, implausible: readonly Implausibility[], ts: number): void {
    const entry = ctx.blockFaults.get(PLAUSIBILITY);
    if (implausible.length === 0) {
      if (entry) {
        ctx.blockFaults.delete(PLAUSIBILITY);
        this.options.logger?.info({ device: ctx.device.id }, 'readings plausible again');
        this.publish(ctx, ts);
      }
      return;
    }
    const error = new DoorstepError('DRV_ERR_IMPLAUSIBLE', {
      device: ctx.device.id,
      reason: implausible.map((i) => i.reason).join('; '),
    });
    if (entry?.error.message === error.message) return;
    if (!entry) this.options.logger?.warn({ device: ctx.device.id, err: error }, 'implausible readings');
    ctx.blockFaults.set(PLAUSIBILITY, { error, count: (entry?.count ?? 0) + 1, faulty: true });
    this.publish(ctx, ts);
  }

  private applyStartup(ctx: DeviceContext, result: PollResult): void {
    const specs = ctx.device.profile.startup;
    const first = Math.min(...specs.map((s) => s.address));
    const values: Record<string, number> = {};
    const problems: string[] = [];
    for (const s of specs) {
      const v = Number(result.values[s.address - first]);
      values[s.key] = v;
      if (s.allowed && !s.allowed.includes(v))
        problems.push(`${s.key} = ${v} (allowed: ${s.allowed.join(', ')})`);
    }
    if (problems.length > 0) {
      ctx.startup = undefined;
      const error = new DoorstepError('DRV_ERR_DECODE', {
        point: 'start-up registers',
        device: ctx.device.id,
        reason: problems.join('; '),
      });
      if (!ctx.startupProblem || ctx.startupProblem.message !== error.message) {
        if (!ctx.startupProblem)
          this.options.logger?.warn({ device: ctx.device.id, err: error }, 'start-up values impossible');
        ctx.startupProblem = error;
        this.publish(ctx, result.ts);
      }
      return;
    }
    const recovered = ctx.startupProblem !== undefined;
    ctx.startup = values;
    ctx.startupProblem = undefined;
    ctx.blockFaults.delete(STARTUP_BLOCK);
    if (recovered) this.publish(ctx, result.ts);
  }
}
