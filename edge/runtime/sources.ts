import type { Logger } from '../../common/log.js';
import { DeviceAcquisition } from '../../drivers/acquisition.js';
import { BusScheduler } from '../../drivers/bus/scheduler.js';
import type { BusStats, WriteCommand } from '../../drivers/bus/types.js';
import { type BusHealth, ValidFrameWatch } from '../../drivers/frames/health.js';
import type { FrameReceiver } from '../../drivers/frames/receiver.js';
import type { SerialLink as SerialLinkClass } from '../../drivers/link/serial.js';
import { TcpLink } from '../../drivers/link/tcp.js';
import type { Link } from '../../drivers/link/types.js';
import type { MqttInput } from '../../drivers/mqtt/input.js';
import type { Implausibility } from '../../drivers/profiles/plausibility.js';
import type { RegisterProfile } from '../../drivers/profiles/types.js';
import { type DeviceLinkState, DoorstepError, type Reading } from '../../protocol/index.js';
import type { ConfiguredDevice } from '../config/load.js';
import type { Bus } from '../config/schema.js';

/**
 * Where readings come from: one source per configured bus. Every source reports readings in
 * batches (one poll cycle or one frame) and device link states; none of them depends on the
 * uplink (docs/architecture.md invariant 2).
 */
export interface ReadingSource {
  readonly bus: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  onReadings(listener: (readings: Reading[]) => void): void;
  onDeviceState(listener: (state: DeviceLinkState) => void): void;
  /** The bus's own health (ok, or degraded with the reason) and its changes. */
  health(): BusHealth;
  onHealth(listener: (health: BusHealth) => void): void;
  /**
   * Device id → when it was last heard (ms), advancing on every good poll or frame. Kept out of
   * the state events, which go out only when a state changes (a store is not written per poll).
   */
  lastSeen(): ReadonlyMap<string, number>;
  stats(): object;
  /** Modbus sources only: write a coil/register (sirens, valves) through the bus's one queue. */
  write?(device: string, command: WriteCommand): Promise<void>;
  devices(): readonly string[];
}

/**
 * Drivers that pull in heavy packages (serialport, mqtt) are loaded only when a bus needs them:
 * a gateway without serial ports or MQTT sensors never pays their memory.
 */
export interface SourceContext {
  /** Set by createSource when the bus needs a serial port. */
  SerialLink?: typeof SerialLinkClass;
  logger: Logger;
  now: () => number;
  /** Injected so tests can point a "serial" bus at a pty or memory link. */
  createSerialLink?: (bus: Extract<Bus, { port: string }>) => Link;
  /** URL of the local broker, for MQTT-native sensors. */
  brokerUrl?: () => string;
  brokerCredentials?: { username: string; password: string };
}

class Listeners {
  readings = new Set<(r: Reading[]) => void>();
  states = new Set<(s: DeviceLinkState) => void>();
  healths = new Set<(h: BusHealth) => void>();
  emitReadings(r: Reading[]): void {
    for (const l of this.readings) l(r);
  }
  emitState(s: DeviceLinkState): void {
    for (const l of this.states) l(s);
  }
  emitHealth(h: BusHealth): void {
    for (const l of this.healths) l(h);
  }
}

/** The commonest code of a count by code. */
function commonest(counts: Record<string, number> | undefined): string | undefined {
  let top: string | undefined;
  for (const [code, n] of Object.entries(counts ?? {}))
    if (top === undefined || n > counts![top]!) top = code;
  return top;
}

/** Modbus RTU or TCP: the bus scheduler plus profile-driven acquisition. */
export class ModbusSource implements ReadingSource {
  readonly bus: string;
  private readonly scheduler: BusScheduler;
  private readonly acquisition: DeviceAcquisition;
  private readonly ids: string[];
  private readonly listeners = new Listeners();
  private stall: { since: number; detail: string } | undefined;
  private okSince: number;
  private wasDegraded = false;
  private readonly now: () => number;
  private readonly degradedAfterMs: number;

