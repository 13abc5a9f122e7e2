import type { FaultDecision } from './faults.js';
import { exceptionPdu, executePdu } from './pdu.js';
import type { SimUnit } from './unit.js';

/** Frames a reply PDU for the transport: RTU adds unit + CRC, TCP adds the MBAP header. */
export type FrameBuilder = (unitId: number, pdu: Buffer, invertCrc: boolean) => Buffer;

export interface RenderedReply {
  /** Bytes to put on the wire, or undefined for no reply (silence fault). */
  bytes: Buffer | undefined;
  /** Extra delay from the slow fault. */
  delayMs: number;
  decision: FaultDecision;
}

/**
 * Answers one request addressed to `unit` through its faults — the part RTU and TCP share.
 * Silence and exception faults stand for a device that did not hear or refused the request, so
 * the request is not executed; every other fault corrupts a reply to a request that was executed.
 */
export function renderReply(
  unit: SimUnit,
  pdu: Buffer,
  transport: 'rtu' | 'tcp',
  frame: FrameBuilder,
  /** Unit id a correct reply carries; a TCP server answering every unit id echoes the request's. */
  replyUnitId: number = unit.unitId,
): RenderedReply {
  unit.counters.requests++;
  const decision = unit.faults.decide({ unitId: unit.unitId, transport });
  if (decision.silence) return { bytes: undefined, delayMs: 0, decision };
  const replyPdu =
    decision.exceptionCode !== undefined
      ? exceptionPdu(pdu[0] ?? 0, decision.exceptionCode)
      : executePdu(unit.bank, unit.identity, pdu);
  if (replyPdu === undefined) return { bytes: undefined, delayMs: 0, decision };
  unit.counters.replies++;
  if ((replyPdu[0]! & 0x80) !== 0) unit.counters.exceptions++;
  let bytes = frame(decision.wrongUnitId ?? replyUnitId, replyPdu, decision.badCrc);
  if (decision.dropBytes > 0) bytes = bytes.subarray(0, Math.max(1, bytes.length - decision.dropBytes));
  if (decision.garbage) {
    bytes =
      decision.garbage.placement === 'before'
        ? Buffer.concat([decision.garbage.bytes, bytes])
        : decision.garbage.bytes;
  }
  return { bytes, delayMs: decision.delayMs, decision };
}
