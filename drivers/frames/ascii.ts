import { DiscardLedger } from './discards.js';
import type { AsciiFrame, DecoderStats, Discard, FrameDecoder } from './types.js';

/**
 * ASCII receiver frame, doorstep layout (README.md "ASCII frame"):
 *   $<host>,<channel>,<detector>,<state>,<battery %>,<rssi dBm>[,<value>]*CS\r\n
 * CS = sum of every byte strictly between `$` and `*`, mod 256, as two hex digits (either case
 * accepted, upper case emitted) — the usual checksum of 433 MHz / LoRa concentrators (see
 * docs/standards.md "How sensors reach a gateway").
 */
const DOLLAR = 0x24;
const STAR = 0x2a;
const CR = 0x0d;
const LF = 0x0a;

/** Seven fields of at most 11 characters, six commas and `$*CS\r\n` fit in 96; the cap leaves room. */
export const ASCII_DEFAULT_MAX_FRAME_BYTES = 128;

const UNSIGNED = /^\d{1,10}$/;
const SIGNED = /^-?\d{1,10}$/;

interface FieldRule {
  name: keyof Omit<AsciiFrame, 'format'>;
  pattern: RegExp;
  min: number;
  max: number;
}

const FIELDS: readonly FieldRule[] = [
  { name: 'host', pattern: UNSIGNED, min: 0, max: 0xffffffff },
  { name: 'channel', pattern: UNSIGNED, min: 0, max: 0xffffffff },
  { name: 'detector', pattern: UNSIGNED, min: 0, max: 0xffffffff },
  { name: 'state', pattern: UNSIGNED, min: 0, max: 0xff },
  { name: 'battery', pattern: UNSIGNED, min: 0, max: 0xff },
  { name: 'rssi', pattern: SIGNED, min: -255, max: 255 },
  { name: 'value', pattern: SIGNED, min: -0x80000000, max: 0x7fffffff },
];

/** Byte sum mod 256 of `bytes[start, end)`. */
export function asciiChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + bytes[i]!) & 0xff;
  return sum;
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

/** Encodes one frame; throws RangeError for a field that is not an integer in its range. */
export function encodeAsciiFrame(frame: Omit<AsciiFrame, 'format'>): Buffer {
  const parts: string[] = [];
  for (const rule of FIELDS) {
    const value = frame[rule.name];
    if (value === undefined && rule.name === 'value') continue;
    if (!Number.isInteger(value) || (value as number) < rule.min || (value as number) > rule.max) {
      throw new RangeError(`ASCII frame field ${rule.name} must be an integer in ${rule.min}..${rule.max}`);
    }
    parts.push(String(value));
  }
  const body = Buffer.from(parts.join(','), 'latin1');
  return Buffer.concat([Buffer.from('$'), body, Buffer.from(`*${hex2(asciiChecksum(body))}\r\n`, 'latin1')]);
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

/** Parses one candidate `$…\n` held in `bytes` (first byte `$`, last byte LF). */
export function parseAsciiFrame(bytes: Uint8Array): ParseResult {
  const n = bytes.length;
  if (n < 6 || bytes[n - 2] !== CR) return { syntax: 'frame does not end with *CS\\r\\n' };
  const star = n - 5;
  if (bytes[star] !== STAR) return { syntax: 'no *CS before the line end' };
  const high = hexDigit(bytes[n - 4]!);
  const low = hexDigit(bytes[n - 3]!);
  if (high < 0 || low < 0) return { syntax: 'checksum is not two hex digits' };
  const got = (high << 4) | low;
  const expected = asciiChecksum(bytes, 1, star);
  if (got !== expected) return { checksum: { got: hex2(got), expected: hex2(expected) } };

  const fields = Buffer.from(bytes.buffer, bytes.byteOffset + 1, star - 1)
    .toString('latin1')
    .split(',');
  if (fields.length !== 6 && fields.length !== 7) {
    return { syntax: `${fields.length} field(s), expected 6 or 7` };
  }
  const frame: Record<string, number> = {};
  for (let i = 0; i < fields.length; i++) {
    const rule = FIELDS[i]!;
    const text = fields[i]!;
    if (!rule.pattern.test(text))
      return { syntax: `field ${rule.name} "${text.slice(0, 16)}" is not an integer` };
    const value = Number(text);
    if (value < rule.min || value > rule.max)
      return { syntax: `field ${rule.name} ${value} is out of range` };
    frame[rule.name] = value;
  }
  return { frame: { format: 'ascii', ...(frame as Omit<AsciiFrame, 'format'>) } };
}

export interface AsciiDecoderOptions {
  /** Link name for error messages. */
  link?: string;
  /** Longest frame kept, `$` to LF; longer ones are discarded as overflow. */
  maxFrameBytes?: number;
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
  private length = 0; // bytes of `partial` in use; 0 = scanning for `$`

  constructor(options: AsciiDecoderOptions = {}) {
    this.cap = options.maxFrameBytes ?? ASCII_DEFAULT_MAX_FRAME_BYTES;
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
        const start = chunk.indexOf(DOLLAR, i);
        const end = start < 0 ? chunk.length : start;
        if (end > i) this.ledger.garbage(end - i);
        if (start < 0) break;
        this.ledger.endGarbageRun();
        this.partial[0] = DOLLAR;
        this.length = 1;
        i = start + 1;
        continue;
      }
      const byte = chunk[i]!;
      if (byte === DOLLAR) {
        this.ledger.syntax(this.length, 'frame interrupted by a new $');
        this.length = 1; // the new `$` starts the next frame
      } else if (this.length >= this.cap) {
        this.ledger.overflow(this.length + 1, this.cap);
        this.length = 0;
      } else {
        this.partial[this.length++] = byte;
        if (byte === LF) this.complete(frames);
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

  private complete(frames: AsciiFrame[]): void {
    const bytes = this.partial.subarray(0, this.length);
    const result = parseAsciiFrame(bytes);
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