  constructor(
    bus: Extract<Bus, { type: 'rtu' | 'tcp' }>,
    devices: readonly ConfiguredDevice[],
    ctx: SourceContext,
  ) {
    this.bus = bus.id;
    const logger = ctx.logger.child({ bus: bus.id });
    if (bus.type === 'rtu') {
      const serial = {
        baudRate: bus.baudRate,
        parity: bus.parity,
        dataBits: bus.dataBits,
        stopBits: bus.stopBits,
      };
      this.scheduler = new BusScheduler({
        bus: bus.id,
        protocol: 'rtu',
        serial,
        createLink: () =>
          ctx.createSerialLink?.(bus) ?? new ctx.SerialLink!({ path: bus.port, ...serial, logger }),
        stallAfterMs: bus.degradedAfterMs,
        logger,
      });
    } else {
      this.scheduler = new BusScheduler({
        bus: bus.id,
        protocol: 'tcp',
        createLink: (endpoint) => new TcpLink({ host: endpoint!.host, port: endpoint!.port, logger }),
        stallAfterMs: bus.degradedAfterMs,
        logger,
      });
    }
    // The scheduler's stall watchdog is the Modbus bus's "no valid frame for a while".
    this.now = ctx.now;
    this.degradedAfterMs = bus.degradedAfterMs;
    this.okSince = ctx.now();
    this.scheduler.onStall((event) => {
      if (event.stalled) this.stall = { since: ctx.now(), detail: event.error?.message ?? 'stalled' };
      else {
        this.stall = undefined;
        this.okSince = ctx.now();
      }
      this.listeners.emitHealth(this.health());
    });
    this.acquisition = new DeviceAcquisition(this.scheduler, { logger });
    this.ids = devices.map((d) => d.id);
    for (const d of devices) {
      this.acquisition.add({
        id: d.id,
        profile: registerProfileOfDevice(d),
        unitId: d.unitId ?? 1,
        timeoutMs: bus.timeoutMs,
        retries: bus.retries,
        ...(d.lateReplyGuardMs !== undefined ? { lateReplyGuardMs: d.lateReplyGuardMs } : {}),
        ...(d.pollIntervals ? { intervals: d.pollIntervals } : {}),
        ...(bus.type === 'tcp' ? { endpoint: { host: d.host!, port: d.port! } } : {}),
      });
    }
  }

  async start(): Promise<void> {
    this.acquisition.start();
    this.scheduler.start();
  }

  async stop(): Promise<void> {
    this.acquisition.stop();
    await this.scheduler.stop();
  }

  onReadings(listener: (readings: Reading[]) => void): void {
    this.acquisition.onReadings(listener);
  }

  onDeviceState(listener: (state: DeviceLinkState) => void): void {
    this.acquisition.onDeviceState(listener);
  }

  health(): BusHealth {
    const stats = this.scheduler.stats();
    if (!stats.degraded) {
      if (this.wasDegraded) this.okSince = this.now();
      this.wasDegraded = false;
      return { state: 'ok', since: this.okSince };
    }
    this.wasDegraded = true;
    const failures = stats.failuresSinceValid ?? {};
    const since = stats.degradedSince ?? this.now();
    return {
      state: 'degraded',
      since,
      reason: commonest(failures) ?? 'DRV_ERR_BUS_STALLED',
      detail:
        this.stall?.detail ??
        new DoorstepError('DRV_ERR_BUS_STALLED', {
          bus: this.bus,
          stalledMs: Math.round(this.now() - since + this.degradedAfterMs),
        }).message,
      rejected: failures,
    };
  }

  onHealth(listener: (health: BusHealth) => void): void {
    this.listeners.healths.add(listener);
  }

  lastSeen(): ReadonlyMap<string, number> {
    const out = new Map<string, number>();
    for (const s of this.acquisition.deviceStates())
      if (s.lastSeen !== undefined) out.set(s.device, s.lastSeen);
    return out;
  }

  write(device: string, command: WriteCommand): Promise<void> {
    return this.scheduler.write(device, command);
  }

  stats(): BusStats & { decodeErrors: number } {
    return { ...this.scheduler.stats(), decodeErrors: this.acquisition.decodeErrors };
  }

  devices(): readonly string[] {
    return this.ids;
  }
}

/**
 * Tracks when each device of a push source (radio receiver, MQTT) was last heard, and reports it
 * offline after `offlineAfterMs` of silence — such sensors report by themselves every few minutes.
 */
