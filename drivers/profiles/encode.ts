import { DoorstepError } from '../../protocol/index.js';
import { bytesToWords, emptyImage, type RegisterImage, type StartupValues } from './codec.js';
import { type CompareField, DATA_TYPES, type NumericField, orderOf, type RegisterProfile } from './types.js';

/**
 * The inverse of decode, for simulated devices and golden tests: point values → register image.
 * Points not given keep the image's current value (or 0 / false).
 */
export function encodePoints(
  profile: RegisterProfile,
  values: Readonly<Record<string, number | boolean>>,
  options: { startup?: StartupValues; into?: RegisterImage } = {},
): RegisterImage {
  const image = options.into ?? emptyImage();
  const startup = options.startup ?? {};
  const compares = new Map<string, { field: CompareField; want: boolean }[]>();

  for (const field of profile.fields) {
    const value = values[field.point];
    if (value === undefined) continue;
    switch (field.kind) {
      case 'numeric':
        writeNumeric(image, field, Number(value), startup, profile.id);
        break;
      case 'bit': {
        const bit = field.invert ? !value : Boolean(value);
        if (field.table === 'coil' || field.table === 'discrete') image[field.table].set(field.address, bit);
        else {
          const table = image[field.table];
          const mask = 1 << (field.bit ?? 0);
          const word = table.get(field.address) ?? 0;
          table.set(field.address, bit ? word | mask : word & ~mask & 0xffff);
        }
        break;
      }
      case 'bits': {
        const table = image[field.table];
        const mask = ((1 << field.width) - 1) << field.bit;
        const raw = (Math.max(0, Math.round(Number(value))) << field.bit) & mask;
        table.set(field.address, ((table.get(field.address) ?? 0) & ~mask & 0xffff) | raw);
        break;
      }
      case 'enum':
        image[field.table].set(field.address, Math.max(0, Math.min(0xffff, Math.round(Number(value)))));
        break;
      case 'compare': {
        const k = `${field.table}:${field.address}`;
        const list = compares.get(k) ?? [];
        list.push({ field, want: Boolean(value) });
        compares.set(k, list);
        break;
      }
    }
  }
  // Several comparisons may share one register (alarm level 0/1/2 → AL1, AL2): pick the smallest
  // register value that satisfies all of them.
  for (const [, wanted] of compares) {
    const first = wanted[0]!.field;
    const limit = Math.max(...wanted.map((w) => w.field.value)) + 1;
    let chosen: number | undefined;
    for (let candidate = 0; candidate <= limit && chosen === undefined; candidate++) {
      if (wanted.every((w) => holds(w.field, candidate) === w.want)) chosen = candidate;
    }
    if (chosen === undefined)
      throw new DoorstepError('DRV_ERR_DECODE', {
        point: wanted.map((w) => w.field.point).join('+'),
        device: profile.id,
        reason: 'no register value satisfies the requested combination',
      });
    image[first.table].set(first.address, chosen);
  }
  return image;
}

function holds(field: CompareField, raw: number): boolean {
  if (field.op === 'eq') return raw === field.value;
  if (field.op === 'ne') return raw !== field.value;
  if (field.op === 'ge') return raw >= field.value;
  return raw <= field.value;
}

function writeNumeric(
  image: RegisterImage,
  field: NumericField,
  value: number,
  startup: StartupValues,
  profileId: string,
): void {
  let factor = field.scale;
  if (field.decimalsFrom) factor *= 10 ** -(startup[field.decimalsFrom] ?? 0);
  if (field.unitFrom) {
    const f = field.unitFrom.factors[String(startup[field.unitFrom.from])];
    if (f === undefined)
      throw new DoorstepError('DRV_ERR_DECODE', {
        point: field.point,
        device: profileId,
        reason: 'unit code not set',
      });
    factor *= f;
  }
  const raw = (value - field.offset) / factor;
  const table = image[field.table];
  const buf = Buffer.alloc(DATA_TYPES[field.type].registers * 2);
  switch (field.type) {
    case 'uint16':
      buf.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.round(raw))), 0);
      break;
    case 'int16':
      buf.writeInt16BE(Math.max(-0x8000, Math.min(0x7fff, Math.round(raw))), 0);
      break;
    case 'uint32':
      buf.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.round(raw))), 0);
      break;
    case 'int32':
      buf.writeInt32BE(Math.max(-0x80000000, Math.min(0x7fffffff, Math.round(raw))), 0);
      break;
    case 'float32':
      buf.writeFloatBE(raw, 0);
      break;
    case 'float64':
      buf.writeDoubleBE(raw, 0);
      break;
  }
  bytesToWords(buf, orderOf(field)).forEach((w, i) => {
    table.set(field.address + i, w);
  });
}

/** Writes start-up registers (unit code, decimals) into an image. */
export function encodeStartup(
  profile: RegisterProfile,
  startup: StartupValues,
  into = emptyImage(),
): RegisterImage {
  for (const s of profile.startup) {
    const v = startup[s.key];
    if (v !== undefined) into[s.table].set(s.address, v & 0xffff);
  }
  return into;
}
