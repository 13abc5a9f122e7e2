import { DiscardLedger } from './discards.js';
import {
  type AsciiFieldType,
  type AsciiLayout,
  checksumBytes,
  checksumOf,
  DOORSTEP_ASCII,
  FRAME_ROLES,
} from './layout.js';
import type { AsciiFrame, DecoderStats, Discard, FrameDecoder } from './types.js';

/**
 * ASCII receiver frames, by layout (layout.ts). The doorstep layout (README.md "ASCII frame"):
 *   $<host>,<channel>,<detector>,<state>,<battery %>,<rssi dBm>[,<value>]*CS\r\n
 * CS = sum of every byte strictly between `$` and `*`, mod 256, as two hex digits (either case
 * accepted, upper case emitted) — the usual checksum of 433 MHz / LoRa concentrators (see
 * docs/standards.md "How sensors reach a gateway"). Other receivers declare their own start and
 * end marks, separator, fields and checksum in a frame profile's layout.
 */

/** Seven fields of at most 11 characters, six commas and `$*CS\r\n` fit in 96; the cap leaves room. */
export const ASCII_DEFAULT_MAX_FRAME_BYTES = 128;

const PATTERNS: Record<AsciiFieldType, { pattern: RegExp; what: string }> = {
  uint: { pattern: /^\d{1,10}$/, what: 'an integer' },
  int: { pattern: /^-?\d{1,10}$/, what: 'an integer' },
  hex: { pattern: /^[0-9A-Fa-f]{1,8}$/, what: 'hexadecimal' },
  alnum: { pattern: /^[A-Za-z0-9_-]{1,32}$/, what: 'an alphanumeric id' },
};

/** Wire range of each role; other fields are bounded by their type only. */
const ROLE_RANGE: Record<string, [number, number]> = {
  detector: [0, 0xffffffff],
  state: [0, 0xff],
  battery: [0, 0xff],
  rssi: [-255, 255],
  value: [-0x80000000, 0x7fffffff],
  detector_type: [0, 0xff],
};
const TYPE_RANGE: Record<AsciiFieldType, [number, number]> = {
  uint: [0, 0xffffffff],
  int: [-0x80000000, 0x7fffffff],
  hex: [0, 0xffffffff],
  alnum: [0, 0],
};

const PROPERTY: Record<string, string> = { detector_type: 'detectorType' };

/** Byte sum mod 256 of `bytes[start, end)`. */
export function asciiChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return checksumOf('sum8', bytes, start, end);
}

function hexDigits(n: number, digits: number): string {
  return n.toString(16).toUpperCase().padStart(digits, '0');
}

function rangeOf(field: AsciiLayout['fields'][number]): [number, number] {
  return ROLE_RANGE[field.name] ?? TYPE_RANGE[field.type];
}

/** Encodes one frame; throws RangeError for a field that is not an integer (or id) in its range. */
export function encodeAsciiFrame(
  frame: Omit<AsciiFrame, 'format'> & Record<string, unknown>,
  layout: AsciiLayout = DOORSTEP_ASCII,
): Buffer {
  const parts: string[] = [];
  for (const field of layout.fields) {
    const value = frame[PROPERTY[field.name] ?? field.name] ?? frame.fields?.[field.name];
    if (value === undefined && field.optional) break;
    if (field.type === 'alnum') {
      const text = String(value ?? '');
      if (!PATTERNS.alnum.pattern.test(text))
        throw new RangeError(`ASCII frame field ${field.name} must be an alphanumeric id, got "${text}"`);
      parts.push(text);
      continue;
    }
    const [min, max] = rangeOf(field);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`ASCII frame field ${field.name} must be an integer in ${min}..${max}`);
    }
    parts.push(field.type === 'hex' ? value.toString(16).toUpperCase() : String(value));
  }
  const body = Buffer.from(parts.join(layout.separator), 'latin1');
  const kind = layout.checksum.kind;
  const tail =
    kind === 'none'
      ? layout.end
      : `${layout.checksum.mark}${hexDigits(checksumOf(kind, body), checksumBytes(kind) * 2)}${layout.end}`;
  return Buffer.concat([Buffer.from(layout.start, 'latin1'), body, Buffer.from(tail, 'latin1')]);
}

