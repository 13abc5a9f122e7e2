import { crc16Modbus } from '../modbus/crc16.js';
import { DiscardLedger } from './discards.js';
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

  constructor(options: BinaryDecoderOptions = {}) {
    this.ledger = new DiscardLedger(options.link ?? 'binary');
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
    let i = 0;
    while (i < data.length) {
      if (data[i] !== BINARY_START) {
        const start = data.indexOf(BINARY_START, i);
        const end = start < 0 ? data.length : start;
        this.ledger.garbage(end - i);
        i = end;
        continue;
      }
      this.ledger.endGarbageRun();
      const available = data.length - i;
      const length = available >= HEADER_BYTES ? data[i + 3]! : -1;
      if (length >= 0 && length !== BINARY_PAYLOAD_SHORT && length !== BINARY_PAYLOAD_WITH_VALUE) {
        if (length > BINARY_PAYLOAD_WITH_VALUE) this.ledger.overflow(1, BINARY_MAX_FRAME_BYTES);
        else this.ledger.syntax(1, `payload length ${length}, expected 4 or 6`);
        i++;
        continue;
      }
      const total = HEADER_BYTES + length + CRC_BYTES;
      if (length < 0 || available < total) {
        if (!idle) break;
        this.ledger.syntax(1, 'frame truncated (link idle)');
        i++;
        continue;
      }
      const crcAt = i + HEADER_BYTES + length;
      const expected = crc16Modbus(data, i + 1, crcAt);
      const got = data.readUInt16LE(crcAt);
      if (got !== expected) {
        this.ledger.checksum(1, hex4(got), hex4(expected));
        i++;
        continue;
      }
      this.ledger.counts.frames++;
      frames.push(decodePayload(data, i, length));
      i += total;
    }
    this.ledger.endGarbageRun();
    // Copy: `data` may be the caller's chunk or a large concat; hold only the short tail.
    this.held = i < data.length ? Buffer.from(data.subarray(i)) : Buffer.alloc(0);
    return frames;
  }
}

function decodePayload(data: Buffer, start: number, length: number): BinaryFrame {
  const p = start + HEADER_BYTES;
  const frame: BinaryFrame = {
    format: 'binary',
    detector: data.readUInt16BE(start + 1),
    detectorType: data[p]!,
    state: data[p + 1]!,
    battery: data[p + 2]!,
    rssi: data.readInt8(p + 3),
  };
  if (length === BINARY_PAYLOAD_WITH_VALUE) frame.value = data.readInt16BE(p + 4);
  return frame;
}
