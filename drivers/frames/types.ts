import type { DoorstepError } from '../../protocol/errors.js';

/**
 * A frame from a wireless receiver on a UART, in doorstep's layout (see README.md). Both codecs
 * carry the same report of one detector: its state code, battery, signal and an optional value.
 */
export interface FrameReport {
  /** Detector address or id as the receiver reports it (a number, or an alphanumeric id such as "D017"). */
  detector: number | string;
  /** State byte: low 6 bits are the state code, bit 7 the detector's low-battery flag, bit 6 tamper. */
  state: number;
  /** Battery remaining, % (0–100 in a sane frame; profiles judge the range); absent when the layout has none. */
  battery?: number;
  /** Received signal strength, dBm; absent when the layout has none. */
  rssi?: number;
  /** Optional raw value, e.g. tilt in 0.1°; the profile gives its scale and unit. */
  value?: number;
}

/** `$<host>,<channel>,<detector>,<state>,<battery>,<rssi>[,<value>]*CS\r\n` */
export interface AsciiFrame extends FrameReport {
  format: 'ascii';
  /** Receiver (concentrator) id. */
  host?: number | string;
  /** Radio channel the receiver heard the detector on. */
  channel?: number | string;
  /** Detector type code, when the layout carries one. */
  detectorType?: number;
  /** Other fields the layout names (kept for the log). */
  fields?: Record<string, number | string>;
}

/** `A5 addr(u16 BE) len(u8) [type u8][state u8][battery u8][rssi i8][value i16 BE]? crc(LE)` */
export interface BinaryFrame extends FrameReport {
  format: 'binary';
  detector: number;
  /** Detector type code from the payload (README: 0x01 smoke, 0x02 door, 0x03 vehicle, 0x04 manhole). */
  detectorType?: number;
  /** Other fields the layout names (kept for the log). */
  fields?: Record<string, number>;
}

export type WirelessFrame = AsciiFrame | BinaryFrame;
export type FrameCodec = WirelessFrame['format'];

/** Why bytes were thrown away. `garbage` counts bytes outside any frame; the others count frames. */
export type DiscardReason = 'garbage' | 'checksum' | 'syntax' | 'overflow';

export interface Discard {
  reason: DiscardReason;
  /** Bytes thrown away by this discard. */
  bytes: number;
  /** DRV_ERR_FRAME_CHECKSUM for checksum discards, DRV_ERR_FRAME_SYNTAX for the rest. */
  error: DoorstepError;
}

export interface DecoderStats {
  frames: number;
  /** Bytes skipped while looking for a start byte. */
  garbageBytes: number;
  /** Frames (or false starts) discarded for a bad checksum / CRC. */
  checksum: number;
  /** Frames discarded for bad syntax (fields, terminator, payload layout, interrupted frame). */
  syntax: number;
  /** Frames discarded for exceeding the length cap. */
  overflow: number;
}

/** An incremental decoder: feed it chunks as they arrive, get whole frames back, in order. */
export interface FrameDecoder<F extends WirelessFrame = WirelessFrame> {
  readonly format: F['format'];
  /** Decodes what `chunk` completes; keeps an incomplete tail for the next call (bounded by the cap). */
  push(chunk: Uint8Array): F[];
  /**
   * The link fell idle, so a held partial frame will never complete. ASCII drops it; binary drops
   * the pending start byte and rescans what follows, which may hold whole frames (README "Idle flush").
   */
  flush(): F[];
  /** Listens to every discard; returns an unsubscribe function. */
  onDiscard(listener: (discard: Discard) => void): () => void;
  stats(): DecoderStats;
  /** Bytes held waiting for the rest of a frame; never exceeds the decoder's cap. */
  readonly bufferedBytes: number;
  /** Forgets any partial frame (e.g. after the link reopened). Counters are kept. */
  reset(): void;
}

export function emptyDecoderStats(): DecoderStats {
  return { frames: 0, garbageBytes: 0, checksum: 0, syntax: 0, overflow: 0 };
}

/** State byte layout shared by both codecs (README "State byte"). */
export const STATE_CODE_MASK = 0x3f;
export const STATE_FLAG_TAMPER = 0x40;
export const STATE_FLAG_LOW_BATTERY = 0x80;