class SilenceWatch {
  private readonly state = new Map<string, DeviceLinkState['state']>();
  private readonly reasons = new Map<string, string>();
  private readonly details = new Map<string, string>();
  private readonly since = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ids: readonly string[],
    private readonly offlineAfterMs: number,
    private readonly lastSeen: () => ReadonlyMap<string, number>,
    private readonly now: () => number,
    private readonly emit: (s: DeviceLinkState) => void,
  ) {}

  start(startedAt: number): void {
    this.check(startedAt);
    this.timer = setInterval(() => this.check(startedAt), Math.min(10_000, this.offlineAfterMs / 4));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Called when a report (frame, message) arrives: a silent device that speaks again is online at
   * once — or faulty with DRV_ERR_IMPLAUSIBLE and the reason while its report contradicts itself
   * (drivers/profiles/plausibility.ts), as a register device is (drivers/acquisition.ts).
   */
  heard(device: string, ts: number, implausible: readonly Implausibility[] = []): void {
    if (implausible.length > 0) {
      const detail = new DoorstepError('DRV_ERR_IMPLAUSIBLE', {
        device,
        reason: implausible.map((i) => i.reason).join('; '),
      }).message;
      if (this.state.get(device) === 'faulty' && this.details.get(device) === detail) return;
      const since = this.state.get(device) === 'faulty' ? (this.since.get(device) ?? ts) : ts;
      this.state.set(device, 'faulty');
      this.reasons.set(device, 'DRV_ERR_IMPLAUSIBLE');
      this.details.set(device, detail);
      this.since.set(device, since);
      this.emit({
        device,
        state: 'faulty',
        reason: 'DRV_ERR_IMPLAUSIBLE',
        detail,
        since,
        lastSeen: ts,
        consecutiveFailures: 0,
      });
      return;
    }
    if (this.state.get(device) !== 'online') {
      this.state.set(device, 'online');
      this.reasons.delete(device);
      this.details.delete(device);
      this.since.set(device, ts);
      this.emit({ device, state: 'online', since: ts, lastSeen: ts, consecutiveFailures: 0 });
    }
  }

  /**
   * The bus under them delivers no valid frame: every detector not heard since `since` is offline
   * now with that reason — waiting out `offlineAfterMs` (30 min by default) would hide it.
   */
  busDegraded(code: string, detail: string, since: number): void {
    const now = this.now();
    const seen = this.lastSeen();
    for (const id of this.ids) {
      const last = seen.get(id);
      if (last !== undefined && last >= since) continue;
      if (this.state.get(id) === 'offline' && this.reasons.get(id) === code) continue;
      this.state.set(id, 'offline');
      this.reasons.set(id, code);
      this.emit({
        device: id,
        state: 'offline',
        reason: code,
        detail,
        since: now,
        ...(last !== undefined ? { lastSeen: last } : {}),
        consecutiveFailures: 0,
      });
    }
  }

  private check(startedAt: number): void {
    const now = this.now();
    const seen = this.lastSeen();
    for (const id of this.ids) {
      const last = seen.get(id) ?? startedAt;
      if (now - last >= this.offlineAfterMs && this.state.get(id) !== 'offline') {
        this.state.set(id, 'offline');
        this.reasons.set(id, 'DRV_ERR_TIMEOUT');
        this.emit({
          device: id,
          state: 'offline',
          reason: 'DRV_ERR_TIMEOUT',
          detail: `nothing heard for ${Math.round((now - last) / 1000)} s`,
          since: now,
          ...(seen.has(id) ? { lastSeen: last } : {}),
          consecutiveFailures: 0,
        });
      }
    }
  }
}

/**
 * A wireless receiver on a serial port. The receiver does not reopen a lost port by itself; this
 * source does, with backoff, because an unplugged USB adapter comes back under the same by-id name.
 */
export class FramesSource implements ReadingSource {
  readonly bus: string;
  private receiver: FrameReceiver | undefined;
  private readonly listeners = new Listeners();
  private readonly watch: SilenceWatch;
  private readonly frames: ValidFrameWatch;
  private stopped = true;
  private restartDelayMs = 500;
  private restartTimer: NodeJS.Timeout | undefined;
  private linkLosses = 0;
  private lastStats: Record<string, unknown> = {};

