/**
 * Modbus TCP master over a Link (MBAP header, Modbus Messaging on TCP/IP Implementation Guide
 * v1.0b §3.1.3). Written here rather than taken from modbus-serial so that replies are matched by
 * transaction id and a reply to a timed-out transaction is discarded, never handed to the next
 * request, and so that truncated, malformed and wrong-unit replies keep their own error codes.
 * A reply with the right transaction id must also come from the unit asked and answer the request
 * (function code, byte count, echoed fields), else it is discarded with DRV_ERR_UNIT_MISMATCH or
 * DRV_ERR_REPLY_MISMATCH; a reply to a timed-out transaction is discarded and counted as late,
 * with its turnaround.
 */

import { type Logger, silentLogger } from '../../common/log.js';
import { DoorstepError } from '../../protocol/errors.js';
import type { Link } from '../link/types.js';
import { type Clock, systemClock } from './clock.js';
import { MasterBase } from './master.js';
import { decodeReply, type ModbusRequest, type ModbusResponse, replyMismatch } from './pdu.js';

export interface TcpMasterOptions {
  defaultTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
}

interface Pending {
  unitId: number;
  request: ModbusRequest;
  target: string;
  timeoutMs: number;
  settle(error: unknown, reply?: ModbusResponse): void;
}

const MBAP_HEADER = 7; // transaction id (2), protocol id (2), length (2), unit id (1)
const MAX_MBAP_LENGTH = 254; // unit id + PDU of at most 253 bytes (MBAP v1.1b3 §4.1)
/** Timed-out transactions remembered so that their late replies can be measured. */
const TIMED_OUT_REMEMBERED = 64;

export class TcpMaster extends MasterBase {
  protected readonly unitRange = [0, 255] as const;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private rx: Buffer = Buffer.alloc(0);
  private nextTransactionId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly unsubscribe: Array<() => void>;
  /** Replies whose transaction had already timed out (or was never ours), discarded. */
  staleReplies = 0;
  /** Replies with the right transaction id that answered something else (unit, function, byte count, echo). */
  rejectedReplies = 0;
  private readonly timedOut = new Map<number, { unitId: number; sentAt: number; timeoutMs: number }>();

