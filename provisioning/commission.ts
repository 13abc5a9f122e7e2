/**
 * Commissioning: the gateway's own composition (`buildEdge`: the same sources, drivers, profile
 * decode and rule engine the box runs) reads every configured device, so a ✓ means the gateway
 * itself sees the device and raises no alarm on it — not only that the device's own flags are clear.
 * Then the walk test: the installer triggers each sensor and puts it back; it passes once it was
 * seen triggered and at rest again. Everything runs in commissioning mode (every alarm a test),
 * without uplink, broker, Node-RED or local actions, with its state in a temporary directory. The
 * gateway runtime must not hold the ports meanwhile (stop doorstep-edge on a box that runs it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRegisterProfile } from '../drivers/profiles/catalogue/index.js';
import type { ConfiguredDevice, GatewayConfigResult } from '../edge/config/load.js';
import { buildEdge, type Edge, type EdgeDeps } from '../edge/runtime/gateway.js';
import {
  type AlarmTransition,
  type DeviceLinkState,
  DoorstepError,
  isDoorstepError,
  type Reading,
} from '../protocol/index.js';
import { checkPort } from './scan.js';

type Value = number | boolean;
type Values = Record<string, Value>;

export interface WalkResult {
  status: 'passed' | 'failed' | 'skipped';
  /** What the installer does to trigger it. */
  action: string;
  /** When it was seen triggered, from the start of the walk test. */
  afterMs?: number;
  point?: string;
  value?: Value;
  /** When it was seen back at rest, from the start of the walk test. */
  restAfterMs?: number;
  /** Alarm types the gateway's rules raised (as tests) while it was triggered. */
  alarms?: string[];
  reason?: string;
  detail?: string;
}

/** A live walk-test event: a final result, or a sensor seen triggered that must now be restored. */
export type WalkEvent =
  | WalkResult
  | { status: 'triggered'; action: string; afterMs: number; point: string; value: Value };

export interface DeviceCheck {
  device: string;
  kind: string;
  location: string;
  bus: string;
  profile: string;
  address: string;
  status: 'ok' | 'fail' | 'skipped';
  /** Catalogue code when not ok (DRV_ERR_TIMEOUT, PROV_ERR_DEVICE_FAULT, PROV_ERR_ALARM_OPEN …). */
  reason?: string;
  detail?: string;
  /** The device's main point (smoke, gas, pressure, door_open …) as read. */
  value?: { point: string; value: Value; unit: string };
  readings: Values;
  /** Alarms the gateway's rules held open (or pending) on it when it was read. */
  alarms?: { type: string; phase: string }[];
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
  /** Seen triggered in the walk test; passes once back at rest. */
  triggered?: { afterMs: number; point: string; value: Value };
  /** Alarm types raised on it during the walk test (test alarms). */
  raised: Set<string>;
}

export interface CommissionOptions {
  /** Poll interval of every point while commissioning (default 250 ms, at least 100). */
  pollMs?: number;
  /** Who resets the latched test alarms after the walk test (recorded by the rules). */
  installer?: string;
  /** For tests: the gateway's serial link factory (EdgeDeps.createSerialLink). */
  createSerialLink?: EdgeDeps['createSerialLink'];
}

/** The configuration the commissioning run builds the gateway from: same buses, devices and rules. */
function commissioningConfig(
  loaded: GatewayConfigResult,
  buses: GatewayConfigResult['config']['buses'],
  devices: ConfiguredDevice[],
  pollMs: number,
  dataDir: string,
): GatewayConfigResult {
  const { uplink: _u, broker: _b, nodeRed: _n, ...config } = loaded.config;
  const intervals = { critical: pollMs, normal: pollMs, diagnostic: pollMs };
  return {
    ...loaded,
    config: {
      ...config,
      gateway: { ...config.gateway, commissioning: true },
      buses,
      devices: devices.map((d) => ({ ...d, pollIntervals: intervals })),
      // A walk test must not sound sirens or publish: local actions stay with the real gateway.
      actions: [],
      storage: { dataDir },
      health: { host: '127.0.0.1', port: 0 },
    },
  };
}

