import { DoorstepError, type Quality, type Reading } from '../../protocol/index.js';
import type { ReadBlock } from './plan.js';
import { type Implausibility, implausibilities, withPlausibility } from './plausibility.js';
import type {
  CompareField,
  Field,
  NumericField,
  RegisterProfile,
  RegisterTable,
  WordOrder,
} from './types.js';
import { fieldWidth, orderOf } from './types.js';

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

/**
 * Register words as they came off the wire (each register big-endian, Modbus Application Protocol
 * v1.1b3 §4.2) → the value's bytes, most significant first, undoing the declared order:
 * CDAB and DCBA reverse the words, BA/BADC/DCBA swap the bytes of each word.
 */
export function wordsToBytes(words: readonly number[], order: WordOrder): Buffer {
  const n = words.length;
  const out = Buffer.alloc(n * 2);
  const reverseWords = order === 'CDAB' || order === 'DCBA';
  const swapBytes = order === 'BA' || order === 'BADC' || order === 'DCBA';
  for (let i = 0; i < n; i++) {
    const w = words[reverseWords ? n - 1 - i : i]! & 0xffff;
    out[i * 2] = swapBytes ? w & 0xff : w >>> 8;
    out[i * 2 + 1] = swapBytes ? w >>> 8 : w & 0xff;
  }
  return out;
}

/** The inverse of wordsToBytes: the value's bytes (most significant first) → register words in wire order. */
export function bytesToWords(bytes: Buffer, order: WordOrder): number[] {
  const n = bytes.length / 2;
  const reverseWords = order === 'CDAB' || order === 'DCBA';
  const swapBytes = order === 'BA' || order === 'BADC' || order === 'DCBA';
  const words: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const hi = bytes[i * 2]!;
    const lo = bytes[i * 2 + 1]!;
    words[reverseWords ? n - 1 - i : i] = swapBytes ? (lo << 8) | hi : (hi << 8) | lo;
  }
  return words;
}

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

/** Reads a raw number from consecutive register words (in table order). */
export function rawNumber(field: Pick<NumericField, 'type' | 'wordOrder'>, words: readonly number[]): number {
  const bytes = wordsToBytes(words, orderOf(field));
  switch (field.type) {
    case 'uint16':
      return bytes.readUInt16BE(0);
    case 'int16':
      return bytes.readInt16BE(0);
    case 'uint32':
      return bytes.readUInt32BE(0);
    case 'int32':
      return bytes.readInt32BE(0);
    case 'float32':
      // 7 significant digits is all the precision the type carries.
      return Number(bytes.readFloatBE(0).toPrecision(7));
    case 'float64':
      return bytes.readDoubleBE(0);
  }
}

/** Rounds away binary noise from scaling (0.1 × 123 = 12.300000000000001). */
function tidy(value: number): number {
  // Beyond 2^53 / 1e6 there is no binary noise below 1e-6 to remove, and × 1e6 could overflow.
  if (Math.abs(value) > 9e9) return value;
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
    case 'bits': {
      const v = at(field.address);
      if (typeof v !== 'number') return undefined;
      return { point: field.point, value: (v >>> field.bit) & ((1 << field.width) - 1), unit };
    }
    case 'enum': {
      const v = at(field.address);
      if (typeof v !== 'number') return undefined;
      return { point: field.point, value: v, unit };
    }
    case 'numeric': {
      const words: number[] = [];
      for (let i = 0; i < fieldWidth(field); i++) {
        const w = at(field.address + i);
        if (typeof w !== 'number') return undefined;
        words.push(w);
      }
      const raw = rawNumber(field, words);
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
  return decodeImageChecked(profile, image, options).readings;
}

/** decodeImage, also saying what in the image contradicts itself (those readings are uncertain). */
export function decodeImageChecked(
  profile: RegisterProfile,
  image: RegisterImage,
  options: { device: string; ts: number; startup?: StartupValues },
): { readings: Reading[]; implausible: Implausibility[] } {
  const startup = options.startup ?? {};
  const word = (table: RegisterTable, address: number) => image[table].get(address);
  const decoded = profile.fields
    .map((f) => decodeField(profile, f, word, startup))
    .filter((d): d is DecodedPoint => d !== undefined);
  const flags = new Map(decoded.map((d) => [d.point, d.value]));
  const implausible = implausibilities(profile, flags);
  const readings = decoded.map((d) => ({
    device: options.device,
    point: d.point,
    value: d.value,
    unit: d.unit,
    quality: withPlausibility(qualityFor(profile, d.point, flags), d.point, implausible),
    ts: options.ts,
  }));
  return { readings, implausible };
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