  constructor(
    private readonly config: Extract<Bus, { type: 'frames' }>,
    private readonly deviceList: readonly ConfiguredDevice[],
    private readonly ctx: SourceContext,
  ) {
    this.bus = config.id;
    this.watch = new SilenceWatch(
      deviceList.map((d) => d.id),
      config.offlineAfterMs,
      () => this.receiver?.lastSeen() ?? new Map(),
      ctx.now,
      (s) => this.listeners.emitState(s),
    );
    this.frames = new ValidFrameWatch(
      {
        bus: config.id,
        degradedAfterMs: config.degradedAfterMs,
        logger: ctx.logger.child({ bus: config.id }),
        onChange: (health) => {
          // Its detectors say why they went quiet: DRV_ERR_BUS_DEGRADED with the rejections.
          if (health.state === 'degraded')
            this.watch.busDegraded(
              'DRV_ERR_BUS_DEGRADED',
              health.detail ?? '',
              health.since - config.degradedAfterMs,
            );
          this.listeners.emitHealth(health);
        },
      },
      ctx.now(),
    );
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.watch.start(this.ctx.now());
    await this.open();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const logger = this.ctx.logger.child({ bus: this.bus });
    const { FrameReceiver } = await import('../../drivers/frames/receiver.js');
    const link =
      this.ctx.createSerialLink?.(this.config) ??
      new this.ctx.SerialLink!({
        path: this.config.port,
        baudRate: this.config.baudRate,
        parity: this.config.parity,
        dataBits: this.config.dataBits,
        stopBits: this.config.stopBits,
        logger,
      });
    // The devices' own profiles (built-in, file or inline, as loaded at the last (re)load).
    const profiles = Object.fromEntries(
      this.deviceList.flatMap((d) => (d.resolved.type === 'frame' ? [[d.profile, d.resolved.profile]] : [])),
    );
    const layout = this.deviceList.find((d) => d.resolved.type === 'frame' && d.resolved.layout)?.resolved;
    const receiver = new FrameReceiver({
      link,
      codec: this.config.codec,
      detectors: this.deviceList.map((d) => ({ detector: d.detector!, device: d.id, profile: d.profile })),
      profiles,
      ...(layout?.type === 'frame' && layout.layout ? { layout: layout.layout } : {}),
      clock: this.ctx.now,
      logger,
      watch: this.frames,
    });
    receiver.onReadings((event) => {
      this.watch.heard(event.device, event.readings[0]?.ts ?? this.ctx.now(), event.implausible);
      this.listeners.emitReadings(event.readings);
    });
    receiver.onIssue((error) => {
      if (error.code === 'DRV_ERR_LINK_DOWN') {
        this.linkLosses++;
        this.scheduleRestart();
      }
    });
    this.receiver = receiver;
    try {
      await receiver.start();
      this.restartDelayMs = 500;
    } catch (error) {
      logger.warn({ err: error }, 'receiver port not available; retrying');
      this.scheduleRestart();
    }
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer) return;
    const old = this.receiver;
    this.lastStats = old ? { ...old.stats() } : this.lastStats;
    this.receiver = undefined;
    void old?.stop().catch(() => undefined);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.open();
    }, this.restartDelayMs);
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, 30_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.watch.stop();
    await this.receiver?.stop();
  }

  onReadings(listener: (readings: Reading[]) => void): void {
    this.listeners.readings.add(listener);
  }

  onDeviceState(listener: (state: DeviceLinkState) => void): void {
    this.listeners.states.add(listener);
  }

  health(): BusHealth {
    return this.frames.current();
  }

  onHealth(listener: (health: BusHealth) => void): void {
    this.listeners.healths.add(listener);
  }

  lastSeen(): ReadonlyMap<string, number> {
    return this.receiver?.lastSeen() ?? new Map();
  }

  stats(): Record<string, unknown> {
    return { ...(this.receiver ? this.receiver.stats() : this.lastStats), linkLosses: this.linkLosses };
  }

  devices(): readonly string[] {
    return this.deviceList.map((d) => d.id);
  }
}