function hexDigit(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

type ParseResult =
  | { frame: AsciiFrame }
  | { syntax: string }
  | { checksum: { got: string; expected: string } };

/** Parses one candidate frame held in `bytes` (first byte the start mark, ending with the end mark). */
export function parseAsciiFrame(bytes: Uint8Array, layout: AsciiLayout = DOORSTEP_ASCII): ParseResult {
  const n = bytes.length;
  const end = layout.end;
  const kind = layout.checksum.kind;
  const digits = checksumBytes(kind) * 2;
  const tailText = kind === 'none' ? end : `${layout.checksum.mark}${'C'.repeat(digits)}`;
  const printable = JSON.stringify(end).slice(1, -1);
  if (n < 1 + end.length + (kind === 'none' ? 0 : digits + 1))
    return { syntax: `frame does not end with ${kind === 'none' ? printable : `${tailText}${printable}`}` };
  for (let i = 0; i < end.length; i++)
    if (bytes[n - end.length + i] !== end.charCodeAt(i))
      return { syntax: `frame does not end with ${kind === 'none' ? printable : `${tailText}${printable}`}` };
  let bodyEnd = n - end.length;
  if (kind !== 'none') {
    const mark = bodyEnd - digits - 1;
    if (bytes[mark] !== layout.checksum.mark.charCodeAt(0))
      return { syntax: `no ${tailText} before the end of the frame` };
    let got = 0;
    for (let i = mark + 1; i < bodyEnd; i++) {
      const d = hexDigit(bytes[i]!);
      if (d < 0) return { syntax: `checksum is not ${digits} hex digits` };
      got = (got << 4) | d;
    }
    const expected = checksumOf(kind, bytes, 1, mark);
    if (got !== expected)
      return { checksum: { got: hexDigits(got, digits), expected: hexDigits(expected, digits) } };
    bodyEnd = mark;
  }

  const texts = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bodyEnd - 1)
    .toString('latin1')
    .split(layout.separator);
  const required = layout.fields.filter((f) => !f.optional).length;
  const total = layout.fields.length;
  if (texts.length < required || texts.length > total) {
    return {
      syntax:
        `${texts.length} field(s), expected ${required === total ? required : `${required} to ${total}`}`.replace(
          `${required} to ${required + 1}`,
          `${required} or ${required + 1}`,
        ),
    };
  }
  const frame: Record<string, unknown> = { format: 'ascii' };
  const others: Record<string, number | string> = {};
  for (let i = 0; i < texts.length; i++) {
    const field = layout.fields[i]!;
    const text = texts[i]!;
    const { pattern, what } = PATTERNS[field.type];
    if (!pattern.test(text)) return { syntax: `field ${field.name} "${text.slice(0, 16)}" is not ${what}` };
    let value: number | string = text;
    if (field.type !== 'alnum') {
      value = field.type === 'hex' ? Number.parseInt(text, 16) : Number(text);
      const [min, max] = rangeOf(field);
      if (value < min || value > max) return { syntax: `field ${field.name} ${value} is out of range` };
    }
    if (
      (FRAME_ROLES as readonly string[]).includes(field.name) ||
      field.name === 'host' ||
      field.name === 'channel'
    )
      frame[PROPERTY[field.name] ?? field.name] = value;
    else others[field.name] = value;
  }
  if (Object.keys(others).length > 0) frame.fields = others;
  return { frame: frame as unknown as AsciiFrame };
}

export interface AsciiDecoderOptions {
  /** Link name for error messages. */
  link?: string;
  /** Longest frame kept, start to end mark; longer ones are discarded as overflow (default: the layout's). */
  maxFrameBytes?: number | undefined;
  /** The frame layout (default: doorstep's). */
  layout?: AsciiLayout | undefined;
}

