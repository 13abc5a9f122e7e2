import type { StartupValues } from '../profiles/codec.js';
import { emptyImage, type RegisterImage } from '../profiles/codec.js';
import { encodePoints, encodeStartup } from '../profiles/encode.js';
import type { RegisterProfile } from '../profiles/types.js';
import { fieldWidth } from '../profiles/types.js';
import { SimUnit, type SimUnitOptions } from './modbus-slave/unit.js';

export type PointValues = Record<string, number | boolean>;

/** Line settings a master wrote into a device's settings registers (profile `settings`). */
export interface SimSettingsChange {
  unitId?: number;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
}

/** Values a healthy, quiet device of each kind reports (what a scenario starts from). */
export function normalValues(profile: RegisterProfile): PointValues {
  const values: PointValues = {};
  for (const p of profile.points) {
    if (p.valueType === 'boolean') values[p.point] = false;
    else values[p.point] = p.range ? Math.max(p.range[0], Math.min(p.range[1], 0)) : 0;
  }
  const set = (point: string, value: number | boolean) => {
    if (point in values) values[point] = value;
  };
  set('pressure', 0.35); // a healthy fire-water main: well above 0.10 MPa (GB 50974-2014 §5.2.2)
  set('battery', 92);
  set('signal', -68);
  set('loop_current', 4 + (0.35 / 1.6) * 16); // 4–20 mA over a 0–1.6 MPa span
  set('tilt', 0.4);
  set('smoke_density', 0.01);
  set('field_strength', 12);
  return values;
}

/**
 * A simulated field device: a Modbus unit whose registers follow a sensor profile. Scenarios and
 * people set point values (`set({gas: 23.5})`); the device encodes them into its registers exactly
 * as the real family would, so a master reading it goes through the real decode path.
 */
export class SimDevice {
  readonly id: string;
  readonly profile: RegisterProfile;
  readonly unit: SimUnit;
  readonly startup: StartupValues;
  private readonly values: PointValues;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly settingsListeners = new Set<(change: SimSettingsChange) => void>();
  /** The line settings the device answers at, as its settings registers say. */
  line: { baudRate: number; parity: 'none' | 'even' | 'odd' };

  constructor(options: {
    id: string;
    profile: RegisterProfile;
    unitId: number;
    /** Start-up register values, e.g. {unit_code: 1, decimals: 1} for a transmitter set to kPa. */
    startup?: StartupValues;
    initial?: PointValues;
    /** The line it is on (for the codes in its baud/parity registers; default 9600 8N1). */
    line?: { baudRate: number; parity: 'none' | 'even' | 'odd' };
    unit?: Omit<SimUnitOptions, 'unitId' | 'bank'>;
  }) {
    this.id = options.id;
    this.profile = options.profile;
    this.unit = new SimUnit({
      ...options.unit,
      unitId: options.unitId,
      identity: {
        vendorName: 'doorstep-sim',
        productCode: options.profile.id,
        revision: '1.0',
        ...options.unit?.identity,
      },
    });
    this.startup = options.startup ?? defaultStartup(options.profile);
    this.values = { ...normalValues(options.profile), ...options.initial };
    this.line = options.line ?? { baudRate: 9600, parity: 'none' };
    this.mapRegisters();
    this.flush();
    this.mapSettings();
  }

  /**
   * Called after a master wrote a new unit id, baud or parity code into the registers the profile
   * declares (`settings`), once the reply has gone out: a real device answers the write from its
   * old address and at its old speed, then switches (the site moves the unit to its new address).
   */
  onSettingsChange(listener: (change: SimSettingsChange) => void): () => void {
    this.settingsListeners.add(listener);
    return () => this.settingsListeners.delete(listener);
  }

