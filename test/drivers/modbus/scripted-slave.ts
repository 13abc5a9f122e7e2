import type { MemoryLink } from '../../../drivers/link/memory.js';
import { withCrc } from '../../../drivers/modbus/crc16.js';

/** A request as the scripted slave saw it. */
export interface SeenRequest {
  unitId: number;
  pdu: Buffer;
  /** MBAP transaction id (TCP only). */
  transactionId?: number;
}

/** What the script answers: bytes to send (already framed unless `frame` is used), when, and in how many pieces. */
export interface ScriptedReply {
  bytes: Buffer;
  delayMs?: number;
  /** Split the reply into pieces sent `pieceGapMs` apart (default one piece). */
  pieces?: number;
  pieceGapMs?: number;
}

/** Length of an RTU request frame from its first bytes (requests only; test helper). */
function rtuRequestLength(buffer: Buffer): number | undefined {
  if (buffer.length < 2) return undefined;
  const fc = buffer[1]!;
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 0x0f || fc === 0x10) return buffer.length < 7 ? undefined : 9 + buffer[6]!;
  if (fc === 0x2b) return 7;
  return buffer.length; // unknown: take what came
}

function send(link: MemoryLink, reply: ScriptedReply): void {
  const pieces = Math.max(1, reply.pieces ?? 1);
  const size = Math.ceil(reply.bytes.length / pieces);
  const start = reply.delayMs ?? 0;
  for (let i = 0; i < pieces; i++) {
    const piece = reply.bytes.subarray(i * size, (i + 1) * size);
    if (piece.length === 0) continue;
    setTimeout(
      () => {
        if (link.isOpen) link.write(piece).catch(() => undefined);
      },
      start + i * (reply.pieceGapMs ?? 0),
    );
  }
}

/**
 * A byte-level RTU slave written for the tests: it frames requests, checks nothing, and lets the
 * test script answer each one with any bytes (good, bad CRC, wrong unit, truncated, late…).
 */
export function scriptRtuSlave(
  link: MemoryLink,
  script: (request: SeenRequest, index: number) => ScriptedReply | undefined,
): { seen: SeenRequest[] } {
  const seen: SeenRequest[] = [];
  let buffer = Buffer.alloc(0);
  link.onData((chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const length = rtuRequestLength(buffer);
      if (length === undefined || buffer.length < length) return;
      const frame = buffer.subarray(0, length);
      buffer = Buffer.from(buffer.subarray(length));
      const request = { unitId: frame[0]!, pdu: Buffer.from(frame.subarray(1, frame.length - 2)) };
      seen.push(request);
      const reply = script(request, seen.length - 1);
      if (reply) send(link, reply);
    }
  });
  return { seen };
}

/** The same for Modbus TCP: frames requests by MBAP length; `mbap()` builds replies. */
export function scriptTcpSlave(
  link: MemoryLink,
  script: (request: SeenRequest, index: number) => ScriptedReply | undefined,
): { seen: SeenRequest[] } {
  const seen: SeenRequest[] = [];
  let buffer = Buffer.alloc(0);
  link.onData((chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 7) {
      const length = 6 + buffer.readUInt16BE(4);
      if (buffer.length < length) return;
      const frame = buffer.subarray(0, length);
      buffer = Buffer.from(buffer.subarray(length));
      const request = {
        transactionId: frame.readUInt16BE(0),
        unitId: frame[6]!,
        pdu: Buffer.from(frame.subarray(7)),
      };
      seen.push(request);
      const reply = script(request, seen.length - 1);
      if (reply) send(link, reply);
    }
  });
  return { seen };
}

/** An RTU frame: unit + PDU + CRC. */
export function rtu(unitId: number, pdu: number[] | Buffer): Buffer {
  return withCrc(Buffer.concat([Buffer.from([unitId]), Buffer.from(pdu)]));
}

/** An MBAP frame. */
export function mbap(transactionId: number, unitId: number, pdu: number[] | Buffer): Buffer {
  const body = Buffer.from(pdu);
  const header = Buffer.alloc(7);
  header.writeUInt16BE(transactionId, 0);
  header.writeUInt16BE(0, 2);
  header.writeUInt16BE(body.length + 1, 4);
  header.writeUInt8(unitId, 6);
  return Buffer.concat([header, body]);
}

/** A register-read reply PDU (function 3 or 4). */
export function registersPdu(fc: number, values: number[]): Buffer {
  const pdu = Buffer.alloc(2 + values.length * 2);
  pdu[0] = fc;
  pdu[1] = values.length * 2;
  for (const [i, v] of values.entries()) pdu.writeUInt16BE(v, 2 + i * 2);
  return pdu;
}
