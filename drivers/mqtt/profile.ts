import { z } from 'zod';
import { DoorstepError, GeomagneticUse, PointId, SensorKind } from '../../protocol/index.js';

/**
 * An MQTT JSON profile declares, as data, how one family of MQTT-native sensors publishes: the
 * topic (one `+` level carries the sensor's own id), and which JSON field becomes which point,
 * with its type, unit and scaling. See README.md "MQTT JSON profile".
 */

/** `a`, `a.b`, `status.battery`: dot-separated object keys. */
const FieldPath = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$/, 'must be a dotted key path');

const FieldMapping = z.object({
  field: FieldPath,
  point: PointId,
  type: z.enum(['boolean', 'number', 'integer', 'string']),
  unit: z.string().max(16).default(''),
  /** point value = JSON value × scale + offset (numbers only). */
  scale: z
    .number()
    .refine((v) => v !== 0, 'scale must not be 0')
    .default(1),
  offset: z.number().default(0),
  /** Plausible range after scaling; a value outside arrives with quality `uncertain`. */
  range: z.tuple([z.number(), z.number()]).optional(),
  /** A message without this field is rejected; otherwise the point is simply absent. */
  required: z.boolean().default(false),
  /** Also produce a boolean point, true when the scaled value is below `below` (battery → battery_low). */
  flagBelow: z.object({ point: PointId, below: z.number() }).optional(),
});
export type MqttFieldMapping = z.output<typeof FieldMapping>;
export type MqttFieldDeclaration = z.input<typeof FieldMapping>;

const TimestampField = z.object({
  field: FieldPath,
  /** ms or s since the epoch, or an ISO 8601 string. */
  unit: z.enum(['ms', 's', 'iso8601']),
});

export const MqttJsonProfileDeclaration = z.object({
  id: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a lower-case id: a-z, 0-9, "-"'),
  description: z.string().min(1),
  kind: SensorKind,
  use: GeomagneticUse.optional(),
  /** MQTT topic filter with exactly one `+` level, which is the sensor id; `#` is not allowed. */
  topic: z.string().min(1).max(256),
  timestamp: TimestampField.optional(),
  fields: z.array(FieldMapping).min(1),
});
export type MqttJsonProfileDeclaration = z.input<typeof MqttJsonProfileDeclaration>;

export interface MqttJsonProfile
  extends Readonly<Omit<z.output<typeof MqttJsonProfileDeclaration>, 'fields'>> {
  readonly fields: readonly Readonly<MqttFieldMapping>[];
}

export interface MqttProfileProblem {
  path: string;
  message: string;
}

/** Problems of a topic filter: exactly one `+` (the sensor id), no `#`, no empty level. */
export function topicPatternProblems(topic: string): string[] {
  const levels = topic.split('/');
  const problems: string[] = [];
  const plus = levels.filter((level) => level === '+').length;
  if (plus !== 1) problems.push(`needs exactly one "+" level for the sensor id, has ${plus}`);
  if (topic.includes('#')) problems.push('"#" is not allowed: the profile must know where the sensor id is');
  if (levels.some((level) => level !== '+' && level.includes('+')))
    problems.push('"+" must fill a whole level');
  if (levels.some((level) => level === '')) problems.push('has an empty level');
  return problems;
}

/** Validates a declaration and lists every problem with its path; nothing is thrown. */
export function validateMqttJsonProfile(
  declaration: unknown,
): { ok: true; profile: MqttJsonProfile } | { ok: false; problems: MqttProfileProblem[] } {
  const parsed = MqttJsonProfileDeclaration.safeParse(declaration);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    };
  }
  const decl = parsed.data;
  const problems: MqttProfileProblem[] = [];
  for (const message of topicPatternProblems(decl.topic)) problems.push({ path: 'topic', message });
  if (decl.kind === 'geomagnetic' && !decl.use)
    problems.push({ path: 'use', message: 'a geomagnetic profile needs a use' });
  const points = new Set<string>();
  decl.fields.forEach((field, index) => {
    const path = `fields.${index}`;
    for (const point of [field.point, field.flagBelow?.point]) {
      if (point === undefined) continue;
      if (points.has(point)) problems.push({ path, message: `point "${point}" is produced twice` });
      points.add(point);
    }
    const numeric = field.type === 'number' || field.type === 'integer';
    if (!numeric && (field.scale !== 1 || field.offset !== 0)) {
      problems.push({ path: `${path}.scale`, message: `a ${field.type} field cannot be scaled` });
    }
    if (!numeric && (field.range || field.flagBelow)) {
      problems.push({ path, message: `range and flagBelow need a number field, this one is ${field.type}` });
    }
    if (field.range && field.range[0] > field.range[1]) {
      problems.push({ path: `${path}.range`, message: 'minimum is above maximum' });
    }
  });
  if (problems.length > 0) return { ok: false, problems };
  const profile: MqttJsonProfile = {
    ...decl,
    fields: Object.freeze(decl.fields.map((f) => Object.freeze(f))),
  };
  return { ok: true, profile: Object.freeze(profile) };
}

/** Validates and freezes a declaration; throws DRV_ERR_PROFILE listing every problem with its path. */
export function defineMqttJsonProfile(declaration: MqttJsonProfileDeclaration): MqttJsonProfile {
  const result = validateMqttJsonProfile(declaration);
  if (result.ok) return result.profile;
  const reason = result.problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ');
  throw new DoorstepError('DRV_ERR_PROFILE', {
    profile: declaration.id,
    reason,
    count: result.problems.length,
  });
}
