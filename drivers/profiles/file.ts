import { z } from 'zod';
import { FileReadError, readYamlFile } from '../../common/yaml.js';
import {
  DoorstepError,
  GeomagneticUse,
  issuesOf,
  PointId,
  renderIssues,
  SensorKind,
  type ValidationIssue,
} from '../../protocol/index.js';
import { FrameLayout, layoutProblems } from '../frames/layout.js';
import { type FrameProfile, validateFrameProfile } from '../frames/profiles/schema.js';
import { type MqttJsonProfile, validateMqttJsonProfile } from '../mqtt/profile.js';
import { checkProfile } from './define.js';
import {
  BitField,
  BitsField,
  CompareField,
  EnumField,
  NumericField,
  PointPriority,
  RegisterProfile,
} from './types.js';
import { KNOWN_UNITS, QUANTITIES } from './vocabulary.js';

/**
 * Profiles as files (YAML or JSON): one declarative format for the three shapes doorstep reads —
 * Modbus register maps, wireless receiver frames and MQTT JSON — told apart by `type`. The
 * built-in catalogue is files in this format (drivers/profiles/catalogue/*.yaml); installers write
 * their own, check them with `doorstep profile check`, and name them in the gateway configuration.
 * docs/profile.schema.json is generated from these schemas (scripts/gen-profile-schema.ts).
 *
 * A point named after a quantity of the shared vocabulary (vocabulary.ts) takes its label, unit,
 * range and poll class from there unless the file says otherwise.
 */

const Version = z.number().int().min(1).default(1);
const Source = z.string().min(1).max(400);

/** What a file may say about a point beside where it is read from. */
const DescriptorOverrides = {
  name: z.string().min(1).optional(),
  nameZh: z.string().min(1).optional(),
  unit: z.string().max(16).optional(),
  /** Physical range: a value outside it marks the reading uncertain and the device faulty. */
  range: z.tuple([z.number(), z.number()]).optional(),
  priority: PointPriority.optional(),
  description: z.string().optional(),
};

const RegisterFileField = z.discriminatedUnion('kind', [
  NumericField.extend(DescriptorOverrides).strict(),
  BitField.extend(DescriptorOverrides).strict(),
  CompareField.extend(DescriptorOverrides).strict(),
  BitsField.extend(DescriptorOverrides).strict(),
  EnumField.extend(DescriptorOverrides).strict(),
]);

export const RegisterProfileFile = RegisterProfile.omit({ points: true, fields: true })
  .extend({
    type: z.literal('register'),
    version: Version,
    source: Source.optional(),
    fields: z.array(RegisterFileField).min(1),
  })
  .strict();

const FramePointFile = z
  .object({
    ...DescriptorOverrides,
    valueType: z.enum(['number', 'boolean']).optional(),
  })
  .strict();

export const FrameProfileFile = z
  .object({
    type: z.literal('frame'),
    id: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a lower-case id: a-z, 0-9, "-"'),
    version: Version,
    description: z.string().min(1),
    modelledOn: z.string().min(1).optional(),
    source: Source.optional(),
    kind: SensorKind,
    use: GeomagneticUse.optional(),
    detectorType: z.number().int().min(1).max(255),
    hasTamper: z.boolean(),
    lowBatteryBelow: z.number().min(0).max(100).optional(),
    /** The receiver's frame layout; without it the bus codec's doorstep layout applies. */
    layout: FrameLayout.optional(),
    points: z.record(PointId, FramePointFile),
    states: z.record(z.string(), z.unknown()),
    value: z.unknown().optional(),
  })
  .strict();

export const MqttProfileFile = z
  .object({
    type: z.literal('mqtt'),
    id: z.string(),
    version: Version,
    description: z.string(),
    modelledOn: z.string().min(1).optional(),
    source: Source.optional(),
    kind: SensorKind,
    use: GeomagneticUse.optional(),
    topic: z.string(),
    timestamp: z.unknown().optional(),
    fields: z.array(z.record(z.string(), z.unknown())).min(1),
  })
  .strict();

/** The profile file format. Its JSON Schema is docs/profile.schema.json. */
export const ProfileFile = z.discriminatedUnion('type', [
  RegisterProfileFile,
  FrameProfileFile,
  MqttProfileFile,
]);

