import type { DeviceLinkState, Reading } from '../protocol/index.js';
import { DoorstepError } from '../protocol/index.js';
import type { PollBlock, PollResult, PollTask, TcpEndpoint } from './bus/types.js';
import type { Logger } from './log.js';
import { decodeBlock, qualityFor, type StartupValues } from './profiles/codec.js';
import { buildReadPlan, type ReadBlock } from './profiles/plan.js';
import type { PointPriority, RegisterProfile } from './profiles/types.js';

/** What acquisition needs from a bus scheduler (drivers/bus BusScheduler implements it). */
export interface PollingBus {
  addDevice(task: PollTask): void;
  removeDevice(device: string): void;
  onResult(listener: (result: PollResult) => void): () => void;
  onDeviceState(listener: (state: DeviceLinkState) => void): () => void;
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
/** Start-up registers (unit, decimals) are re-read this often, in case someone reconfigures the device. */
const STARTUP_REREAD_MS = 10 * 60_000;

interface DeviceContext {
  device: AcquiredDevice;
  blocks: Map<string, ReadBlock>;
  startup: StartupValues | undefined;
  /** Last values of the profile's quality flags (fault, maintenance) — they may arrive in another block. */
  flags: Map<string, number | boolean>;
  startupProblem: DoorstepError | undefined;
  /** A decode failure was logged and no block has decoded since (one log line per streak, not per poll). */
  decodeFailing: boolean;
}

/**
 * Turns a device list into poll tasks on a bus and the bus's raw results into Readings through each
 * device's profile: read plan → scheduler → decode → quality. Start-up registers are read before
 * anything is decoded, and a device whose start-up values are impossible is reported offline with
 * DRV_ERR_DECODE instead of producing wrong numbers.
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
      startupProblem: undefined,
      decodeFailing: false,
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

  private handleState(state: DeviceLinkState): void {
    const ctx = this.contexts.get(state.device);
    if (ctx?.startupProblem && state.state === 'online') return; // stays offline until start-up values make sense
    for (const l of this.stateListeners) l(state);
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
      return;
    }
    if (ctx.decodeFailing) {
      ctx.decodeFailing = false;
      this.options.logger?.info({ device: ctx.device.id }, 'decoding again');
    }
    for (const d of decoded) {
      if (profile.quality.badWhen.includes(d.point) || profile.quality.uncertainWhen.includes(d.point))
        ctx.flags.set(d.point, d.value);
    }
    const readings: Reading[] = decoded.map((d) => ({
      device: ctx.device.id,
      point: d.point,
      value: d.value,
      unit: d.unit,
      quality: qualityFor(profile, d.point, ctx.flags),
      ts: result.ts,
    }));
    for (const l of this.readingListeners) l(readings);
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
        ctx.startupProblem = error;
        for (const l of this.stateListeners)
          l({
            device: ctx.device.id,
            state: 'offline',
            reason: error.code,
            detail: error.message,
            since: result.ts,
            consecutiveFailures: 0,
          });
      }
      return;
    }
    const recovered = ctx.startupProblem !== undefined;
    ctx.startup = values;
    ctx.startupProblem = undefined;
    if (recovered)
      for (const l of this.stateListeners)
        l({
          device: ctx.device.id,
          state: 'online',
          since: result.ts,
          lastSeen: result.ts,
          consecutiveFailures: 0,
        });
  }
}