  constructor(link: Link, options: TcpMasterOptions = {}) {
    super(link, options.defaultTimeoutMs ?? 1000);
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger()).child({ link: link.name });
    this.unsubscribe = [
      link.onData((chunk) => this.receive(chunk)),
      link.onClose((error) => {
        this.rx = Buffer.alloc(0);
        const reason =
          error ??
          new DoorstepError('DRV_ERR_LINK_DOWN', { link: link.name, reason: 'closed during a request' });
        for (const pending of [...this.pending.values()]) pending.settle(reason);
      }),
    ];
  }

  dispose(): void {
    for (const off of this.unsubscribe) off();
    for (const pending of [...this.pending.values()]) {
      pending.settle(
        new DoorstepError('DRV_ERR_CANCELLED', { target: pending.target, reason: 'master disposed' }),
      );
    }
  }

  protected transact(
    unitId: number,
    request: ModbusRequest,
    pdu: Buffer,
    timeoutMs: number,
  ): Promise<ModbusResponse> {
    const transactionId = this.nextTransactionId;
    this.nextTransactionId = (this.nextTransactionId + 1) & 0xffff;
    const target = `${this.link.name}#${unitId}`;
    const header = Buffer.alloc(MBAP_HEADER);
    header.writeUInt16BE(transactionId, 0);
    header.writeUInt16BE(0, 2); // protocol id 0 = Modbus
    header.writeUInt16BE(pdu.length + 1, 4);
    header.writeUInt8(unitId, 6);
    const sentAt = this.clock.now();
    return new Promise<ModbusResponse>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.timedOut.set(transactionId, { unitId, sentAt, timeoutMs });
        if (this.timedOut.size > TIMED_OUT_REMEMBERED) {
          this.timedOut.delete(this.timedOut.keys().next().value!);
        }
        const partial = this.partialFrameFor(transactionId);
        // A frame still incomplete after the whole timeout will not be completed sensibly: drop it so
        // its tail cannot be read as the start of the next reply.
        this.rx = Buffer.alloc(0);
        pending.settle(
          partial
            ? new DoorstepError('DRV_ERR_SHORT_FRAME', {
                target,
                got: partial.got,
                expected: partial.expected,
              })
            : new DoorstepError('DRV_ERR_TIMEOUT', { target, timeoutMs }),
        );
      }, timeoutMs);
      const pending: Pending = {
        unitId,
        request,
        target,
        timeoutMs,
        settle: (error, reply) => {
          if (this.pending.get(transactionId) !== pending) return;
          this.pending.delete(transactionId); // a later reply with this id is now stale
          this.clock.clearTimeout(timer);
          if (error) reject(error);
          else resolve(reply!);
        },
      };
      this.pending.set(transactionId, pending);
      this.link.write(Buffer.concat([header, pdu])).catch((error) => pending.settle(error));
    });
  }

  private partialFrameFor(transactionId: number): { got: number; expected: number } | undefined {
    if (this.rx.length < 2 || this.rx.readUInt16BE(0) !== transactionId) return undefined;
    const expected = this.rx.length >= 6 ? MBAP_HEADER - 1 + this.rx.readUInt16BE(4) : MBAP_HEADER;
    return { got: this.rx.length, expected };
  }

  private receive(chunk: Buffer): void {
    this.rx = this.rx.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.rx, chunk]);
    while (this.rx.length >= MBAP_HEADER) {
      const transactionId = this.rx.readUInt16BE(0);
      const protocolId = this.rx.readUInt16BE(2);
      const length = this.rx.readUInt16BE(4);
      if (protocolId !== 0 || length < 2 || length > MAX_MBAP_LENGTH) {
        // The stream is out of step; nothing after this point can be trusted until the next request.
        const reason = `MBAP header protocol ${protocolId}, length ${length}`;
        this.logger.warn({ reason }, 'discarding unsynchronised TCP stream');
        this.rx = Buffer.alloc(0);
        for (const pending of [...this.pending.values()]) {
          pending.settle(new DoorstepError('DRV_ERR_BAD_REPLY', { target: pending.target, reason }));
        }
        return;
      }
      const frameLength = MBAP_HEADER - 1 + length;
      if (this.rx.length < frameLength) return;
      const frame = this.rx.subarray(0, frameLength);
      this.rx = Buffer.from(this.rx.subarray(frameLength));
      const pending = this.pending.get(transactionId);
      if (!pending) {
        this.staleReplies++;
        const late = this.timedOut.get(transactionId);
        this.timedOut.delete(transactionId);
        this.emitReplyEvent(
          late
            ? {
                kind: 'late',
                unitId: late.unitId,
                turnaroundMs: Math.round(this.clock.now() - late.sentAt),
                timeoutMs: late.timeoutMs,
              }
            : { kind: 'late', unitId: frame[6]! },
        );
        continue;
      }
      const pdu = frame.subarray(MBAP_HEADER);
      const mismatch =
        frame[6] !== pending.unitId
          ? new DoorstepError('DRV_ERR_UNIT_MISMATCH', {
              target: pending.target,
              got: frame[6],
              expected: pending.unitId,
            })
          : pdu.length >= 1 && replyMismatch(pending.request, pdu) !== undefined
            ? new DoorstepError('DRV_ERR_REPLY_MISMATCH', {
                target: pending.target,
                reason: replyMismatch(pending.request, pdu)!,
              })
            : undefined;
      if (mismatch) {
        // The transaction id says this was meant as the answer: the device answered wrongly.
        this.rejectedReplies++;
        this.emitReplyEvent({
          kind: 'rejected',
          unitId: pending.unitId,
          code: mismatch.code,
          reason: mismatch.message,
        });
        pending.settle(mismatch);
        continue;
      }
      try {
        pending.settle(
          undefined,
          decodeReply(pending.request, Buffer.from(frame.subarray(MBAP_HEADER)), pending.target),
        );
      } catch (error) {
        pending.settle(error);
      }
    }
  }
}