interface Provenance {
  /** Raised whenever the map changes; with the id it says which map decoded a reading. */
  version: number;
  source?: string;
  /** The file it was loaded from; absent for inline profiles. */
  file?: string;
}

/** A profile loaded from a file or an inline declaration, of any of the three shapes. */
export type LoadedProfile =
  | (Provenance & { type: 'register'; id: string; profile: Readonly<RegisterProfile> })
  | (Provenance & { type: 'frame'; id: string; profile: FrameProfile; layout?: FrameLayout })
  | (Provenance & { type: 'mqtt'; id: string; profile: MqttJsonProfile });

export type ProfileType = LoadedProfile['type'];

/** `fields.0.scale` (frame and MQTT validators) → `fields[0].scale`, the form every other path has. */
function bracketed(path: string): string {
  return path.replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Fills a standard point's label, unit, range and poll class from the vocabulary where the file is silent. */
function withVocabulary(point: unknown, declared: Record<string, unknown>, keys: readonly string[]) {
  const q = typeof point === 'string' ? QUANTITIES.get(point) : undefined;
  if (!q) return declared;
  const out = { ...declared };
  for (const key of keys) {
    const value = (q as unknown as Record<string, unknown>)[key];
    if (out[key] === undefined && value !== undefined) out[key] = value;
  }
  return out;
}

function unitProblems(unit: unknown, path: string): ValidationIssue[] {
  if (typeof unit !== 'string' || unit === '' || KNOWN_UNITS.has(unit)) return [];
  return [
    {
      path,
      message: `unit "${unit}" is not in the shared vocabulary (${[...KNOWN_UNITS].filter(Boolean).join(', ')})`,
    },
  ];
}

/** Stand-ins for required keys whose own value is wrong, so the cross-field rules can still run. */
const STAND_INS: Record<string, unknown> = { id: 'x', kind: 'gas', title: 'x', modelledOn: 'x' };

/**
 * What of a register file the schema accepts, key by key and field by field: keys whose value is
 * wrong take a stand-in (or are left out), unknown keys and wrong fields are left out. `kept[k]`
 * is the file's index of the k-th field kept; `dropped` the points the left-out fields name.
 */
function salvageRegister(doc: Record<string, unknown>): {
  file?: z.output<typeof RegisterProfileFile>;
  kept: number[];
  dropped: Set<string>;
} {
  const shape = RegisterProfileFile.shape as Record<string, z.ZodType>;
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    if (key === 'fields') continue;
    const value = doc[key];
    if (value !== undefined && schema.safeParse(value).success) out[key] = value;
    else if (STAND_INS[key] !== undefined) out[key] = STAND_INS[key];
  }
  out.type = 'register';
  const kept: number[] = [];
  const dropped = new Set<string>();
  const fields: unknown[] = [];
  (Array.isArray(doc.fields) ? doc.fields : []).forEach((raw, i) => {
    if (RegisterFileField.safeParse(raw).success) {
      kept.push(i);
      fields.push(raw);
    } else if (isObject(raw) && typeof raw.point === 'string') dropped.add(raw.point);
  });
  out.fields = fields;
  const parsed = RegisterProfileFile.safeParse(out);
  return { ...(parsed.success ? { file: parsed.data } : {}), kept, dropped };
}

