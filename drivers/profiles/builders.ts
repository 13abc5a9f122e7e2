import { STANDARD_POINTS, UNITS } from '../../protocol/index.js';
import type {
  BitField,
  CompareField,
  NumericField,
  PointDescriptor,
  PointPriority,
  RegisterTable,
} from './types.js';

/**
 * Small builders for profile declarations, in the manner of zigbee-herdsman-converters' presets
 * over `numeric()`: each returns the field plus its descriptor, so a profile reads like the
 * device's manual and never repeats a point's unit or range.
 */
export interface Declared {
  field: NumericField | BitField | CompareField;
  descriptor: PointDescriptor;
}

type Where = { table: 'holding' | 'input'; address: number };
type NumericOptions = Where &
  Partial<Pick<NumericField, 'type' | 'wordOrder' | 'scale' | 'offset' | 'decimalsFrom' | 'unitFrom'>>;
type BitOptions = { table: RegisterTable; address: number; bit?: number; invert?: boolean };

export function numeric(
  point: string,
  describe: { name: string; unit: string; range?: [number, number]; priority?: PointPriority },
  options: NumericOptions,
): Declared {
  return {
    field: {
      kind: 'numeric',
      point,
      table: options.table,
      address: options.address,
      type: options.type ?? 'uint16',
      ...(options.wordOrder ? { wordOrder: options.wordOrder } : {}),
      scale: options.scale ?? 1,
      offset: options.offset ?? 0,
      ...(options.decimalsFrom ? { decimalsFrom: options.decimalsFrom } : {}),
      ...(options.unitFrom ? { unitFrom: options.unitFrom } : {}),
    },
    descriptor: {
      point,
      name: describe.name,
      valueType: 'number',
      unit: describe.unit,
      ...(describe.range ? { range: describe.range } : {}),
      priority: describe.priority ?? 'normal',
    },
  };
}

export function flag(
  point: string,
  describe: { name: string; priority?: PointPriority },
  options: BitOptions,
): Declared {
  return {
    field: {
      kind: 'bit',
      point,
      table: options.table,
      address: options.address,
      ...(options.bit !== undefined ? { bit: options.bit } : {}),
      invert: options.invert ?? false,
    },
    descriptor: {
      point,
      name: describe.name,
      valueType: 'boolean',
      unit: '',
      priority: describe.priority ?? 'normal',
    },
  };
}

export function compare(
  point: string,
  describe: { name: string; priority?: PointPriority },
  options: Where & { op: CompareField['op']; value: number },
): Declared {
  return {
    field: { kind: 'compare', point, ...options },
    descriptor: {
      point,
      name: describe.name,
      valueType: 'boolean',
      unit: '',
      priority: describe.priority ?? 'normal',
    },
  };
}

const P = STANDARD_POINTS;

/** Presets for the standard points, so every profile of a kind names and describes them alike. */
export const r = {
  gasLel: (o: NumericOptions) =>
    numeric(
      P.gas.concentration,
      { name: 'Gas concentration', unit: UNITS.lel, range: [0, 100], priority: 'critical' },
      o,
    ),
  gasAl1: (o: BitOptions) => flag(P.gas.al1, { name: 'Gas alarm level 1 (low)', priority: 'critical' }, o),
  gasAl2: (o: BitOptions) => flag(P.gas.al2, { name: 'Gas alarm level 2 (high)', priority: 'critical' }, o),
  gasAl1Level: (o: Where & { op: CompareField['op']; value: number }) =>
    compare(P.gas.al1, { name: 'Gas alarm level 1 (low)', priority: 'critical' }, o),
  gasAl2Level: (o: Where & { op: CompareField['op']; value: number }) =>
    compare(P.gas.al2, { name: 'Gas alarm level 2 (high)', priority: 'critical' }, o),
  pressureMpa: (o: NumericOptions, range: [number, number] = [0, 1.6]) =>
    numeric(
      P.water_pressure.pressure,
      { name: 'Water pressure', unit: UNITS.mpa, range, priority: 'critical' },
      o,
    ),
  smokeAlarm: (o: BitOptions) => flag(P.smoke.alarm, { name: 'Smoke alarm', priority: 'critical' }, o),
  doorOpen: (o: BitOptions) => flag(P.door.open, { name: 'Door open', priority: 'critical' }, o),
  doorOpenState: (o: Where & { op: CompareField['op']; value: number }) =>
    compare(P.door.open, { name: 'Door open', priority: 'critical' }, o),
  vehiclePresent: (o: BitOptions) =>
    flag(P.geomagnetic.vehicle, { name: 'Vehicle present', priority: 'critical' }, o),
  tiltDegrees: (o: NumericOptions) =>
    numeric(
      P.geomagnetic.tilt,
      { name: 'Cover tilt', unit: UNITS.degree, range: [0, 180], priority: 'critical' },
      o,
    ),
  coverOpen: (o: BitOptions) =>
    flag(P.geomagnetic.coverOpen, { name: 'Cover open', priority: 'critical' }, o),
  fault: (o: BitOptions) => flag(P.diagnostics.fault, { name: 'Device fault', priority: 'normal' }, o),
  faultState: (o: Where & { op: CompareField['op']; value: number }) =>
    compare(P.diagnostics.fault, { name: 'Device fault', priority: 'normal' }, o),
  faultCode: (o: NumericOptions) =>
    numeric(P.diagnostics.faultCode, { name: 'Fault code', unit: '', priority: 'normal' }, o),
  tamper: (o: BitOptions) => flag(P.diagnostics.tamper, { name: 'Tamper', priority: 'normal' }, o),
  batteryLow: (o: BitOptions) =>
    flag(P.diagnostics.batteryLow, { name: 'Battery low', priority: 'diagnostic' }, o),
  batteryPercent: (o: NumericOptions) =>
    numeric(
      P.diagnostics.battery,
      { name: 'Battery', unit: UNITS.percent, range: [0, 100], priority: 'diagnostic' },
      o,
    ),
  signalDbm: (o: NumericOptions) =>
    numeric(
      P.diagnostics.signal,
      { name: 'Signal strength', unit: UNITS.dbm, range: [-140, 0], priority: 'diagnostic' },
      o,
    ),
  heartbeat: (o: BitOptions) => flag(P.diagnostics.heartbeat, { name: 'Heartbeat', priority: 'normal' }, o),
  maintenance: (o: BitOptions) =>
    flag('maintenance', { name: 'Inhibit / maintenance mode', priority: 'normal' }, o),
};

/** Splits declared points into the `fields` and `points` arrays of a profile. */
export function declare(...declared: Declared[]): { fields: Declared['field'][]; points: PointDescriptor[] } {
  return { fields: declared.map((d) => d.field), points: declared.map((d) => d.descriptor) };
}
