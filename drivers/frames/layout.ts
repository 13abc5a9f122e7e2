import { z } from 'zod';
import { crc16Modbus } from '../modbus/crc16.js';

/**
 * Frame layouts as data: how a receiver's bytes form a frame and which field is which. A frame
 * profile may declare one (README "Frame layouts"); without it the bus codec's doorstep layout
 * applies (DOORSTEP_ASCII / DOORSTEP_BINARY below), so both are the same machinery.
 *
 * Fields with these names feed the detector report (drivers/frames/types.ts FrameReport);
 * any other name (receiver id, channel …) is parsed, checked and kept for the log only.
 */
export const FRAME_ROLES = ['detector', 'state', 'battery', 'rssi', 'value', 'detector_type'] as const;

/** Checksums receivers use. */
export const ChecksumKind = z.enum(['none', 'sum8', 'xor8', 'crc16-modbus', 'crc16-ccitt']);
export type ChecksumKind = z.infer<typeof ChecksumKind>;

const FieldName = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'must be a lower-case name: a-z, 0-9, "_"');
const OneChar = z.string().length(1, 'must be one character');

/** ASCII field types: decimal integers, hexadecimal, or an alphanumeric id ("D017"). */
export const AsciiFieldType = z.enum(['uint', 'int', 'hex', 'alnum']);
export type AsciiFieldType = z.infer<typeof AsciiFieldType>;

/** Which field types each role may have: the legality table of ASCII frame fields. */
export const ASCII_ROLE_TYPES: Readonly<Record<(typeof FRAME_ROLES)[number], readonly AsciiFieldType[]>> = {
  detector: ['uint', 'hex', 'alnum'],
  state: ['uint', 'hex'],
  battery: ['uint'],
  rssi: ['int', 'uint'],
  value: ['int', 'uint', 'hex'],
  detector_type: ['uint', 'hex'],
};

export const AsciiLayoutField = z
  .object({
    name: FieldName,
    type: AsciiFieldType,
    /** Only trailing fields may be optional: a frame may end before them. */
    optional: z.boolean().default(false),
  })
  .strict();

export const AsciiLayout = z
  .object({
    codec: z.literal('ascii'),
    /** The start mark; it must not occur inside a frame, so it always starts a new one. */
    start: OneChar.default('$'),
    /** The end mark, e.g. "\r\n" or "#". */
    end: z.string().min(1).max(2).default('\r\n'),
    separator: OneChar.default(','),
    /**
     * Checksum over every byte strictly between the start mark and `mark`, sent after `mark` as
     * hex digits (2 for 8-bit sums, 4 for CRC-16), either case accepted, upper case emitted.
     */
    checksum: z
      .object({ kind: ChecksumKind, mark: OneChar.default('*') })
      .strict()
      .default({ kind: 'sum8', mark: '*' }),
    fields: z.array(AsciiLayoutField).min(1).max(32),
    /** Longest frame kept, start to end mark; longer ones are discarded as overflow. */
    maxFrameBytes: z.number().int().min(16).max(4096).default(128),
  })
  .strict();
export type AsciiLayout = z.output<typeof AsciiLayout>;

export const BinaryFieldType = z.enum(['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32']);
export type BinaryFieldType = z.infer<typeof BinaryFieldType>;
export const BINARY_FIELD_BYTES: Readonly<Record<BinaryFieldType, number>> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
};

export const BinaryLayoutField = z
  .object({
    name: FieldName,
    /** Byte offset from the first start byte. */
    offset: z.number().int().min(0).max(255),
    type: BinaryFieldType,
    endian: z.enum(['big', 'little']).default('big'),
    /** Present only in frames long enough to hold it (a longer payload length). */
    optional: z.boolean().default(false),
  })
  .strict();

export const BinaryLayout = z
  .object({
    codec: z.literal('binary'),
    /** Start bytes (one or two). */
    start: z.array(z.number().int().min(0).max(255)).min(1).max(2),
    /** Bytes from the first start byte up to the payload (start, address, length …). */
    header: z.number().int().min(1).max(32),
    /** Where the payload length byte is, and the lengths a frame may have. */
    length: z
      .object({
        offset: z.number().int().min(0).max(31),
        allowed: z.array(z.number().int().min(0).max(255)).min(1),
      })
      .strict(),
    fields: z.array(BinaryLayoutField).min(1).max(32),
    /** Integrity check after the payload, covering bytes `from` … end of payload. */
    crc: z
      .object({
        kind: ChecksumKind.exclude(['none']),
        from: z.number().int().min(0).max(31).default(0),
        endian: z.enum(['big', 'little']).default('little'),
      })
      .strict(),
  })
  .strict();
export type BinaryLayout = z.output<typeof BinaryLayout>;

export const FrameLayout = z.discriminatedUnion('codec', [AsciiLayout, BinaryLayout]);
export type FrameLayout = z.output<typeof FrameLayout>;
export type FrameLayoutInput = z.input<typeof FrameLayout>;

/** The doorstep ASCII layout (README "ASCII frame"). */
export const DOORSTEP_ASCII: AsciiLayout = Object.freeze(
  AsciiLayout.parse({
    codec: 'ascii',
    fields: [
      { name: 'host', type: 'uint' },
      { name: 'channel', type: 'uint' },
      { name: 'detector', type: 'uint' },
      { name: 'state', type: 'uint' },
      { name: 'battery', type: 'uint' },
      { name: 'rssi', type: 'int' },
      { name: 'value', type: 'int', optional: true },
    ],
  }),
);