export class Commissioner {
  private readonly tracked = new Map<string, Tracked>();
  private readonly preChecks: DeviceCheck[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly pollMs: number;
  private edge: Edge | undefined;
  private walking = false;
  private dataDir: string | undefined;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly loaded: GatewayConfigResult,
    private readonly options: CommissionOptions = {},
  ) {
    this.pollMs = Math.max(100, Math.round(options.pollMs ?? 250));
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
    const buses: GatewayConfigResult['config']['buses'] = [];
    const polled: ConfiguredDevice[] = [];
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
      if (bus.type === 'rtu' && !this.options.createSerialLink) {
        try {
          await checkPort(bus.port);
        } catch (error) {
          if (!isDoorstepError(error)) throw error;
          for (const d of devices)
            this.preChecks.push(this.base(d, 'fail', { reason: error.code, detail: error.message }));
          continue;
        }
      }
      buses.push(bus);
      polled.push(...devices);
    }
    for (const d of polled) {
      const profile = d.resolved.type === 'register' ? d.resolved.profile : getRegisterProfile(d.profile);
      this.tracked.set(d.id, {
        device: d,
        points: profile.points.map((p) => p.point),
        units: Object.fromEntries(profile.points.map((p) => [p.point, p.unit])),
        values: {},
        armed: false,
        raised: new Set(),
      });
    }
    this.dataDir = mkdtempSync(join(tmpdir(), 'doorstep-commission-'));
    const edge = buildEdge(commissioningConfig(this.loaded, buses, polled, this.pollMs, this.dataDir), {
      ...(this.options.createSerialLink ? { createSerialLink: this.options.createSerialLink } : {}),
    });
    this.edge = edge;
    this.unsubscribe.push(
      edge.onReadings((readings) => this.onReadings(readings)),
      edge.onDeviceState((state) => this.onState(state)),
      edge.onTransition((t) => this.onTransition(t)),
    );
    await edge.start();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private onReadings(readings: Reading[]): void {
    for (const r of readings) {
      const t = this.tracked.get(r.device);
      if (t && (typeof r.value === 'number' || typeof r.value === 'boolean')) t.values[r.point] = r.value;
    }
    this.notify();
  }

  private onState(state: DeviceLinkState): void {
    const t = this.tracked.get(state.device);
    if (t) t.state = state;
    this.notify();
  }

  private onTransition(transition: AlarmTransition): void {
    const t = this.tracked.get(transition.device);
    // The rules see a reading before the walk test does: count what was raised since the walk began.
    if (t && this.walking && transition.state === 'raised') t.raised.add(transition.type);
    this.notify();
  }

