import { DoorstepError, type Quality, type Reading } from '../../protocol/index.js';
import type { ReadBlock } from './plan.js';
import type { CompareField, Field, NumericField, RegisterProfile, RegisterTable } from './types.js';
import { fieldWidth } from './types.js';

/** Values read once at start-up (unit code, decimal places), by startup key. */
export type StartupValues = Readonly<Record<string, number>>;

/** A sparse image of a device's four tables: what a register dump or a simulator holds. */
export interface RegisterImage {
  coil: Map<number, boolean>;
  discrete: Map<number, boolean>;
  holding: Map<number, number>;
  input: Map<number, number>;
}

export function emptyImage(): RegisterImage {
  return { coil: new Map(), discrete: new Map(), holding: new Map(), input: new Map() };
}

/** Value of a point before quality is applied. */
export interface DecodedPoint {
  point: string;
  value: number | boolean;
  unit: string;
}

const scratch = Buffer.alloc(4);

function compareHolds(field: CompareField, raw: number): boolean {
  switch (field.op) {
    case 'eq':
      return raw === field.value;
    case 'ne':
      return raw !== field.value;
    case 'ge':
      return raw >= field.value;
    case 'le':
      return raw <= field.value;
  }
}

/** Multiplier that turns a raw register value into the point's value and unit. */
function numericFactor(field: NumericField, startup: StartupValues, profileId: string): number {
  let factor = field.scale;
  if (field.decimalsFrom) {
    const decimals = startup[field.decimalsFrom];
    if (decimals === undefined || decimals < 0 || decimals > 6)
      throw new DoorstepError('DRV_ERR_DECODE', {
        point: field.point,
        device: profileId,
        reason: `decimal places "${field.decimalsFrom}" = ${decimals ?? 'unread'} (expected 0–6)`,
      });
    factor *= 10 ** -decimals;
  }
  if (field.unitFrom) {
    const code = startup[field.unitFrom.from];
    const unitFactor = code === undefined ? undefined : field.unitFrom.factors[String(code)];
    if (unitFactor === undefined)
      throw new DoorstepError('DRV_ERR_DECODE', {
        point: field.point,
        device: profileId,
        reason: `unit code "${field.unitFrom.from}" = ${code ?? 'unread'} is not one of ${Object.keys(field.unitFrom.factors).join(', ')}`,
      });
    factor *= unitFactor;
  }
  return factor;
}

/** Reads a raw number from consecutive register words (already in table order). */
export function rawNumber(field: NumericField, w0: number, w1: number): number {
  switch (field.type) {
    case 'uint16':
      return w0;
    case 'int16':
      return w0 >= 0x8000 ? w0 - 0x10000 : w0;
    default: {
      const [hi, lo] = field.wordOrder === 'ABCD' ? [w0, w1] : [w1, w0];
      scratch.writeUInt16BE(hi, 0);
      scratch.writeUInt16BE(lo, 2);
      if (field.type === 'uint32') return scratch.readUInt32BE(0);
      if (field.type === 'int32') return scratch.readInt32BE(0);
      // float32: 7 significant digits is all the precision the type carries.
      return Number(scratch.readFloatBE(0).toPrecision(7));
    }
  }
}

/** Rounds away binary noise from scaling (0.1 × 123 = 12.300000000000001). */
function tidy(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** Decodes one field from a table accessor. Pure; throws DRV_ERR_DECODE on impossible values. */
export function decodeField(
  profile: RegisterProfile,
  field: Field,
  word: (table: RegisterTable, address: number) => number | boolean | undefined,
  startup: StartupValues,
): DecodedPoint | undefined {
  const unit = profile.points.find((p) => p.point === field.point)?.unit ?? '';
  const at = (address: number) => word(field.table, address);
  switch (field.kind) {
    case 'bit': {
      const v = at(field.address);
      if (v === undefined) return undefined;
      const bit = typeof v === 'boolean' ? v : ((v >>> (field.bit ?? 0)) & 1) === 1;
      return { point: field.point, value: field.invert ? !bit : bit, unit };
    }
    case 'compare': {
      const v = at(field.address);
      if (typeof v !== 'number') return undefined;
      return { point: field.point, value: compareHolds(field, v), unit };
    }
    case 'numeric': {
      const w0 = at(field.address);
      const w1 = fieldWidth(field) === 2 ? at(field.address + 1) : 0;
      if (typeof w0 !== 'number' || typeof w1 !== 'number') return undefined;
      const raw = rawNumber(field, w0, w1);
      if (!Number.isFinite(raw))
        throw new DoorstepError('DRV_ERR_DECODE', {
          point: field.point,
          device: profile.id,
          reason: `not a number (${raw})`,
        });
      return {
        point: field.point,
        value: tidy(raw * numericFactor(field, startup, profile.id) + field.offset),
        unit,
      };
    }
  }
}

/**
 * Applies the profile's quality rule: while a fault (badWhen) or maintenance (uncertainWhen) flag
 * is set, measurements and alarm points of the device are not "good". The flags themselves,
 * fault codes and diagnostics keep their own quality.
 */
export function qualityFor(
  profile: RegisterProfile,
  point: string,
  flags: ReadonlyMap<string, number | boolean>,
): Quality {
  if (profile.quality.badWhen.includes(point) || profile.quality.uncertainWhen.includes(point)) return 'good';
  // Only measurements and alarm states (critical points) depend on the device's health flags.
  const priority = profile.points.find((p) => p.point === point)?.priority;
  if (priority !== 'critical') return 'good';
  if (profile.quality.badWhen.some((p) => flags.get(p) === true)) return 'bad';
  if (profile.quality.uncertainWhen.some((p) => flags.get(p) === true)) return 'uncertain';
  return 'good';
}

/** Decodes a full register image (a golden dump) into readings. */
export function decodeImage(
  profile: RegisterProfile,
  image: RegisterImage,
  options: { device: string; ts: number; startup?: StartupValues },
): Reading[] {
  const startup = options.startup ?? {};
  const word = (table: RegisterTable, address: number) => image[table].get(address);
  const decoded = profile.fields
    .map((f) => decodeField(profile, f, word, startup))
    .filter((d): d is DecodedPoint => d !== undefined);
  const flags = new Map(decoded.map((d) => [d.point, d.value]));
  return decoded.map((d) => ({
    device: options.device,
    point: d.point,
    value: d.value,
    unit: d.unit,
    quality: qualityFor(profile, d.point, flags),
    ts: options.ts,
  }));
}

/** Decodes the values of one read block (registers or bits, starting at block.address). */
export function decodeBlock(
  profile: RegisterProfile,
  block: ReadBlock,
  values: readonly number[] | readonly boolean[],
  startup: StartupValues,
): DecodedPoint[] {
  if (values.length < block.count)
    throw new DoorstepError('DRV_ERR_DECODE', {
      point: block.id,
      device: profile.id,
      reason: `block returned ${values.length} of ${block.count} values`,
    });
  const word = (_table: RegisterTable, address: number) => values[address - block.address];
  const out: DecodedPoint[] = [];
  for (const f of block.fields) {
    const d = decodeField(profile, f, word, startup);
    if (d) out.push(d);
  }
  return out;
}
