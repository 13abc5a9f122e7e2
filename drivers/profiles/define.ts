import { DoorstepError, issuesOf, renderIssues, type ValidationIssue } from '../../protocol/index.js';
import { DATA_TYPES, fieldWidth, RegisterProfile, type RegisterProfileInput } from './types.js';

/**
 * Validates a profile declaration completely — schema first, then the cross-field rules a schema
 * cannot express — and returns every problem with its path (docs/architecture.md: validate everything up front,
 * report every problem, then freeze). Legality per data type follows Home Assistant's Modbus
 * validators: 32-bit types take two registers, bits index 0–15 and only in registers.
 */
export function checkProfile(input: unknown): { profile?: RegisterProfile; issues: ValidationIssue[] } {
  const parsed = RegisterProfile.safeParse(input);
  if (!parsed.success) return { issues: issuesOf(parsed.error) };
  const profile = parsed.data;
  const issues: ValidationIssue[] = [];
  const descriptors = new Map(profile.points.map((p) => [p.point, p]));

  profile.points.forEach((p, i) => {
    if (profile.points.findIndex((q) => q.point === p.point) !== i)
      issues.push({ path: `points[${i}].point`, message: `point "${p.point}" is declared twice` });
    if (p.range && p.range[0] > p.range[1])
      issues.push({ path: `points[${i}].range`, message: 'range minimum is above its maximum' });
  });

  const startupKeys = new Set(profile.startup.map((s) => s.key));
  const seenPoints = new Map<string, number>();
  profile.fields.forEach((field, i) => {
    const path = `fields[${i}]`;
    const descriptor = descriptors.get(field.point);
    if (!descriptor) {
      issues.push({ path: `${path}.point`, message: `point "${field.point}" has no descriptor in points[]` });
    } else {
      const expected =
        field.kind === 'numeric' || field.kind === 'bits' || field.kind === 'enum' ? 'number' : 'boolean';
      if (descriptor.valueType !== expected)
        issues.push({
          path: `${path}.point`,
          message: `a ${field.kind} field yields a ${expected}, but point "${field.point}" is declared ${descriptor.valueType}`,
        });
    }
    const previous = seenPoints.get(field.point);
    if (previous !== undefined)
      issues.push({
        path: `${path}.point`,
        message: `point "${field.point}" is already read by fields[${previous}]`,
      });
    else seenPoints.set(field.point, i);

    if (field.kind === 'bit') {
      const isRegister = field.table === 'holding' || field.table === 'input';
      if (isRegister && field.bit === undefined)
        issues.push({
          path: `${path}.bit`,
          message: `a bit of a ${field.table} register needs "bit" (0–15)`,
        });
      if (!isRegister && field.bit !== undefined)
        issues.push({
          path: `${path}.bit`,
          message: `"bit" applies only to registers, not to ${field.table}s`,
        });
    }
    if (field.kind === 'bits' && field.bit + field.width > 16)
      issues.push({
        path: `${path}.width`,
        message: `bits ${field.bit}–${field.bit + field.width - 1} run past bit 15 of the register`,
      });
    if (field.kind === 'enum' && Object.keys(field.values).length === 0)
      issues.push({ path: `${path}.values`, message: 'an enumeration needs at least one code' });
    if (field.kind === 'numeric') {
      const legal = DATA_TYPES[field.type];
      if (field.wordOrder && !legal.orders.includes(field.wordOrder))
        issues.push({
          path: `${path}.wordOrder`,
          message: `${field.type} takes ${legal.registers} register(s): byte order must be one of ${legal.orders.join(', ')}, not ${field.wordOrder}`,
        });
      if (legal.float && field.decimalsFrom)
        issues.push({
          path: `${path}.decimalsFrom`,
          message: `${field.type} carries its own decimal point; decimalsFrom applies to integer types`,
        });
      if (field.address + fieldWidth(field) - 1 > 65535)
        issues.push({
          path: `${path}.address`,
          message: `${field.type} at ${field.address} runs past register 65535`,
        });
      if (field.decimalsFrom && !startupKeys.has(field.decimalsFrom))
        issues.push({
          path: `${path}.decimalsFrom`,
          message: `no startup field with key "${field.decimalsFrom}"`,
        });
      if (field.unitFrom && !startupKeys.has(field.unitFrom.from))
        issues.push({
          path: `${path}.unitFrom.from`,
          message: `no startup field with key "${field.unitFrom.from}"`,
        });
    }
  });

  // Numeric values must not overlap each other; bits and comparisons may share a status register.
  const numeric = profile.fields
    .map((f, i) => ({ f, i }))
    .filter((x) => x.f.kind === 'numeric')
    .sort((a, b) => a.f.address - b.f.address);
  for (let k = 1; k < numeric.length; k++) {
    const a = numeric[k - 1]!;
    const b = numeric[k]!;
    if (a.f.table === b.f.table && a.f.address + fieldWidth(a.f) > b.f.address)
      issues.push({
        path: `fields[${b.i}].address`,
        message: `overlaps fields[${a.i}] (${a.f.table} ${a.f.address}–${a.f.address + fieldWidth(a.f) - 1})`,
      });
  }

  for (const [list, name] of [
    [profile.quality.badWhen, 'badWhen'],
    [profile.quality.uncertainWhen, 'uncertainWhen'],
  ] as const) {
    list.forEach((point, i) => {
      const d = descriptors.get(point);
      if (d?.valueType !== 'boolean')
        issues.push({
          path: `quality.${name}[${i}]`,
          message: `"${point}" is not a boolean point of this profile`,
        });
    });
  }
  profile.checks.forEach((check, i) => {
    if (descriptors.get(check.alarm)?.valueType !== 'boolean')
      issues.push({
        path: `checks[${i}].alarm`,
        message: `"${check.alarm}" is not a boolean point of this profile`,
      });
    if (descriptors.get(check.point)?.valueType !== 'number')
      issues.push({
        path: `checks[${i}].point`,
        message: `"${check.point}" is not a number point of this profile`,
      });
  });
  if (profile.kind === 'geomagnetic' && !profile.use)
    issues.push({
      path: 'use',
      message: 'a geomagnetic profile must say its use: vehicle_presence or manhole_tilt',
    });

  // A settings register is configuration, not a measurement: one that a field also reads would be
  // decoded as a reading (or the reading rewritten by `doorstep modbus`).
  const settingsRegisters = new Map<number, string>();
  for (const what of ['unitId', 'baud', 'parity'] as const) {
    const declared = profile.settings?.[what];
    if (!declared) continue;
    const other = settingsRegisters.get(declared.register);
    if (other)
      issues.push({
        path: `settings.${what}.register`,
        message: `holding ${declared.register} is already the ${other} register`,
      });
    settingsRegisters.set(declared.register, what);
    const index = profile.fields.findIndex(
      (f) =>
        f.table === 'holding' &&
        declared.register >= f.address &&
        declared.register < f.address + fieldWidth(f),
    );
    if (index >= 0)
      issues.push({
        path: `settings.${what}.register`,
        message: `holding ${declared.register} is read as point "${profile.fields[index]!.point}" (fields[${index}])`,
      });
  }
  if (profile.settings?.baud && Object.keys(profile.settings.baud.codes).length === 0)
    issues.push({ path: 'settings.baud.codes', message: 'list the code of at least one baud rate' });

  return issues.length > 0 ? { issues } : { profile, issues };
}

/** Validates and freezes a profile; throws DRV_ERR_PROFILE listing every problem. */
export function defineProfile(input: RegisterProfileInput): Readonly<RegisterProfile> {
  const { profile, issues } = checkProfile(input);
  if (!profile) {
    const id = typeof input === 'object' && input && 'id' in input ? String(input.id) : '(unnamed)';
    throw new DoorstepError('DRV_ERR_PROFILE', {
      profile: id,
      reason: `${issues.length} problem(s)\n${renderIssues(issues)}`,
    });
  }
  return deepFreeze(profile);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
