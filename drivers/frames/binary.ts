import { crc16Modbus } from '../modbus/crc16.js';
import { DiscardLedger } from './discards.js';
import {
  BINARY_FIELD_BYTES,
  type BinaryLayout,
  checksumBytes,
  checksumOf,
  DOORSTEP_BINARY,
  FRAME_ROLES,
} from './layout.js';
import type { BinaryFrame, DecoderStats, Discard, FrameDecoder } from './types.js';

/**
 * Binary receiver frame (README.md "Binary frame"):
 *   A5 | addr hi | addr lo | len | payload[len] | crc lo | crc hi
 * CRC-16/MODBUS over addr..payload, low byte first (as in Modbus over serial line v1.02 §2.5.1.2).
 * doorstep payload: [detector type u8][state u8][battery % u8][rssi int8][value int16 BE]?
 */
export const BINARY_START = 0xa5;
const HEADER_BYTES = 4; // start, address (2), length
const CRC_BYTES = 2;
export const BINARY_PAYLOAD_SHORT = 4;
export const BINARY_PAYLOAD_WITH_VALUE = 6;
/** Longest doorstep frame: header, 6-byte payload, CRC. */
export const BINARY_MAX_FRAME_BYTES = HEADER_BYTES + BINARY_PAYLOAD_WITH_VALUE + CRC_BYTES;

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}

function checkByte(name: string, value: number | undefined, min: number, max: number): number {
  if (value === undefined || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`binary frame field ${name} must be an integer in ${min}..${max}`);
  }
  return value;
}

/** Encodes one frame; throws RangeError for a field out of its wire range. */
export function encodeBinaryFrame(frame: Omit<BinaryFrame, 'format'>): Buffer {
  const hasValue = frame.value !== undefined;
  const length = hasValue ? BINARY_PAYLOAD_WITH_VALUE : BINARY_PAYLOAD_SHORT;
  const out = Buffer.alloc(HEADER_BYTES + length + CRC_BYTES);
  out[0] = BINARY_START;
  out.writeUInt16BE(checkByte('detector', frame.detector, 0, 0xffff), 1);
  out[3] = length;
  out[4] = checkByte('detectorType', frame.detectorType, 0, 0xff);
  out[5] = checkByte('state', frame.state, 0, 0xff);
  out[6] = checkByte('battery', frame.battery, 0, 0xff);
  out.writeInt8(checkByte('rssi', frame.rssi, -128, 127), 7);
  if (hasValue) out.writeInt16BE(checkByte('value', frame.value, -32768, 32767), 8);
  out.writeUInt16LE(crc16Modbus(out, 1, HEADER_BYTES + length), HEADER_BYTES + length);
  return out;
}

export interface BinaryDecoderOptions {
  /** Link name for error messages. */
  link?: string;
  /** The frame layout (default: doorstep's, above). */
  layout?: BinaryLayout | undefined;
}

/**
 * Incremental binary decoder. Not built on @serialport/parser-packet-length: that parser trusts
 * the first length byte it sees and on a bad CRC would drop the whole candidate, losing a real
 * frame that starts inside a false one. Here a false start (a 0xA5 in noise) costs one byte: on a
 * bad CRC or an impossible length the scan resumes one byte after it.
 *
 * The length cap is the doorstep layout itself (4 or 6 payload bytes), checked before waiting
 * for the payload: a generous cap would let a false start with length 200 hold back a fire alarm
 * behind it until 200 more bytes arrive, which on a quiet radio may be never.
 */
export class BinaryFrameDecoder implements FrameDecoder<BinaryFrame> {
  readonly format = 'binary' as const;
  private readonly ledger: DiscardLedger;
  private held: Buffer = Buffer.alloc(0); // from a start byte on; shorter than one whole frame
  private readonly layout: BinaryLayout;
  private readonly maxLength: number;
  private readonly crcBytes: number;

  constructor(options: BinaryDecoderOptions = {}) {
    this.ledger = new DiscardLedger(options.link ?? 'binary');
    this.layout = options.layout ?? DOORSTEP_BINARY;
    this.maxLength = Math.max(...this.layout.length.allowed);
    this.crcBytes = checksumBytes(this.layout.crc.kind);
  }

  get bufferedBytes(): number {
    return this.held.length;
  }

  onDiscard(listener: (discard: Discard) => void): () => void {
    return this.ledger.onDiscard(listener);
  }

  stats(): DecoderStats {
    return { ...this.ledger.counts };
  }

