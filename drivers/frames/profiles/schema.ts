import { z } from 'zod';
import {
  DoorstepError,
  GeomagneticUse,
  PointId,
  SensorKind,
  STANDARD_POINTS,
  UNITS,
} from '../../../protocol/index.js';
import { STATE_CODE_MASK } from '../types.js';

/**
 * A frame profile declares, as data, what one wireless detector type's frames mean: which points
 * each state code sets, how the optional value scales, and a descriptor per point (same fields
 * as drivers/profiles' PointDescriptor so rules, the cloud and Node-RED read both alike).
 */
export const FramePointDescriptor = z.object({
  point: PointId,
  name: z.string().min(1),
  valueType: z.enum(['number', 'boolean']),
  unit: z.string().max(16).default(''),
  range: z.tuple([z.number(), z.number()]).optional(),
  priority: z.enum(['critical', 'normal', 'diagnostic']),
  description: z.string().optional(),
});
export type FramePointDescriptor = z.infer<typeof FramePointDescriptor>;

const PointDeclaration = FramePointDescriptor.omit({ point: true });

/** What one state code means: the values it sets, and which of them the detector cannot vouch for. */
const StateEntry = z.object({
  label: z.string().min(1),
  set: z.record(PointId, z.union([z.boolean(), z.number()])),
  /** Points reported with quality `bad` in this state (protocol/reading.ts Quality: device fault). */
  bad: z.array(PointId).default([]),
});

const ValueDeclaration = z.object({
  point: PointId,
  /** value = raw × scale (e.g. 0.1 for tilt sent in 0.1°). */
  scale: z.number().refine((v) => v !== 0, 'scale must not be 0'),
  /** A frame without the value is then a syntax problem of this detector type. */
  required: z.boolean().default(false),
});

export const FrameProfileDeclaration = z.object({
  id: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a lower-case id: a-z, 0-9, "-"'),
  description: z.string().min(1),
  kind: SensorKind,
  /** Required for kind geomagnetic: fire-lane vehicle presence or manhole tilt. */
  use: GeomagneticUse.optional(),
  /** Detector type code in the binary payload (README "Detector types"). */
  detectorType: z.number().int().min(1).max(255),
  /** Whether the detector has a tamper switch; then bit 6 of the state byte yields `tamper`. */
  hasTamper: z.boolean(),
  /** `battery_low` is true below this % or when the detector sets its own flag (bit 7). */
  lowBatteryBelow: z.number().min(0).max(100).default(20),
  points: z.record(PointId, PointDeclaration),
  states: z.record(z.string().regex(/^\d{1,2}$/, 'must be a state code 0–63'), StateEntry),
  value: ValueDeclaration.optional(),
});
export type FrameProfileDeclaration = z.input<typeof FrameProfileDeclaration>;
type ParsedDeclaration = z.output<typeof FrameProfileDeclaration>;

/** Points every frame profile produces from the frame itself (protocol STANDARD_POINTS.diagnostics). */
const DIAGNOSTICS = STANDARD_POINTS.diagnostics;
export const FRAME_DIAGNOSTIC_POINTS: Record<string, Omit<FramePointDescriptor, 'point'>> = {
  [DIAGNOSTICS.battery]: {
    name: 'Battery',
    valueType: 'number',
    unit: UNITS.percent,
    range: [0, 100],
    priority: 'diagnostic',
  },
  [DIAGNOSTICS.batteryLow]: { name: 'Battery low', valueType: 'boolean', unit: '', priority: 'diagnostic' },
  [DIAGNOSTICS.signal]: {
    name: 'Signal strength',
    valueType: 'number',
    unit: UNITS.dbm,
    range: [-150, 0],
    priority: 'diagnostic',
  },
  [DIAGNOSTICS.tamper]: { name: 'Tamper', valueType: 'boolean', unit: '', priority: 'normal' },
};

/** The point a kind must produce so default rule packs work (protocol STANDARD_POINTS). */
function requiredPoints(kind: SensorKind, use: GeomagneticUse | undefined): string[] {
  switch (kind) {
    case 'smoke':
      return [STANDARD_POINTS.smoke.alarm];
    case 'door':
      return [STANDARD_POINTS.door.open];
    case 'gas':
      return [STANDARD_POINTS.gas.concentration];
    case 'water_pressure':
      return [STANDARD_POINTS.water_pressure.pressure];
    case 'geomagnetic':
      return use === 'manhole_tilt'
        ? [STANDARD_POINTS.geomagnetic.tilt, STANDARD_POINTS.geomagnetic.coverOpen]
        : [STANDARD_POINTS.geomagnetic.vehicle];
  }
}