function checkRegister(doc: Record<string, unknown>): { loaded?: LoadedProfile; issues: ValidationIssue[] } {
  const parsed = RegisterProfileFile.safeParse(doc);
  if (parsed.success) return checkRegisterFile(parsed.data);
  // Every problem in one round: the schema's, and the cross-field rules on what the schema accepts
  // (paths kept as in the file; nothing about a point whose own field is already reported).
  const issues = issuesOf(parsed.error);
  const salvaged = salvageRegister(doc);
  if (!salvaged.file) return { issues };
  const schema = [...issues];
  const reported = new Set(schema.map((i) => i.path));
  const inFile = (text: string) =>
    text.replace(/fields\[(\d+)\]/g, (_, k: string) => `fields[${salvaged.kept[Number(k)]}]`);
  const cross = checkRegisterFile(salvaged.file).issues.map((i) => ({
    path: inFile(i.path),
    message: inFile(i.message),
  }));
  for (const issue of cross) {
    if (reported.has(issue.path)) continue;
    if ([...salvaged.dropped].some((point) => issue.message.includes(`"${point}"`))) continue;
    const top = issue.path.split(/[.[]/)[0]!;
    if (
      top !== 'fields' &&
      schema.some((i) => i.path === top || i.path.startsWith(`${top}.`) || i.path.startsWith(`${top}[`))
    )
      continue;
    issues.push(issue);
  }
  return { issues };
}

function checkRegisterFile(file: z.output<typeof RegisterProfileFile>): {
  loaded?: LoadedProfile;
  issues: ValidationIssue[];
} {
  const issues: ValidationIssue[] = [];
  const points = file.fields.map((raw, i) => {
    const f = withVocabulary(raw.point, raw as Record<string, unknown>, [
      'name',
      'nameZh',
      'unit',
      'range',
      'priority',
    ]);
    issues.push(...unitProblems(f.unit, `fields[${i}].unit`));
    if (f.name === undefined)
      issues.push({
        path: `fields[${i}].name`,
        message: `"${raw.point}" is not a quantity of the shared vocabulary: give it a name (and unit)`,
      });
    const numeric = raw.kind === 'numeric' || raw.kind === 'bits' || raw.kind === 'enum';
    return {
      point: raw.point,
      name: (f.name as string | undefined) ?? raw.point,
      valueType: numeric ? ('number' as const) : ('boolean' as const),
      unit: numeric ? ((f.unit as string | undefined) ?? '') : '',
      ...(f.range ? { range: f.range } : {}),
      priority: (f.priority as PointPriority | undefined) ?? 'normal',
      ...(f.description ? { description: f.description } : {}),
      ...(f.nameZh ? { nameZh: f.nameZh } : {}),
      ...(raw.kind === 'enum' ? { labels: raw.values } : {}),
    };
  });
  const fields = file.fields.map((raw) => {
    const { name: _n, nameZh: _z, unit: _u, range: _r, priority: _p, description: _d, ...field } = raw;
    return field;
  });
  const { type: _type, fields: _fields, ...rest } = file;
  const checked = checkProfile({ ...rest, points, fields });
  // points[i] is built from fields[i]: report it where the file has it.
  issues.push(...checked.issues.map((i) => ({ ...i, path: i.path.replace(/^points\[/, 'fields[') })));
  if (issues.length > 0 || !checked.profile) return { issues };
  return {
    loaded: {
      type: 'register',
      id: checked.profile.id,
      version: file.version,
      ...(file.source ? { source: file.source } : {}),
      profile: deepFreeze(checked.profile),
    },
    issues,
  };
}

function checkFrame(doc: Record<string, unknown>): { loaded?: LoadedProfile; issues: ValidationIssue[] } {
  const parsed = FrameProfileFile.safeParse(doc);
  const issues: ValidationIssue[] = parsed.success ? [] : issuesOf(parsed.error);
  const points: Record<string, unknown> = {};
  if (isObject(doc.points))
    for (const [point, decl] of Object.entries(doc.points)) {
      const d = withVocabulary(point, isObject(decl) ? decl : {}, [
        'name',
        'nameZh',
        'valueType',
        'unit',
        'range',
        'priority',
      ]);
      issues.push(...unitProblems(d.unit, `points.${point}.unit`));
      const { nameZh: _z, ...known } = d;
      points[point] = known;
    }
  const { type: _t, version: _v, source: _s, modelledOn: _m, layout, ...declaration } = doc;
  const result = validateFrameProfile({ ...declaration, points });
  if (!result.ok)
    for (const p of result.problems) {
      const path = bracketed(p.path);
      if (!issues.some((i) => i.path === path)) issues.push({ path, message: p.message });
    }
  let parsedLayout: FrameLayout | undefined;
  if (layout !== undefined) {
    const l = FrameLayout.safeParse(layout);
    if (!l.success) issues.push(...issuesOf(l.error, ['layout']));
    else {
      parsedLayout = l.data;
      issues.push(
        ...layoutProblems(l.data, ['layout']).map((p) => ({ path: bracketed(p.path), message: p.message })),
      );
    }
  }
  if (issues.length > 0 || !result.ok || !parsed.success) return { issues };
  return {
    loaded: {
      type: 'frame',
      id: result.profile.id,
      version: parsed.data.version,
      ...(parsed.data.source ? { source: parsed.data.source } : {}),
      profile: result.profile,
      ...(parsedLayout ? { layout: deepFreeze(parsedLayout) } : {}),
    },
    issues,
  };
}

function checkMqtt(doc: Record<string, unknown>): { loaded?: LoadedProfile; issues: ValidationIssue[] } {
  const parsed = MqttProfileFile.safeParse(doc);
  const issues: ValidationIssue[] = parsed.success ? [] : issuesOf(parsed.error);
  const fields = Array.isArray(doc.fields)
    ? doc.fields.map((f, i) => {
        if (!isObject(f)) return f;
        const d = withVocabulary(f.point, f, ['unit', 'range']);
        // Booleans carry no unit or range, whatever their vocabulary entry says.
        if (d.type === 'boolean' || d.type === 'string') {
          if (f.unit === undefined) delete d.unit;
          if (f.range === undefined) delete d.range;
        }
        issues.push(...unitProblems(d.unit, `fields[${i}].unit`));
        return d;
      })
    : doc.fields;
  const { type: _t, version: _v, source: _s, modelledOn: _m, ...declaration } = doc;
  const result = validateMqttJsonProfile({ ...declaration, fields });
  if (!result.ok)
    for (const p of result.problems) {
      const path = bracketed(p.path);
      if (!issues.some((i) => i.path === path)) issues.push({ path, message: p.message });
    }
  if (issues.length > 0 || !result.ok || !parsed.success) return { issues };
  return {
    loaded: {
      type: 'mqtt',
      id: result.profile.id,
      version: parsed.data.version,
      ...(parsed.data.source ? { source: parsed.data.source } : {}),
      profile: result.profile,
    },
    issues,
  };
}

/**
 * Checks a profile document (parsed YAML/JSON, or an inline profile of the gateway configuration)
 * completely and returns every problem with its path, or the loaded, frozen profile.
 */
export function checkProfileDocument(doc: unknown): { loaded?: LoadedProfile; issues: ValidationIssue[] } {
  if (!isObject(doc))
    return { issues: [{ path: '', message: 'a profile is a mapping (YAML) or object (JSON)' }] };
  switch (doc.type) {
    case 'register':
      return checkRegister(doc);
    case 'frame':
      return checkFrame(doc);
    case 'mqtt':
      return checkMqtt(doc);
    default:
      return {
        issues: [
          {
            path: 'type',
            message: `must be register, frame or mqtt${doc.type === undefined ? '' : `, not ${JSON.stringify(doc.type)}`}`,
          },
        ],
      };
  }
}

/** Reads a profile file (.yaml, .yml or .json); unreadable or unparsable: DRV_ERR_PROFILE_FILE. */
export function readProfileFile(file: string): unknown {
  try {
    return readYamlFile(file, { json: 'by-extension' });
  } catch (error) {
    const reason = error instanceof FileReadError ? error.reason : String(error);
    throw new DoorstepError('DRV_ERR_PROFILE_FILE', { file, reason }, { cause: error });
  }
}

/** Reads and checks a profile file; unreadable files throw, problems are returned with their paths. */
export function checkProfileFile(file: string): { loaded?: LoadedProfile; issues: ValidationIssue[] } {
  const result = checkProfileDocument(readProfileFile(file));
  return result.loaded ? { loaded: { ...result.loaded, file }, issues: [] } : result;
}

/** Loads a profile file or throws DRV_ERR_PROFILE listing every problem with its path. */
export function loadProfileFile(file: string): LoadedProfile {
  const { loaded, issues } = checkProfileFile(file);
  if (!loaded)
    throw new DoorstepError('DRV_ERR_PROFILE', {
      profile: file,
      reason: `${issues.length} problem(s)\n${renderIssues(issues)}`,
    });
  return loaded;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
