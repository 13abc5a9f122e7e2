import { encodeAsciiFrame } from '../frames/ascii.js';
import { encodeBinaryFrame } from '../frames/binary.js';
import { getFrameProfile } from '../frames/profiles/registry.js';
import type { FrameProfile } from '../frames/profiles/schema.js';
import type { FrameCodec } from '../frames/types.js';
import type { Link } from '../link/types.js';

/**
 * A simulated 433 MHz / LoRa receiver on a UART: wireless detectors report through it as ASCII or
 * binary frames (drivers/frames/README.md) — periodically (a supervision report, as such detectors
 * send every few minutes) and at once when their state changes. Garbage between frames can be
 * injected, as radio noise puts it on real receivers' lines.
 */
export interface SimDetectorSpec {
  detector: number;
  /** A frame profile: wireless-smoke, wireless-door, geomagnetic-vehicle, manhole-cover. */
  profile: string;
}

/** What a detector reports; state codes are the profile's (0 normal, 1 alarm/open/occupied, 2 fault …). */
export interface DetectorState {
  state: number;
  battery: number;
  rssi: number;
  tamper: boolean;
  lowBattery: boolean;
  /** Raw value (e.g. tilt in 0.1°) for profiles that carry one. */
  value?: number;
}

export class SimRadioDetector {
  readonly profile: FrameProfile;
  private current: DetectorState;

  constructor(
    readonly detector: number,
    profileId: string,
    private readonly emit: (d: SimRadioDetector) => void,
  ) {
    this.profile = getFrameProfile(profileId);
    this.current = {
      state: 0,
      battery: 90,
      rssi: -70,
      tamper: false,
      lowBattery: false,
      ...(this.profile.value ? { value: 4 } : {}),
    };
  }

  get(): Readonly<DetectorState> {
    return this.current;
  }

  /** Changes what the detector reports and sends a frame at once (wireless detectors report changes immediately). */
  set(change: Partial<DetectorState>): void {
    this.current = { ...this.current, ...change };
    this.emit(this);
  }

  /** The state byte: code in bits 0–5, tamper bit 6, low battery bit 7 (drivers/frames/types.ts). */
  stateByte(): number {
    return (
      (this.current.state & 0x3f) | (this.current.tamper ? 0x40 : 0) | (this.current.lowBattery ? 0x80 : 0)
    );
  }
}

export interface RadioReceiverOptions {
  link: Link;
  codec: FrameCodec;
  detectors: readonly SimDetectorSpec[];
  /** Receiver id and channel in ASCII frames. */
  host?: number;
  channel?: number;
  /** Supervision report period of every detector, ms (0: only on change). */
  reportEveryMs?: number;
  /** Random bytes written before every n-th frame (0: never): radio noise on the line. */
  garbageEvery?: number;
}

export class RadioReceiverSim {
  readonly detectors = new Map<number, SimRadioDetector>();
  framesSent = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(private readonly options: RadioReceiverOptions) {
    for (const spec of options.detectors)
      this.detectors.set(
        spec.detector,
        new SimRadioDetector(spec.detector, spec.profile, (d) => this.send(d)),
      );
  }

