import type { GeomagneticUse, SensorKind } from '../../protocol/index.js';
import { normalValues, type PointValues, type SimDevice } from './devices.js';

/**
 * Scripted scenarios for simulated devices: what a detector does during a fire, a leak, a pressure
 * drop… Each is a pure function of elapsed time, so tests can step it exactly and the demo can
 * play it in real time.
 */
export interface ScenarioFrame {
  values: PointValues;
  /** The device stops answering (its unit goes silent) while true. */
  silent: boolean;
}

export interface Scenario {
  name: string;
  description: string;
  /** Sensor kinds (and geomagnetic use) it applies to; undefined = any device having the points. */
  kinds?: readonly SensorKind[];
  use?: GeomagneticUse;
  /** Points the device must have. */
  requires: readonly string[];
  durationMs: number;
  at(elapsedMs: number, normal: PointValues): ScenarioFrame;
}

const S = 1000;
const MIN = 60 * S;

/** Linear ramp from `from` to `to` over [start, end]; clamps outside. */
function ramp(t: number, start: number, end: number, from: number, to: number): number {
  if (t <= start) return from;
  if (t >= end) return to;
  return from + ((to - from) * (t - start)) / (end - start);
}

const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;
const frame = (values: PointValues, silent = false): ScenarioFrame => ({ values, silent });

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'smoke_alarm',
    description: 'smoke detected at 10 s for 60 s, then the chamber clears',
    kinds: ['smoke'],
    requires: ['smoke'],
    durationMs: 90 * S,
    at: (t, normal) => {
      const on = t >= 10 * S && t < 70 * S;
      return frame({
        ...normal,
        smoke: on,
        ...('smoke_density' in normal ? { smoke_density: on ? 0.25 : 0.01 } : {}),
      });
    },
  },
  {
    name: 'gas_leak',
    description:
      'concentration ramps 0 → 60 %LEL over 60 s from 5 s (past the 20 %LEL low and 50 %LEL high set points), holds 30 s, decays over 60 s',
    kinds: ['gas'],
    requires: ['gas'],
    durationMs: 160 * S,
    at: (t, normal) => {
      const gas = t < 95 * S ? ramp(t, 5 * S, 65 * S, 0, 60) : ramp(t, 95 * S, 155 * S, 60, 0);
      // The detector's own relays: AL1 at 20 %LEL, AL2 at 50 %LEL (GB 15322.1 set-point ranges).
      return frame({ ...normal, gas: round(gas, 1), gas_al1: gas >= 20, gas_al2: gas >= 50 });
    },
  },
  {
    name: 'pressure_drop',
    description: 'pressure falls 0.35 → 0.05 MPa over 30 s from 5 s, holds 40 s, recovers over 20 s',
    kinds: ['water_pressure'],
    requires: ['pressure'],
    durationMs: 100 * S,
    at: (t, normal) => {
      const p = t < 75 * S ? ramp(t, 5 * S, 35 * S, 0.35, 0.05) : ramp(t, 75 * S, 95 * S, 0.05, 0.35);
      const values: PointValues = { ...normal, pressure: round(p) };
      if ('loop_current' in normal) values.loop_current = round(4 + (p / 1.6) * 16, 2);
      return frame(values);
    },
  },
  {
    name: 'door_held_open',
    description: 'the fire door is opened at 5 s and held open for 90 s',
    kinds: ['door'],
    requires: ['door_open'],
    durationMs: 120 * S,
    at: (t, normal) => frame({ ...normal, door_open: t >= 5 * S && t < 95 * S }),
  },
  {
    name: 'fire_lane_occupied',
    description: 'a vehicle parks over the fire-lane sensor at 5 s and stays 7 min',
    kinds: ['geomagnetic'],
    use: 'vehicle_presence',
    requires: ['vehicle_present'],
    durationMs: 8 * MIN,
    at: (t, normal) => {
      const parked = t >= 5 * S && t < 5 * S + 7 * MIN;
      return frame({
        ...normal,
        vehicle_present: parked,
        ...('field_strength' in normal ? { field_strength: parked ? 420 : 12 } : {}),
      });
    },
  },
  {
    name: 'manhole_tilted',
    description: 'the cover is lifted to 25° at 5 s and left open',
    kinds: ['geomagnetic'],
    use: 'manhole_tilt',
    requires: ['tilt'],
    durationMs: 60 * S,
    at: (t, normal) => {
      const lifted = t >= 5 * S;
      return frame({
        ...normal,
        tilt: lifted ? 25 : 0.4,
        ...('cover_open' in normal ? { cover_open: lifted } : {}),
      });
    },
  },
  {
    name: 'low_battery',
    description: 'the battery runs down from 92 % to 12 % over 60 s; the low-battery flag sets below 20 %',
    requires: [],
    durationMs: 70 * S,
    at: (t, normal) => {
      const battery = Math.round(ramp(t, 0, 60 * S, 92, 12));
      const values: PointValues = { ...normal };
      if ('battery' in normal) values.battery = battery;
      if ('battery_low' in normal) values.battery_low = battery < 20;
      return frame(values);
    },
  },
  {
    name: 'device_silent',
    description: 'the device stops answering at 5 s for 60 s (power cut, broken wire), then comes back',
    requires: [],
    durationMs: 80 * S,
    at: (t, normal) => frame({ ...normal }, t >= 5 * S && t < 65 * S),
  },
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** Whether a scenario can play on a device (kind, use and required points). */
export function scenarioFits(scenario: Scenario, device: SimDevice): boolean {
  const p = device.profile;
  if (scenario.kinds && !scenario.kinds.includes(p.kind)) return false;
  if (scenario.use && p.use !== scenario.use) return false;
  const points = new Set(p.points.map((x) => x.point));
  if (scenario.name === 'low_battery') return points.has('battery') || points.has('battery_low');
  return scenario.requires.every((r) => points.has(r));
}

/**
 * Plays a scenario on a device. `step(elapsedMs)` applies the frame for that moment (tests drive it
 * directly); `start()` plays in real time until the scenario ends (or forever with `loop`).
 */
export class ScenarioPlayer {
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private silent = false;
  private readonly normal: PointValues;

  constructor(
    readonly device: SimDevice,
    readonly scenario: Scenario,
    private readonly options: { loop?: boolean; tickMs?: number; now?: () => number } = {},
  ) {
    if (!scenarioFits(scenario, device))
      throw new Error(`scenario ${scenario.name} does not fit device ${device.id} (${device.profile.id})`);
    this.normal = normalValues(device.profile);
  }

  step(elapsedMs: number): ScenarioFrame {
    const f = this.scenario.at(Math.max(0, elapsedMs), this.normal);
    const known = Object.fromEntries(
      Object.entries(f.values).filter(([k]) => this.device.get(k) !== undefined),
    );
    this.device.set(known);
    if (f.silent !== this.silent) {
      this.silent = f.silent;
      if (f.silent) this.device.unit.faults.add({ mode: 'silence' });
      else this.device.unit.faults.clear('silence');
    }
    return f;
  }

  start(): void {
    const now = this.options.now ?? Date.now;
    this.startedAt = now();
    this.step(0);
    this.timer = setInterval(() => {
      let elapsed = now() - this.startedAt;
      if (elapsed > this.scenario.durationMs) {
        if (!this.options.loop) {
          this.step(this.scenario.durationMs);
          this.stop();
          return;
        }
        this.startedAt = now();
        elapsed = 0;
      }
      this.step(elapsed);
    }, this.options.tickMs ?? 250);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