/**
 * Incremental ASCII decoder. Written by hand rather than on @serialport/parser-delimiter because
 * DelimiterParser buffers without bound on a stream with no `\r\n` and cannot resynchronise on
 * `$`; here the partial frame lives in one fixed buffer of `maxFrameBytes`, and a `$` always
 * starts a new frame (it cannot occur inside one), so a torn frame never hides the next.
 */
export class AsciiFrameDecoder implements FrameDecoder<AsciiFrame> {
  readonly format = 'ascii' as const;
  private readonly ledger: DiscardLedger;
  private readonly cap: number;
  private readonly partial: Buffer;
  private length = 0; // bytes of `partial` in use; 0 = scanning for the start mark
  private readonly layout: AsciiLayout;
  private readonly startByte: number;
  private readonly endBytes: Buffer;

  constructor(options: AsciiDecoderOptions = {}) {
    this.layout = options.layout ?? DOORSTEP_ASCII;
    this.startByte = this.layout.start.charCodeAt(0);
    this.endBytes = Buffer.from(this.layout.end, 'latin1');
    this.cap = options.maxFrameBytes ?? this.layout.maxFrameBytes ?? ASCII_DEFAULT_MAX_FRAME_BYTES;
    this.ledger = new DiscardLedger(options.link ?? 'ascii');
    this.partial = Buffer.alloc(this.cap);
  }

  get bufferedBytes(): number {
    return this.length;
  }

  onDiscard(listener: (discard: Discard) => void): () => void {
    return this.ledger.onDiscard(listener);
  }

  stats(): DecoderStats {
    return { ...this.ledger.counts };
  }

  reset(): void {
    this.length = 0;
  }

  push(chunk: Uint8Array): AsciiFrame[] {
    const frames: AsciiFrame[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.length === 0) {
        const start = chunk.indexOf(this.startByte, i);
        const end = start < 0 ? chunk.length : start;
        if (end > i) this.ledger.garbage(end - i);
        if (start < 0) break;
        this.ledger.endGarbageRun();
        this.partial[0] = this.startByte;
        this.length = 1;
        i = start + 1;
        continue;
      }
      const byte = chunk[i]!;
      if (byte === this.startByte) {
        this.ledger.syntax(this.length, `frame interrupted by a new ${this.layout.start}`);
        this.length = 1; // the new `$` starts the next frame
      } else if (this.length >= this.cap) {
        this.ledger.overflow(this.length + 1, this.cap);
        this.length = 0;
      } else {
        this.partial[this.length++] = byte;
        if (byte === this.endBytes[this.endBytes.length - 1] && this.endsWithEnd()) this.complete(frames);
      }
      i++;
    }
    this.ledger.endGarbageRun();
    return frames;
  }

  /** The link fell idle: a partial frame will not be completed. */
  flush(): AsciiFrame[] {
    if (this.length > 0) this.ledger.syntax(this.length, 'frame truncated (link idle)');
    this.length = 0;
    return [];
  }

  private endsWithEnd(): boolean {
    const k = this.endBytes.length;
    if (this.length < k + 1) return false;
    // A two-byte end mark ("\r\n"): an LF alone still ends the frame, as a syntax problem.
    return k === 1 || this.partial[this.length - 1] === this.endBytes[k - 1];
  }

  private complete(frames: AsciiFrame[]): void {
    const bytes = this.partial.subarray(0, this.length);
    const result = parseAsciiFrame(bytes, this.layout);
    if ('frame' in result) {
      this.ledger.counts.frames++;
      frames.push(result.frame);
    } else if ('checksum' in result) {
      this.ledger.checksum(bytes.length, result.checksum.got, result.checksum.expected);
    } else {
      this.ledger.syntax(bytes.length, result.syntax);
    }
    this.length = 0;
  }
}
