/**
 * Commissioning: read every configured device once through the same drivers the gateway runs
 * (BusScheduler → DeviceAcquisition → profile decode), then the walk test — the installer triggers
 * each sensor and it is ticked off as its reading changes. The gateway runtime must not hold the
 * ports meanwhile (stop doorstep-edge on a box that already runs it).
 */
import { DeviceAcquisition } from '../drivers/acquisition.js';
import { BusScheduler } from '../drivers/bus/scheduler.js';
import { SerialLink } from '../drivers/link/serial.js';
import { TcpLink } from '../drivers/link/tcp.js';
import { getRegisterProfile } from '../drivers/profiles/catalogue/index.js';
import type { ConfiguredDevice, GatewayConfigResult } from '../edge/config/load.js';
import type { Bus } from '../edge/config/schema.js';
import { type DeviceLinkState, DoorstepError, isDoorstepError, type Reading } from '../protocol/index.js';
import { checkPort } from './scan.js';

type Value = number | boolean;
type Values = Record<string, Value>;

export interface WalkResult {
  status: 'passed' | 'failed' | 'skipped';
  /** What the installer does to trigger it. */
  action: string;
  afterMs?: number;
  point?: string;
  value?: Value;
  reason?: string;
  detail?: string;
}

export interface DeviceCheck {
  device: string;
  kind: string;
  location: string;
  bus: string;
  profile: string;
  address: string;
  status: 'ok' | 'fail' | 'skipped';
  /** Catalogue code when not ok (DRV_ERR_TIMEOUT, PROV_ERR_DEVICE_FAULT …). */
  reason?: string;
  detail?: string;
  /** The device's main point (smoke, gas, pressure, door_open …) as read. */
  value?: { point: string; value: Value; unit: string };
  readings: Values;
  walk?: WalkResult;
}

interface Trigger {
  action: string;
  /** The point and value that show the sensor was triggered, or undefined. */
  test(now: Values, base: Values): { point: string; value: Value } | undefined;
}

const flag = (point: string) => (now: Values) => (now[point] === true ? { point, value: true } : undefined);
const first =
  (...tests: Array<(now: Values, base: Values) => { point: string; value: Value } | undefined>) =>
  (now: Values, base: Values) =>
    tests.map((t) => t(now, base)).find((r) => r !== undefined);
const moved = (point: string, delta: number) => (now: Values, base: Values) => {
  const v = now[point];
  const b = base[point];
  return typeof v === 'number' && typeof b === 'number' && Math.abs(v - b) >= delta
    ? { point, value: v }
    : undefined;
};
const atLeast = (point: string, limit: number) => (now: Values) => {
  const v = now[point];
  return typeof v === 'number' && v >= limit ? { point, value: v } : undefined;
};

/** What a walk test expects of each kind of sensor (figures: reference/standards.md). */
const TRIGGERS: Record<string, Trigger> = {
  smoke: { action: "press the detector's test button", test: flag('smoke') },
  // Test gas raises the reading well past noise; a detector's own AL1 is set within 1–25 %LEL (GB 15322.1).
  gas: {
    action: 'apply test gas to the sensor',
    test: first(flag('gas_al1'), flag('gas_al2'), moved('gas', 5)),
  },
  // Opening the inspector's test valve drops the main by more than the 2 % deadband of a 1.6 MPa span.
  water_pressure: { action: 'open the test valve (pressure must drop)', test: moved('pressure', 0.05) },
  door: { action: 'open the door', test: flag('door_open') },
  vehicle_presence: { action: 'park a vehicle over the sensor', test: flag('vehicle_present') },
  // Manhole covers: a tilt of 10–15° is the alarm threshold in vendor practice.
  manhole_tilt: { action: 'lift or tilt the cover', test: first(flag('cover_open'), atLeast('tilt', 10)) },
};

const MAIN_POINT: Record<string, string> = {
  smoke: 'smoke',
  gas: 'gas',
  water_pressure: 'pressure',
  door: 'door_open',
  vehicle_presence: 'vehicle_present',
  manhole_tilt: 'tilt',
};