  reset(): void {
    this.held = Buffer.alloc(0);
  }

  push(chunk: Uint8Array): BinaryFrame[] {
    const data =
      this.held.length === 0
        ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        : Buffer.concat([this.held, chunk]);
    return this.scan(data, false);
  }

  flush(): BinaryFrame[] {
    const data = this.held;
    this.held = Buffer.alloc(0);
    return this.scan(data, true);
  }

  /**
   * Decodes every frame in `data`. With `idle`, an incomplete candidate at the end is a false
   * start or a torn frame: its start byte is dropped and the scan goes on behind it.
   */
  private scan(data: Buffer, idle: boolean): BinaryFrame[] {
    const frames: BinaryFrame[] = [];
    const { start, header, length: lengthSpec, crc } = this.layout;
    const first = start[0]!;
    let i = 0;
    while (i < data.length) {
      if (data[i] !== first) {
        const next = data.indexOf(first, i);
        const end = next < 0 ? data.length : next;
        this.ledger.garbage(end - i);
        i = end;
        continue;
      }
      this.ledger.endGarbageRun();
      const available = data.length - i;
      if (start.length > 1 && available >= 2 && data[i + 1] !== start[1]) {
        this.ledger.garbage(1);
        i++;
        continue;
      }
      const length = available > lengthSpec.offset ? data[i + lengthSpec.offset]! : -1;
      if (length >= 0 && !lengthSpec.allowed.includes(length)) {
        if (length > this.maxLength) this.ledger.overflow(1, header + this.maxLength + this.crcBytes);
        else this.ledger.syntax(1, `payload length ${length}, expected ${lengthSpec.allowed.join(' or ')}`);
        i++;
        continue;
      }
      const total = header + length + this.crcBytes;
      if (length < 0 || available < total) {
        if (!idle) break;
        this.ledger.syntax(1, 'frame truncated (link idle)');
        i++;
        continue;
      }
      const crcAt = i + header + length;
      const expected = checksumOf(crc.kind, data, i + crc.from, crcAt);
      const got =
        this.crcBytes === 1
          ? data[crcAt]!
          : crc.endian === 'little'
            ? data.readUInt16LE(crcAt)
            : data.readUInt16BE(crcAt);
      if (got !== expected) {
        this.ledger.checksum(1, hex4(got), hex4(expected));
        i++;
        continue;
      }
      const frame = decodeFields(this.layout, data, i, header + length);
      if (typeof frame === 'string') {
        this.ledger.syntax(1, frame);
        i++;
        continue;
      }
      this.ledger.counts.frames++;
      frames.push(frame);
      i += total;
    }
    this.ledger.endGarbageRun();
    // Copy: `data` may be the caller's chunk or a large concat; hold only the short tail.
    this.held = i < data.length ? Buffer.from(data.subarray(i)) : Buffer.alloc(0);
    return frames;
  }
}

function readField(data: Buffer, at: number, type: keyof typeof BINARY_FIELD_BYTES, little: boolean): number {
  switch (type) {
    case 'uint8':
      return data.readUInt8(at);
    case 'int8':
      return data.readInt8(at);
    case 'uint16':
      return little ? data.readUInt16LE(at) : data.readUInt16BE(at);
    case 'int16':
      return little ? data.readInt16LE(at) : data.readInt16BE(at);
    case 'uint32':
      return little ? data.readUInt32LE(at) : data.readUInt32BE(at);
    case 'int32':
      return little ? data.readInt32LE(at) : data.readInt32BE(at);
  }
}

const PROPERTY: Record<string, string> = { detector_type: 'detectorType' };

/** The frame's fields by layout; `bytes` = header + payload. Fields past the payload are absent. */
function decodeFields(
  layout: BinaryLayout,
  data: Buffer,
  start: number,
  bytes: number,
): BinaryFrame | string {
  const frame: Record<string, unknown> = { format: 'binary' };
  const others: Record<string, number> = {};
  for (const f of layout.fields) {
    if (f.offset + BINARY_FIELD_BYTES[f.type] > bytes) {
      if (f.optional) continue;
      return `field ${f.name} lies past the payload`;
    }
    const value = readField(data, start + f.offset, f.type, f.endian === 'little');
    if ((FRAME_ROLES as readonly string[]).includes(f.name)) frame[PROPERTY[f.name] ?? f.name] = value;
    else others[f.name] = value;
  }
  if (Object.keys(others).length > 0) frame.fields = others;
  return frame as unknown as BinaryFrame;
}