  /** Occurrences the gateway's rule engine holds per device (pending on-delay, active, latched …). */
  private openAlarms(): Map<string, { type: string; phase: string }[]> {
    const out = new Map<string, { type: string; phase: string }[]>();
    for (const o of this.edge?.health().rules.openAlarms ?? []) {
      const list = out.get(o.device) ?? [];
      list.push({ type: o.type, phase: o.phase });
      out.set(o.device, list);
    }
    return out;
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
  private verdict(
    t: Tracked,
    final: boolean,
    timeoutMs: number,
    open: Map<string, { type: string; phase: string }[]>,
  ): DeviceCheck | undefined {
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
    const alarms = open.get(d.id) ?? [];
    const extra = { readings: { ...t.values }, ...value, ...(alarms.length ? { alarms } : {}) };
    const unfit = UNFIT.find((u) => u.point in t.values && u.when(t.values[u.point]!));
    if (unfit) {
      const error = new DoorstepError('PROV_ERR_DEVICE_FAULT', { device: d.id, condition: unfit.condition });
      return this.base(d, 'fail', { reason: error.code, detail: error.message, ...extra });
    }
    // The device's flags are clear, but the gateway's own rules decide what the town sees.
    if (alarms.length > 0) {
      const list = alarms
        .map((a) => (a.phase === 'pending' ? `${a.type} (pending its on-delay)` : `${a.type} (${a.phase})`))
        .join(', ');
      const error = new DoorstepError('PROV_ERR_ALARM_OPEN', { device: d.id, alarms: list });
      return this.base(d, 'fail', { reason: error.code, detail: error.message, ...extra });
    }
    return this.base(d, 'ok', extra);
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

  /**
   * Reads every device: a complete set of points, or the reason it could not be read. Once every
   * device has a verdict it waits two more poll cycles, so the rules have judged what was read
   * (an alarm waiting out its on-delay counts: it is held as pending).
   */
  async readOnce(timeoutMs = 10_000): Promise<DeviceCheck[]> {
    const none = new Map<string, { type: string; phase: string }[]>();
    const settled = () =>
      [...this.tracked.values()].every((t) => this.verdict(t, false, timeoutMs, none) !== undefined);
    await this.waitFor(settled, timeoutMs);
    await new Promise((r) => setTimeout(r, Math.max(500, 2 * this.pollMs)));
    const open = this.openAlarms();
    for (const t of this.tracked.values()) {
      t.check = this.verdict(t, true, timeoutMs, open);
      t.base = { ...t.values };
    }
    return this.checks();
  }

  checks(): DeviceCheck[] {
    const order = new Map(this.loaded.config.devices.map((d, i) => [d.id, i]));
    const open = this.openAlarms();
    const polled = [...this.tracked.values()].map((t) => t.check ?? this.verdict(t, true, 0, open)!);
    return [...this.preChecks, ...polled].sort(
      (a, b) => (order.get(a.device) ?? -1) - (order.get(b.device) ?? -1),
    );
  }

  /**
   * Walk test over the devices that read fine: each must be seen triggered, then at rest again.
   * Resolves when every one passed, the time is up (the rest fail: PROV_ERR_WALK_TIMEOUT, or
   * PROV_ERR_NOT_AT_REST when triggered but not restored) or `signal` aborts (the rest are "not
   * tested"). Latched test alarms of a restored sensor are reset, as the installer would at the panel.
   */
  async walkTest(options: {
    timeoutMs: number;
    signal?: AbortSignal;
    onEvent?: (device: string, walk: WalkEvent) => void;
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
      t.triggered = undefined;
      t.raised.clear();
    }
    this.walking = true;
    const evaluate = () => {
      const restored: string[] = [];
      for (const t of candidates) {
        if (t.check!.walk) continue;
        const trigger = TRIGGERS[roleOf(t.device)]!;
        const hit = trigger.test(t.values, t.base ?? {});
        if (!t.armed) {
          if (!hit) t.armed = true;
          continue;
        }
        if (!t.triggered) {
          if (!hit) continue;
          t.triggered = { afterMs: Math.round(performance.now() - started), ...hit };
          options.onEvent?.(t.device.id, { status: 'triggered', action: trigger.action, ...t.triggered });
          continue;
        }
        if (hit) continue;
        // Back at rest: a manhole cover left open or a test valve left open is not a pass.
        restored.push(t.device.id);
        t.check!.walk = {
          status: 'passed',
          action: trigger.action,
          ...t.triggered,
          restAfterMs: Math.round(performance.now() - started),
          ...(t.raised.size ? { alarms: [...t.raised] } : {}),
        };
        options.onEvent?.(t.device.id, t.check!.walk);
      }
      // After the loop: a reset announces a transition, which evaluates again.
      for (const device of restored) this.resetLatched(device);
      return candidates.every((t) => t.check!.walk);
    };
    await this.waitFor(evaluate, options.timeoutMs, options.signal);
    this.walking = false;
    for (const t of candidates) {
      if (t.check!.walk) continue;
      const trigger = TRIGGERS[roleOf(t.device)]!;
      const timeoutS = Math.round(options.timeoutMs / 1000);
      const error = t.triggered
        ? new DoorstepError('PROV_ERR_NOT_AT_REST', {
            device: t.device.id,
            point: t.triggered.point,
            value: t.triggered.value,
            timeoutS,
          })
        : new DoorstepError('PROV_ERR_WALK_TIMEOUT', {
            device: t.device.id,
            timeoutS,
            action: trigger.action,
          });
      t.check!.walk = options.signal?.aborted
        ? {
            status: 'skipped',
            action: trigger.action,
            ...(t.triggered ?? {}),
            detail: t.triggered
              ? 'walk test interrupted before it was back at rest'
              : 'walk test interrupted before it was triggered',
          }
        : {
            status: 'failed',
            action: trigger.action,
            ...(t.triggered ?? {}),
            ...(t.raised.size ? { alarms: [...t.raised] } : {}),
            reason: error.code,
            detail: error.message,
          };
      options.onEvent?.(t.device.id, t.check!.walk);
    }
    return this.checks();
  }

  private resetLatched(device: string): void {
    const by = this.options.installer ?? 'commissioning';
    for (const o of this.edge?.health().rules.openAlarms ?? [])
      if (o.device === device && o.phase === 'latched')
        void this.edge?.command({ command: 'reset', device, type: o.type, by, source: 'local' });
  }

  /** What each device still waiting in the walk test needs: trigger it, or put it back at rest. */
  pending(): Array<{ device: string; location: string; action: string; triggered: boolean }> {
    return [...this.tracked.values()]
      .filter((t) => t.check?.status === 'ok' && !t.check.walk)
      .map((t) => ({
        device: t.device.id,
        location: t.device.location,
        action: TRIGGERS[roleOf(t.device)]!.action,
        triggered: t.triggered !== undefined,
      }));
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.edge?.stop();
    this.edge = undefined;
    this.listeners.clear();
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
    this.dataDir = undefined;
  }
}