/** The doorstep binary layout (README "Binary frame"). */
export const DOORSTEP_BINARY: BinaryLayout = Object.freeze(
  BinaryLayout.parse({
    codec: 'binary',
    start: [0xa5],
    header: 4,
    length: { offset: 3, allowed: [4, 6] },
    fields: [
      { name: 'detector', offset: 1, type: 'uint16' },
      { name: 'detector_type', offset: 4, type: 'uint8' },
      { name: 'state', offset: 5, type: 'uint8' },
      { name: 'battery', offset: 6, type: 'uint8' },
      { name: 'rssi', offset: 7, type: 'int8' },
      { name: 'value', offset: 8, type: 'int16', optional: true },
    ],
    crc: { kind: 'crc16-modbus', from: 1, endian: 'little' },
  }),
);

/** Every problem of a layout the schema cannot see, with its path under `prefix`. */
export function layoutProblems(
  layout: FrameLayout,
  prefix: (string | number)[] = [],
): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const at = (...rest: (string | number)[]) => [...prefix, ...rest].join('.');
  const names = new Set<string>();
  layout.fields.forEach((f, i) => {
    if (names.has(f.name))
      problems.push({ path: at('fields', i, 'name'), message: `field "${f.name}" is declared twice` });
    names.add(f.name);
  });
  if (!names.has('detector'))
    problems.push({ path: at('fields'), message: 'a layout needs a "detector" field' });
  if (!names.has('state')) problems.push({ path: at('fields'), message: 'a layout needs a "state" field' });
  if (layout.codec === 'ascii') {
    let seenOptional = false;
    layout.fields.forEach((f, i) => {
      const legal = (ASCII_ROLE_TYPES as Record<string, readonly string[]>)[f.name];
      if (legal && !legal.includes(f.type))
        problems.push({
          path: at('fields', i, 'type'),
          message: `${f.name} must be one of ${legal.join(', ')}, not ${f.type}`,
        });
      if (f.optional) seenOptional = true;
      else if (seenOptional)
        problems.push({ path: at('fields', i, 'optional'), message: 'only trailing fields may be optional' });
      if ((f.name === 'detector' || f.name === 'state') && f.optional)
        problems.push({ path: at('fields', i, 'optional'), message: `${f.name} cannot be optional` });
    });
    const marks = [
      layout.start,
      layout.separator,
      ...(layout.checksum.kind === 'none' ? [] : [layout.checksum.mark]),
    ];
    if (new Set(marks).size !== marks.length)
      problems.push({ path: at('separator'), message: 'start, separator and checksum marks must differ' });
    if (layout.end.includes(layout.start) || layout.end.includes(layout.separator))
      problems.push({
        path: at('end'),
        message: 'the end mark must not contain the start mark or the separator',
      });
  } else {
    const max = Math.max(...layout.length.allowed);
    const min = Math.min(...layout.length.allowed);
    if (layout.length.offset < layout.start.length || layout.length.offset >= layout.header)
      problems.push({
        path: at('length', 'offset'),
        message: `must lie in the header, after the start byte(s) (${layout.start.length}–${layout.header - 1})`,
      });
    if (layout.crc.from >= layout.header + min)
      problems.push({ path: at('crc', 'from'), message: 'the CRC must cover at least one byte' });
    layout.fields.forEach((f, i) => {
      const end = f.offset + BINARY_FIELD_BYTES[f.type];
      if (end > layout.header + max)
        problems.push({
          path: at('fields', i, 'offset'),
          message: `${f.type} at ${f.offset} runs past the longest frame (${layout.header + max} bytes before the CRC)`,
        });
      else if (end > layout.header + min && !f.optional)
        problems.push({
          path: at('fields', i, 'optional'),
          message: `lies past the shortest payload (${min}); mark it optional`,
        });
      if (f.name === 'detector' || f.name === 'state') {
        if (f.optional)
          problems.push({ path: at('fields', i, 'optional'), message: `${f.name} cannot be optional` });
      }
    });
  }
  return problems;
}

const CCITT = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, not reflected (check value 0x29B1 for "123456789"). */
export function crc16Ccitt(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CCITT[((crc >>> 8) ^ data[i]!) & 0xff]!;
  return crc;
}

/** The checksum of `kind` over bytes [start, end). */
export function checksumOf(kind: ChecksumKind, data: Uint8Array, start = 0, end = data.length): number {
  switch (kind) {
    case 'none':
      return 0;
    case 'sum8': {
      let sum = 0;
      for (let i = start; i < end; i++) sum = (sum + data[i]!) & 0xff;
      return sum;
    }
    case 'xor8': {
      let x = 0;
      for (let i = start; i < end; i++) x ^= data[i]!;
      return x;
    }
    case 'crc16-modbus':
      return crc16Modbus(data, start, end);
    case 'crc16-ccitt':
      return crc16Ccitt(data, start, end);
  }
}

/** Bytes a checksum of `kind` takes: 1 for the 8-bit sums, 2 for CRC-16. */
export function checksumBytes(kind: ChecksumKind): number {
  return kind === 'none' ? 0 : kind === 'sum8' || kind === 'xor8' ? 1 : 2;
}

/** True when two layouts describe the same bytes (a receiver decodes with one layout). */
export function sameLayout(a: FrameLayout, b: FrameLayout): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