export interface FrameProfile {
  readonly id: string;
  readonly description: string;
  readonly kind: SensorKind;
  readonly use: GeomagneticUse | undefined;
  readonly detectorType: number;
  readonly hasTamper: boolean;
  readonly lowBatteryBelow: number;
  readonly states: Readonly<Record<number, Readonly<ParsedDeclaration['states'][string]>>>;
  readonly value: Readonly<ParsedDeclaration['value']>;
  /** Every point the profile can produce, diagnostics included, by point name. */
  readonly descriptors: Readonly<Record<string, Readonly<FramePointDescriptor>>>;
}

export interface ProfileProblem {
  path: string;
  message: string;
}

/** Validates a declaration and lists every problem with its path; nothing is thrown. */
export function validateFrameProfile(
  declaration: unknown,
): { ok: true; profile: FrameProfile } | { ok: false; problems: ProfileProblem[] } {
  const parsed = FrameProfileDeclaration.safeParse(declaration);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    };
  }
  const decl = parsed.data;
  const problems: ProfileProblem[] = [];
  const problem = (path: (string | number)[], message: string) =>
    problems.push({ path: path.join('.'), message });

  if (decl.kind === 'geomagnetic' && decl.use === undefined) {
    problem(['use'], 'a geomagnetic profile must say its use (vehicle_presence or manhole_tilt)');
  }
  if (decl.kind !== 'geomagnetic' && decl.use !== undefined)
    problem(['use'], 'only geomagnetic profiles have a use');
  for (const point of Object.keys(decl.points)) {
    if (point in FRAME_DIAGNOSTIC_POINTS) {
      problem(['points', point], 'is produced from the frame for every profile; do not declare it');
    }
  }
  for (const point of requiredPoints(decl.kind, decl.use)) {
    if (!(point in decl.points)) problem(['points'], `a ${decl.kind} profile must declare point "${point}"`);
  }
  for (const [code, entry] of Object.entries(decl.states)) {
    if (Number(code) > STATE_CODE_MASK) problem(['states', code], `state codes are 0–${STATE_CODE_MASK}`);
    for (const [point, value] of Object.entries(entry.set)) {
      const descriptor = decl.points[point];
      if (!descriptor) {
        problem(['states', code, 'set', point], 'is not a declared point');
        continue;
      }
      if (typeof value !== descriptor.valueType) {
        problem(
          ['states', code, 'set', point],
          `is a ${typeof value}, the point is a ${descriptor.valueType}`,
        );
      } else if (typeof value === 'number' && descriptor.range) {
        const [min, max] = descriptor.range;
        if (value < min || value > max)
          problem(['states', code, 'set', point], `${value} is outside ${min}..${max}`);
      }
    }
    entry.bad.forEach((point, index) => {
      if (!(point in entry.set))
        problem(['states', code, 'bad', index], `"${point}" is not set by this state`);
    });
  }
  if (Object.keys(decl.states).length === 0) problem(['states'], 'declare at least one state code');
  if (decl.value) {
    const descriptor = decl.points[decl.value.point];
    if (!descriptor) problem(['value', 'point'], `"${decl.value.point}" is not a declared point`);
    else if (descriptor.valueType !== 'number')
      problem(['value', 'point'], 'the value point must be a number');
  }
  for (const [point, descriptor] of Object.entries(decl.points)) {
    if (descriptor.range && descriptor.range[0] > descriptor.range[1]) {
      problem(['points', point, 'range'], 'minimum is above maximum');
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  const descriptors: Record<string, FramePointDescriptor> = {};
  for (const [point, d] of Object.entries({ ...decl.points, ...FRAME_DIAGNOSTIC_POINTS })) {
    if (point === DIAGNOSTICS.tamper && !decl.hasTamper) continue;
    descriptors[point] = Object.freeze({ point, ...d });
  }
  const states: Record<number, ParsedDeclaration['states'][string]> = {};
  for (const [code, entry] of Object.entries(decl.states)) states[Number(code)] = Object.freeze(entry);
  const profile: FrameProfile = {
    id: decl.id,
    description: decl.description,
    kind: decl.kind,
    use: decl.use,
    detectorType: decl.detectorType,
    hasTamper: decl.hasTamper,
    lowBatteryBelow: decl.lowBatteryBelow,
    states: Object.freeze(states),
    value: decl.value ? Object.freeze(decl.value) : undefined,
    descriptors: Object.freeze(descriptors),
  };
  return { ok: true, profile: Object.freeze(profile) };
}

/** Validates and freezes a declaration; throws DRV_ERR_PROFILE listing every problem with its path. */
export function defineFrameProfile(declaration: FrameProfileDeclaration): FrameProfile {
  const result = validateFrameProfile(declaration);
  if (result.ok) return result.profile;
  const id = typeof declaration?.id === 'string' ? declaration.id : '(no id)';
  const reason = result.problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ');
  throw new DoorstepError('DRV_ERR_PROFILE', { profile: id, reason, count: result.problems.length });
}