/** Conditions a device must not be in when handed over, checked on the first complete reading. */
const UNFIT: Array<{ point: string; condition: string; when: (v: Value) => boolean }> = [
  { point: 'fault', condition: 'a fault', when: (v) => v === true },
  { point: 'smoke', condition: 'an active smoke alarm', when: (v) => v === true },
  { point: 'gas_al2', condition: 'an active gas alarm (AL2)', when: (v) => v === true },
  { point: 'gas_al1', condition: 'an active gas alarm (AL1)', when: (v) => v === true },
  { point: 'cover_open', condition: 'the cover open', when: (v) => v === true },
  { point: 'sensor_fault', condition: 'a loop fault (outside 3.8–20.5 mA)', when: (v) => v === true },
  { point: 'battery_low', condition: 'a low battery', when: (v) => v === true },
  { point: 'tamper', condition: 'tamper', when: (v) => v === true },
];

const roleOf = (d: ConfiguredDevice) => (d.kind === 'geomagnetic' ? (d.use ?? 'vehicle_presence') : d.kind);

interface Tracked {
  device: ConfiguredDevice;
  points: string[];
  units: Record<string, string>;
  values: Values;
  state?: DeviceLinkState;
  check?: DeviceCheck;
  base?: Values;
  armed: boolean;
}

export interface CommissionOptions {
  /** Poll interval of every point while commissioning (default 250 ms). */
  pollMs?: number;
}