/** MQTT-native sensors publishing into the gateway's local broker under `sensors/…`. */
export class MqttSource implements ReadingSource {
  readonly bus: string;
  private input: MqttInput | undefined;
  private readonly listeners = new Listeners();
  private readonly watch: SilenceWatch;
  private readonly startedAt: number;

  constructor(
    config: Extract<Bus, { type: 'mqtt' }>,
    private readonly deviceList: readonly ConfiguredDevice[],
    private readonly ctx: SourceContext,
  ) {
    this.bus = config.id;
    this.startedAt = ctx.now();
    this.watch = new SilenceWatch(
      deviceList.map((d) => d.id),
      config.offlineAfterMs,
      () => this.input?.lastSeen() ?? new Map(),
      ctx.now,
      (s) => this.listeners.emitState(s),
    );
  }

  async start(): Promise<void> {
    const byProfile = new Map<string, Record<string, string>>();
    for (const d of this.deviceList) {
      const map = byProfile.get(d.profile) ?? {};
      map[d.topicId ?? d.id] = d.id;
      byProfile.set(d.profile, map);
    }
    const mqttProfiles = Object.fromEntries(
      this.deviceList.flatMap((d) => (d.resolved.type === 'mqtt' ? [[d.profile, d.resolved.profile]] : [])),
    );
    const { MqttInput } = await import('../../drivers/mqtt/input.js');
    const input = new MqttInput({
      url: this.ctx.brokerUrl?.() ?? 'mqtt://127.0.0.1:1883',
      // Sensors publish below `sensors/` in the gateway's topic tree (edge/broker/README.md).
      subscriptions: [...byProfile].map(([profile, devices]) => ({
        profile,
        topic: `sensors/${mqttProfiles[profile]?.topic ?? '+'}`,
        devices,
      })),
      profiles: mqttProfiles,
      clock: this.ctx.now,
      logger: this.ctx.logger.child({ bus: this.bus }),
      ...(this.ctx.brokerCredentials
        ? { clientOptions: { ...this.ctx.brokerCredentials, clientId: `doorstep-internal-${this.bus}` } }
        : {}),
    });
    input.onReadings((event) => {
      this.watch.heard(event.device, event.readings[0]?.ts ?? this.ctx.now(), event.implausible);
      this.listeners.emitReadings(event.readings);
    });
    this.input = input;
    this.watch.start(this.ctx.now());
    await input.start();
  }

  async stop(): Promise<void> {
    this.watch.stop();
    await this.input?.stop();
  }

  onReadings(listener: (readings: Reading[]) => void): void {
    this.listeners.readings.add(listener);
  }

  onDeviceState(listener: (state: DeviceLinkState) => void): void {
    this.listeners.states.add(listener);
  }

  health(): BusHealth {
    return { state: 'ok', since: this.startedAt };
  }

  onHealth(): void {
    // The local broker carries these sensors; a broken payload is the device's, counted per message.
  }

  lastSeen(): ReadonlyMap<string, number> {
    return this.input?.lastSeen() ?? new Map();
  }

  stats(): Record<string, unknown> {
    return this.input ? { ...this.input.stats() } : {};
  }

  devices(): readonly string[] {
    return this.deviceList.map((d) => d.id);
  }
}

export async function createSource(
  bus: Bus,
  devices: readonly ConfiguredDevice[],
  ctx: SourceContext,
): Promise<ReadingSource> {
  if ((bus.type === 'rtu' || bus.type === 'frames') && !ctx.createSerialLink)
    ctx = { ...ctx, SerialLink: (await import('../../drivers/link/serial.js')).SerialLink };
  switch (bus.type) {
    case 'rtu':
    case 'tcp':
      return new ModbusSource(bus, devices, ctx);
    case 'frames':
      return new FramesSource(bus, devices, ctx);
    case 'mqtt':
      return new MqttSource(bus, devices, ctx);
  }
}

/** A Modbus device's register profile, as resolved by the configuration (built-in, file or inline). */
function registerProfileOfDevice(d: ConfiguredDevice): Readonly<RegisterProfile> {
  if (d.resolved.type !== 'register')
    throw new DoorstepError('DRV_ERR_PROFILE', { profile: d.profile, reason: 'not a register profile' });
  return d.resolved.profile;
}