  private mapSettings(): void {
    const settings = this.profile.settings;
    if (!settings) return;
    const bank = this.unit.bank;
    const put = (register: number, value: number) => {
      bank.map('holding', register, 1);
      bank.write('holding', register, [value]);
    };
    if (settings.unitId) put(settings.unitId.register, this.unit.unitId);
    const baudCode = settings.baud?.codes[String(this.line.baudRate)];
    if (settings.baud) put(settings.baud.register, baudCode ?? Object.values(settings.baud.codes)[0]!);
    const parityCode = settings.parity?.codes[this.line.parity];
    if (settings.parity)
      put(
        settings.parity.register,
        parityCode ?? Object.values(settings.parity.codes).find((c) => c !== undefined)!,
      );
    bank.onChange((change) => {
      if (change.source !== 'master' || change.table !== 'holding') return;
      const written = (register: number | undefined) => {
        if (register === undefined) return undefined;
        const i = register - change.address;
        return i >= 0 && i < change.values.length ? change.values[i] : undefined;
      };
      const out: SimSettingsChange = {};
      const unitId = written(settings.unitId?.register);
      if (unitId !== undefined && unitId !== this.unit.unitId) out.unitId = unitId;
      const baud = written(settings.baud?.register);
      if (baud !== undefined && settings.baud) {
        const rate = Object.entries(settings.baud.codes).find(([, code]) => code === baud)?.[0];
        if (rate) out.baudRate = Number(rate);
      }
      const parity = written(settings.parity?.register);
      if (parity !== undefined && settings.parity) {
        const named = (['none', 'even', 'odd'] as const).find((p) => settings.parity!.codes[p] === parity);
        if (named) out.parity = named;
      }
      if (Object.keys(out).length === 0) return;
      if (out.baudRate) this.line = { ...this.line, baudRate: out.baudRate };
      if (out.parity) this.line = { ...this.line, parity: out.parity };
      setImmediate(() => {
        for (const listener of this.settingsListeners) listener(out);
      });
    });
  }

  get(point: string): number | boolean | undefined {
    return this.values[point];
  }

  snapshot(): Readonly<PointValues> {
    return { ...this.values };
  }

  /** Sets point values; unknown points are refused so a scenario typo is loud. */
  set(values: PointValues): void {
    for (const [point, value] of Object.entries(values)) {
      if (!(point in this.values))
        throw new Error(`${this.id}: profile ${this.profile.id} has no point "${point}"`);
      this.values[point] = value;
    }
    this.flush();
  }

  /**
   * Starts toggling the heartbeat point, as Midas-style detectors toggle bit 11 every 2 s; a
   * stopped heartbeat is how a hung detector shows itself.
   */
  startHeartbeat(periodMs = 2000): void {
    if (!('heartbeat' in this.values) || this.heartbeatTimer) return;
    this.heartbeatTimer = setInterval(() => this.set({ heartbeat: !this.values.heartbeat }), periodMs);
    this.heartbeatTimer.unref();
  }

  stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private mapRegisters(): void {
    const bank = this.unit.bank;
    for (const f of this.profile.fields) bank.map(f.table, f.address, fieldWidth(f));
    for (const s of this.profile.startup) bank.map(s.table, s.address, 1);
    const sig = this.profile.signature;
    if (sig) {
      bank.map(sig.table, sig.address, sig.values.length);
      bank.write(sig.table, sig.address, sig.values);
    }
  }

  private flush(): void {
    const image: RegisterImage = encodeStartup(this.profile, this.startup, emptyImage());
    encodePoints(this.profile, this.values, { startup: this.startup, into: image });
    const bank = this.unit.bank;
    for (const table of ['coil', 'discrete'] as const)
      for (const [address, bit] of image[table]) bank.write(table, address, [bit ? 1 : 0]);
    for (const table of ['holding', 'input'] as const)
      for (const [address, word] of image[table]) bank.write(table, address, [word]);
  }
}

/** Start-up registers a fresh device of the family reports: MPa with 3 decimals for transmitters. */
function defaultStartup(profile: RegisterProfile): StartupValues {
  const out: Record<string, number> = {};
  for (const s of profile.startup) {
    if (s.key === 'unit_code') out[s.key] = 0;
    else if (s.key === 'decimals') out[s.key] = 3;
    else out[s.key] = s.allowed?.[0] ?? 0;
  }
  return out;
}