export class Commissioner {
  private readonly tracked = new Map<string, Tracked>();
  private readonly schedulers: BusScheduler[] = [];
  private readonly acquisitions: DeviceAcquisition[] = [];
  private readonly preChecks: DeviceCheck[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly pollMs: number;

  constructor(
    private readonly loaded: GatewayConfigResult,
    options: CommissionOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 250;
  }

  /** Opens the buses (a missing or forbidden port fails its devices, not the run) and starts polling. */
  async start(): Promise<void> {
    const { config } = this.loaded;
    // A device entry the gateway would disable is in the report too: the installer must see it.
    for (const d of this.loaded.disabled)
      this.preChecks.push({
        device: d.device,
        kind: '?',
        location: '',
        bus: '',
        profile: '',
        address: '',
        status: 'fail',
        reason: 'CFG_ERR_INVALID',
        detail: d.issues.map((i) => `${i.path}: ${i.message}`).join('; '),
        readings: {},
      });
    for (const bus of config.buses) {
      const devices = config.devices.filter((d) => d.bus === bus.id && d.enabled);
      if (devices.length === 0) continue;
      if (bus.type !== 'rtu' && bus.type !== 'tcp') {
        for (const d of devices)
          this.preChecks.push(
            this.base(d, 'skipped', {
              reason: 'PROV_ERR_NOT_POLLED',
              detail: new DoorstepError('PROV_ERR_NOT_POLLED', { device: d.id, busType: bus.type }).message,
            }),
          );
        continue;
      }
      if (bus.type === 'rtu') {
        try {
          await checkPort(bus.port);
        } catch (error) {
          if (!isDoorstepError(error)) throw error;
          for (const d of devices)
            this.preChecks.push(this.base(d, 'fail', { reason: error.code, detail: error.message }));
          continue;
        }
      }
      this.startBus(bus, devices);
    }
  }

  private startBus(bus: Extract<Bus, { type: 'rtu' | 'tcp' }>, devices: ConfiguredDevice[]): void {
    const serial =
      bus.type === 'rtu'
        ? { baudRate: bus.baudRate, parity: bus.parity, dataBits: bus.dataBits, stopBits: bus.stopBits }
        : undefined;
    const scheduler = new BusScheduler({
      bus: bus.id,
      protocol: bus.type,
      ...(serial ? { serial } : {}),
      createLink: (endpoint) =>
        serial && bus.type === 'rtu'
          ? new SerialLink({ path: bus.port, ...serial })
          : new TcpLink({ host: endpoint!.host, port: endpoint!.port }),
      // One failure is a verdict here: the installer is waiting, and the walk test re-probes.
      offlineAfter: 1,
      backoff: { initialMs: this.pollMs, factor: 2, maxMs: 2000 },
      reconnect: { initialMs: 200, factor: 2, maxMs: 2000 },
    });
    const acquisition = new DeviceAcquisition(scheduler);
    acquisition.onReadings((readings) => this.onReadings(readings));
    acquisition.onDeviceState((state) => this.onState(state));
    acquisition.start();
    const intervals = { critical: this.pollMs, normal: this.pollMs, diagnostic: this.pollMs };
    for (const d of devices) {
      const profile = d.resolved.type === 'register' ? d.resolved.profile : getRegisterProfile(d.profile);
      this.tracked.set(d.id, {
        device: d,
        points: profile.points.map((p) => p.point),
        units: Object.fromEntries(profile.points.map((p) => [p.point, p.unit])),
        values: {},
        armed: false,
      });
      acquisition.add({
        id: d.id,
        profile,
        unitId: d.unitId ?? 1,
        timeoutMs: bus.timeoutMs,
        retries: bus.retries,
        intervals,
        ...(bus.type === 'tcp' ? { endpoint: { host: d.host!, port: d.port! } } : {}),
      });
    }
    scheduler.start();
    this.schedulers.push(scheduler);
    this.acquisitions.push(acquisition);
  }

  private onReadings(readings: Reading[]): void {
    for (const r of readings) {
      const t = this.tracked.get(r.device);
      if (t && (typeof r.value === 'number' || typeof r.value === 'boolean')) t.values[r.point] = r.value;
    }
    for (const l of this.listeners) l();
  }

  private onState(state: DeviceLinkState): void {
    const t = this.tracked.get(state.device);
    if (t) t.state = state;
    for (const l of this.listeners) l();
  }

  private base(
    d: ConfiguredDevice,
    status: DeviceCheck['status'],
    extra: Partial<DeviceCheck> = {},
  ): DeviceCheck {
    const address =
      d.busType === 'tcp'
        ? `${d.host}:${d.port}#${d.unitId ?? 1}`
        : d.unitId !== undefined
          ? `#${d.unitId}`
          : (d.detector?.toString() ?? d.topicId ?? '');
    return {
      device: d.id,
      kind: d.kind === 'geomagnetic' ? `geomagnetic/${d.use ?? 'vehicle_presence'}` : d.kind,
      location: d.location,
      bus: d.bus,
      profile: d.profile,
      address,
      status,
      readings: {},
      ...extra,
    };
  }

  /** The verdict on a device now, or undefined while it is still being read. */
  private verdict(t: Tracked, final: boolean, timeoutMs: number): DeviceCheck | undefined {
    const d = t.device;
    const complete = t.points.every((p) => p in t.values);
    // Offline (no answer) or faulty (exceptions, undecodable data): either way not commissioned.
    if ((t.state?.state === 'offline' || t.state?.state === 'faulty') && !complete)
      return this.base(d, 'fail', {
        reason: t.state.reason ?? 'DRV_ERR_TIMEOUT',
        ...(t.state.detail ? { detail: t.state.detail } : {}),
        readings: { ...t.values },
      });
    if (!complete) {
      if (!final) return undefined;
      const error = new DoorstepError('PROV_ERR_NO_READING', { device: d.id, timeoutMs });
      return this.base(d, 'fail', { reason: error.code, detail: error.message, readings: { ...t.values } });
    }
    const main = MAIN_POINT[roleOf(d)];
    const value =
      main && main in t.values
        ? { value: { point: main, value: t.values[main]!, unit: t.units[main] ?? '' } }
        : {};
    const unfit = UNFIT.find((u) => u.point in t.values && u.when(t.values[u.point]!));
    if (unfit) {
      const error = new DoorstepError('PROV_ERR_DEVICE_FAULT', { device: d.id, condition: unfit.condition });
      return this.base(d, 'fail', {
        reason: error.code,
        detail: error.message,
        readings: { ...t.values },
        ...value,
      });
    }
    return this.base(d, 'ok', { readings: { ...t.values }, ...value });
  }

  private waitFor(done: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.listeners.add(check);
      signal?.addEventListener('abort', finish);
      check();
    });
  }

  /** Reads every device once: a complete set of points, or the reason it could not be read. */
  async readOnce(timeoutMs = 10_000): Promise<DeviceCheck[]> {
    const settled = () =>
      [...this.tracked.values()].every((t) => this.verdict(t, false, timeoutMs) !== undefined);
    await this.waitFor(settled, timeoutMs);
    for (const t of this.tracked.values()) {
      t.check = this.verdict(t, true, timeoutMs);
      t.base = { ...t.values };
    }
    return this.checks();
  }

  checks(): DeviceCheck[] {
    const order = new Map(this.loaded.config.devices.map((d, i) => [d.id, i]));
    const polled = [...this.tracked.values()].map((t) => t.check ?? this.verdict(t, true, 0)!);
    return [...this.preChecks, ...polled].sort(
      (a, b) => (order.get(a.device) ?? -1) - (order.get(b.device) ?? -1),
    );
  }

  /**
   * Walk test over the devices that read fine: resolves when every one was triggered, the time is
   * up (the rest fail with PROV_ERR_WALK_TIMEOUT) or `signal` aborts (the rest are "not tested").
   */
  async walkTest(options: {
    timeoutMs: number;
    signal?: AbortSignal;
    onEvent?: (device: string, walk: WalkResult) => void;
  }): Promise<DeviceCheck[]> {
    if (![...this.tracked.values()].some((t) => t.check)) await this.readOnce();
    const started = performance.now();
    const candidates = [...this.tracked.values()].filter((t) => t.check?.status === 'ok');
    for (const t of this.tracked.values()) {
      const trigger = TRIGGERS[roleOf(t.device)]!;
      if (t.check && t.check.status !== 'ok')
        t.check.walk = {
          status: 'skipped',
          action: trigger.action,
          reason: t.check.reason!,
          detail: 'not readable',
        };
      // Armed once the sensor is seen at rest: a door already open must be seen closed first.
      t.armed = trigger.test(t.base ?? {}, t.base ?? {}) === undefined;
    }
    const evaluate = () => {
      for (const t of candidates) {
        if (t.check!.walk) continue;
        const trigger = TRIGGERS[roleOf(t.device)]!;
        const hit = trigger.test(t.values, t.base ?? {});
        if (!t.armed) {
          if (!hit) t.armed = true;
          continue;
        }
        if (!hit) continue;
        t.check!.walk = {
          status: 'passed',
          action: trigger.action,
          afterMs: Math.round(performance.now() - started),
          ...hit,
        };
        options.onEvent?.(t.device.id, t.check!.walk);
      }
      return candidates.every((t) => t.check!.walk);
    };
    await this.waitFor(evaluate, options.timeoutMs, options.signal);
    for (const t of candidates) {
      if (t.check!.walk) continue;
      const trigger = TRIGGERS[roleOf(t.device)]!;
      const error = new DoorstepError('PROV_ERR_WALK_TIMEOUT', {
        device: t.device.id,
        timeoutS: Math.round(options.timeoutMs / 1000),
        action: trigger.action,
      });
      t.check!.walk = options.signal?.aborted
        ? {
            status: 'skipped',
            action: trigger.action,
            detail: 'walk test interrupted before it was triggered',
          }
        : { status: 'failed', action: trigger.action, reason: error.code, detail: error.message };
      options.onEvent?.(t.device.id, t.check!.walk);
    }
    return this.checks();
  }

  /** What each device still waiting in the walk test needs. */
  pending(): Array<{ device: string; location: string; action: string }> {
    return [...this.tracked.values()]
      .filter((t) => t.check?.status === 'ok' && !t.check.walk)
      .map((t) => ({
        device: t.device.id,
        location: t.device.location,
        action: TRIGGERS[roleOf(t.device)]!.action,
      }));
  }

  async stop(): Promise<void> {
    for (const a of this.acquisitions) a.stop();
    for (const s of this.schedulers) await s.stop();
    this.listeners.clear();
  }
}