  async start(): Promise<void> {
    await this.options.link.open();
    this.started = true;
    for (const d of this.detectors.values()) this.send(d);
    const every = this.options.reportEveryMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => {
        for (const d of this.detectors.values()) this.send(d);
      }, every);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    await this.options.link.close();
  }

  detector(id: number): SimRadioDetector {
    const d = this.detectors.get(id);
    if (!d) throw new Error(`no simulated detector ${id}`);
    return d;
  }

  /** The bytes of one report, in the receiver's codec. */
  frameOf(d: SimRadioDetector): Buffer {
    const s = d.get();
    const report = {
      detector: d.detector,
      state: d.stateByte(),
      battery: Math.max(0, Math.min(100, Math.round(s.battery))),
      rssi: Math.round(s.rssi),
      ...(s.value !== undefined ? { value: Math.round(s.value) } : {}),
    };
    return this.options.codec === 'ascii'
      ? encodeAsciiFrame({ ...report, host: this.options.host ?? 1, channel: this.options.channel ?? 1 })
      : encodeBinaryFrame({ ...report, detectorType: d.profile.detectorType });
  }

  private send(d: SimRadioDetector): void {
    if (!this.started) return;
    this.framesSent++;
    const every = this.options.garbageEvery ?? 0;
    const noise =
      every > 0 && this.framesSent % every === 0
        ? Buffer.from([0x00, 0xff, 0x24, 0x13, 0xa5, 0x7e])
        : undefined;
    const bytes = noise ? Buffer.concat([noise, this.frameOf(d)]) : this.frameOf(d);
    this.options.link.write(bytes).catch(() => undefined);
  }
}

/** Scripted scenarios for wireless detectors, as pure functions of elapsed time. */
export interface RadioScenario {
  name: string;
  description: string;
  profiles?: readonly string[];
  durationMs: number;
  at(elapsedMs: number): Partial<DetectorState>;
}

const S = 1000;
export const RADIO_SCENARIOS: readonly RadioScenario[] = [
  {
    name: 'smoke_alarm',
    description: 'fire alarm from 10 s for 60 s',
    profiles: ['wireless-smoke'],
    durationMs: 90 * S,
    at: (t) => ({ state: t >= 10 * S && t < 70 * S ? 1 : 0 }),
  },
  {
    name: 'door_held_open',
    description: 'the door is opened at 5 s and held open for 90 s',
    profiles: ['wireless-door'],
    durationMs: 120 * S,
    at: (t) => ({ state: t >= 5 * S && t < 95 * S ? 1 : 0 }),
  },
  {
    name: 'fire_lane_occupied',
    description: 'a vehicle stands over the sensor from 5 s for 7 min',
    profiles: ['geomagnetic-vehicle'],
    durationMs: 8 * 60 * S,
    at: (t) => ({ state: t >= 5 * S && t < 5 * S + 7 * 60 * S ? 1 : 0 }),
  },
  {
    name: 'manhole_tilted',
    description: 'the cover is lifted to 25° at 5 s and left open',
    profiles: ['manhole-cover'],
    durationMs: 60 * S,
    at: (t) => (t >= 5 * S ? { state: 1, value: 250 } : { state: 0, value: 4 }),
  },
  {
    name: 'low_battery',
    description: 'the battery runs down from 90 % to 12 % over 60 s',
    durationMs: 70 * S,
    at: (t) => {
      const battery = Math.round(90 - (78 * Math.min(t, 60 * S)) / (60 * S));
      return { battery, lowBattery: battery < 20 };
    },
  },
];

/** Plays a radio scenario on a detector, sending a frame whenever what it reports changes. */
export class RadioScenarioPlayer {
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;

  constructor(
    readonly detector: SimRadioDetector,
    readonly scenario: RadioScenario,
    private readonly options: { loop?: boolean; tickMs?: number } = {},
  ) {
    if (scenario.profiles && !scenario.profiles.includes(detector.profile.id))
      throw new Error(
        `scenario ${scenario.name} does not fit detector ${detector.detector} (${detector.profile.id})`,
      );
  }

  step(elapsedMs: number): void {
    const want = this.scenario.at(elapsedMs);
    const now = this.detector.get();
    const changed = (Object.keys(want) as (keyof DetectorState)[]).some((k) => want[k] !== now[k]);
    if (changed) this.detector.set(want);
  }

  start(): void {
    this.startedAt = Date.now();
    this.step(0);
    this.timer = setInterval(() => {
      let t = Date.now() - this.startedAt;
      if (t > this.scenario.durationMs && this.options.loop) {
        this.startedAt = Date.now();
        t = 0;
      }
      this.step(Math.min(t, this.scenario.durationMs));
    }, this.options.tickMs ?? 250);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
