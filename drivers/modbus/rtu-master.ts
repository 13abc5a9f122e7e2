/**
 * Modbus RTU master over a Link. Framing is written here, not taken from modbus-serial, because
 * its RTU ports (a) split or merge frames by timing, (b) can match a late reply to the next
 * request after a timeout, and (c) report CRC, truncation and wrong-unit replies alike. Here:
 *  - a frame ends at the length its function code implies (exception form included), not by
 *    timing — ptys and USB adapters break inter-character timing anyway;
 *  - a reply is accepted only when it answers the request: unit id, function code (or its
 *    exception form), the byte count of the quantity asked and the echoed fields of a write must
 *    all match. Any other frame is discarded and counted, and the response timeout keeps running
 *    (Modbus over serial line v1.02 §2.4.1: a reply from an unexpected slave does not end it);
 *  - after a timeout the line stays closed for a late-reply guard (default the timeout again,
 *    never less than t3.5, longer for a unit already seen answering late); whatever arrives in it
 *    is discarded and counted as a late reply, with its turnaround when it fits the request;
 *  - a timed-out request stays "owed" for a horizon: a request of the same shape but other
 *    address to the same unit is held back until its late reply came or the horizon passed, since
 *    nothing in an RTU frame could tell the two replies apart (`heldUntil`);
 *  - CRC, unit id, exception, short frame, mismatch and malformed replies each have their own code.
 * Modbus over serial line v1.02 §2.4.1 (master states), §2.5.1 (RTU framing), §2.5.1.1 (t3.5),
 * §2.5.1.2 (CRC).
 */

import { type Logger, silentLogger } from '../../common/log.js';
import { DoorstepError } from '../../protocol/errors.js';
import type { Link, SerialSettings } from '../link/types.js';
import { silentIntervalMs, wireTimeMs } from '../link/types.js';
import { type Clock, delay, systemClock } from './clock.js';
import { hasValidCrc, withCrc } from './crc16.js';
import { MasterBase, type RequestOptions } from './master.js';
import {
  decodeReply,
  functionCodeOf,
  type ModbusRequest,
  type ModbusResponse,
  replyMismatch,
  replyPduLength,
  replyPduLengthOf,
} from './pdu.js';

export interface RtuMasterOptions {
  /** Line settings, for t3.5 and the request's own wire time (default 9600 8E1). */
  serial?: SerialSettings;
  /** Floor for the inter-frame gap: ptys and USB adapters add latency (default 2 ms). */
  minSilentMs?: number;
  /** Quiet time required after a failed transaction before the next request (default max(t3.5, 20 ms)). */
  flushQuietMs?: number;
  defaultTimeoutMs?: number;
  /** Late-reply guard for requests that do not name one (default: each request's timeout). */
  lateReplyGuardMs?: number;
  clock?: Clock;
  logger?: Logger;
}

interface Pending {
  unitId: number;
  request: ModbusRequest;
  target: string;
  timeoutMs: number;
  guardMs: number;
  /** When the request's last byte left the master (write time + its wire time). */
  requestEndAt: number;
  /** Full frame length once known from the function code. */
  expectedLength?: number;
  /** The last discarded frame's reason: what the transaction fails with if nothing better comes. */
  rejection?: DoorstepError;
  /** Settled by the timeout: the line gets the late-reply guard. */
  timedOut: boolean;
  /** No byte of its answer came: a late reply is still owed. */
  owed: boolean;
  settle(error: unknown, reply?: ModbusResponse): void;
}

/** A request that timed out: its reply may still come and must not answer another request. */
interface Owed {
  unitId: number;
  request: ModbusRequest;
  /** Function code and expected reply length: what a reply of the same shape would look like. */
  shape: string;
  requestEndAt: number;
  timeoutMs: number;
  expiresAt: number;
}

const RTU_UNIT_RANGE = [1, 247] as const; // serial line v1.02 §2.2: 0 is broadcast (no reply), 248–255 reserved
/**
 * How long after the request a timed-out request's late reply is still expected: 5 timeouts, and
 * never less than 1 s, because a USB adapter's latency or a loaded gateway can deliver a reply
 * well after the device sent it.
 */
const LATE_HORIZON_TIMEOUTS = 5;
const LATE_HORIZON_MIN_MS = 1000;
/** Quiet time before the first request on a newly opened line (see waitForLine). */
const START_QUIET_MS = 200;
/** Late turnarounds remembered per unit to size its guard. */
const LATE_SAMPLES = 8;

function shapeOf(request: ModbusRequest): string {
  const fc = functionCodeOf(request);
  switch (request.kind) {
    case 'read': {
      const bits = request.table === 'coil' || request.table === 'discrete';
      return `${fc}:${bits ? Math.ceil(request.count / 8) : request.count * 2}`;
    }
    case 'readDeviceIdentification':
      return `${fc}:devid`;
    default:
      return `${fc}:write`;
  }
}

function sameRequest(a: ModbusRequest, b: ModbusRequest): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class RtuMaster extends MasterBase {
  protected readonly unitRange = RTU_UNIT_RANGE;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly serial: SerialSettings;
  private readonly t35: number;
  private readonly silentMs: number;
  private readonly flushQuietMs: number;
  private readonly defaultGuardMs: number | undefined;
  private rx: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  private lastRxAt = Number.NEGATIVE_INFINITY;
  private needsFlush = false;
  /** End of the late-reply guard: no request goes out before it. */
  private closedUntil = Number.NEGATIVE_INFINITY;
  /** Whether the start-up quiet time has been kept (before the first request on this line). */
  private listened = false;
  private owed: Owed[] = [];
  /** Recent late turnarounds per unit id: a unit known to answer late gets a guard that covers it. */
  private readonly lateTurnarounds = new Map<number, number[]>();
  private silenceTimer: unknown;
  private readonly unsubscribe: Array<() => void>;
  /** Bytes that were neither an answer nor a recognisable frame (noise, partial frames), discarded. */
  discardedBytes = 0;
  /** Frames discarded as late replies to requests that had timed out (or arriving in the guard). */
  lateReplies = 0;
  /** CRC-valid frames discarded because they answered nothing this master asked. */
  rejectedReplies = 0;

  constructor(link: Link, options: RtuMasterOptions = {}) {
    super(link, options.defaultTimeoutMs ?? 1000);
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger()).child({ link: link.name });
    this.serial = options.serial ?? { baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 };
    this.t35 = silentIntervalMs(this.serial.baudRate);
    this.silentMs = Math.max(this.t35, options.minSilentMs ?? 2);
    this.flushQuietMs = options.flushQuietMs ?? Math.max(this.t35, 20);
    this.defaultGuardMs = options.lateReplyGuardMs;
    this.unsubscribe = [
      link.onData((chunk) => this.receive(chunk)),
      link.onClose((error) => {
        this.pending?.settle(
          error ??
            new DoorstepError('DRV_ERR_LINK_DOWN', { link: link.name, reason: 'closed during a request' }),
        );
      }),
    ];
  }

  dispose(): void {
    for (const off of this.unsubscribe) off();
    this.clock.clearTimeout(this.silenceTimer);
    this.pending?.settle(
      new DoorstepError('DRV_ERR_CANCELLED', { target: this.link.name, reason: 'master disposed' }),
    );
  }

  override heldUntil(unitId: number, request: ModbusRequest): number | undefined {
    this.pruneOwed();
    const shape = shapeOf(request);
    let until: number | undefined;
    for (const owed of this.owed) {
      if (owed.unitId !== unitId || owed.shape !== shape || sameRequest(owed.request, request)) continue;
      until = Math.max(until ?? 0, owed.expiresAt);
    }
    return until;
  }

  protected async transact(
    unitId: number,
    request: ModbusRequest,
    pdu: Buffer,
    timeoutMs: number,
    options: RequestOptions,
  ): Promise<ModbusResponse> {
    await this.waitForLine(unitId, request, timeoutMs);
    const target = `${this.link.name}#${unitId}`;
    const frame = withCrc(Buffer.concat([Buffer.from([unitId]), pdu]));
    this.discardedBytes += this.rx.length;
    this.rx = Buffer.alloc(0);
    this.clock.clearTimeout(this.silenceTimer);
    const requestWireMs = wireTimeMs(frame.length, this.serial);
    const current: { pending?: Pending } = {};
    try {
      return await new Promise<ModbusResponse>((resolve, reject) => {
        // The request's own wire time counts against the link, not against the slave.
        const timer = this.clock.setTimeout(() => this.onTimeout(), timeoutMs + requestWireMs);
        const settle = (error: unknown, reply?: ModbusResponse) => {
          if (this.pending === undefined || this.pending !== current.pending) return;
          this.clock.clearTimeout(timer);
          this.pending = undefined;
          if (error) reject(error);
          else resolve(reply!);
        };
        const pending: Pending = {
          unitId,
          request,
          target,
          timeoutMs,
          guardMs: Math.max(this.t35, options.lateReplyGuardMs ?? this.defaultGuardMs ?? timeoutMs),
          requestEndAt: this.clock.now() + requestWireMs,
          timedOut: false,
          owed: false,
          settle,
        };
        current.pending = pending;
        this.pending = pending;
        this.link.write(frame).catch((error) => settle(error));
      });
    } catch (error) {
      // Quiet is measured from the failure too: a reply arriving just after the timeout is flushed.
      this.needsFlush = true;
      this.lastRxAt = Math.max(this.lastRxAt, this.clock.now());
      if (current.pending?.timedOut) this.closeForGuard(current.pending);
      throw error;
    } finally {
      if (this.rx.length > 0) this.needsFlush = true; // trailing bytes: flush before the next request
    }
  }

  /** The request timed out: close the line for the guard; without any answer, remember it as owed. */
  private closeForGuard(pending: Pending): void {
    const now = this.clock.now();
    const late = this.knownLateTurnaround(pending.unitId);
    // A unit already seen answering late keeps the line closed until its usual late reply is in.
    const guardEnd = Math.max(now + pending.guardMs, pending.requestEndAt + late * 1.25 + this.t35);
    this.closedUntil = Math.max(this.closedUntil, guardEnd);
    if (!pending.owed) return;
    this.owed.push({
      unitId: pending.unitId,
      request: pending.request,
      shape: shapeOf(pending.request),
      requestEndAt: pending.requestEndAt,
      timeoutMs: pending.timeoutMs,
      // Counted from now, not from the request: when this process was starved and saw its own
      // timeout late, the device (or its simulator) may answer just as late.
      expiresAt: Math.max(
        guardEnd,
        now + Math.max(LATE_HORIZON_TIMEOUTS * pending.timeoutMs, LATE_HORIZON_MIN_MS),
        pending.requestEndAt + 2 * late,
      ),
    });
  }

  private knownLateTurnaround(unitId: number): number {
    const samples = this.lateTurnarounds.get(unitId);
    return samples && samples.length > 0 ? Math.max(...samples) : 0;
  }

  private pruneOwed(): void {
    const now = this.clock.now();
    if (this.owed.some((o) => o.expiresAt <= now)) this.owed = this.owed.filter((o) => o.expiresAt > now);
  }

  /**
   * Serial line v1.02 §2.5.1.1: frames are separated by ≥ t3.5 of silence; after a failure the
   * line must stay closed for the late-reply guard and then be quiet for longer, and a request
   * that a late reply could be mistaken for waits until that reply came or cannot come any more.
   */
  private async waitForLine(unitId: number, request: ModbusRequest, timeoutMs: number): Promise<void> {
    if (!this.listened) {
      // A master that (re)opens a line cannot know what its predecessor asked (a restarted
      // gateway, a reopened port): a device may still answer that. Listen before speaking, and
      // count whatever comes as a late reply, so it can never answer this master's first request.
      this.listened = true;
      this.closedUntil = Math.max(this.closedUntil, this.clock.now() + START_QUIET_MS);
    }
    for (;;) {
      const until = Math.max(this.closedUntil, this.heldUntil(unitId, request) ?? 0);
      const now = this.clock.now();
      if (now >= until) break;
      // Re-check often: a late reply that comes in releases a hold before its horizon.
      await delay(this.clock, Math.min(until - now, 5) + 0.5);
    }
    const required = this.needsFlush ? this.flushQuietMs : this.silentMs;
    // A babbling device must not hold the bus forever: give up waiting after one timeout budget.
    const giveUpAt = this.clock.now() + Math.max(timeoutMs, required * 2);
    while (true) {
      const quietFor = this.clock.now() - this.lastRxAt;
      if (quietFor >= required) break;
      if (this.clock.now() >= giveUpAt) {
        this.logger.warn({ required }, 'line never went quiet; sending anyway');
        break;
      }
      await delay(this.clock, Math.min(required - quietFor, giveUpAt - this.clock.now()) + 0.5);
    }
    this.needsFlush = false;
  }

  private receive(chunk: Buffer): void {
    this.lastRxAt = this.clock.now();
    this.rx = this.rx.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.rx, chunk]);
    this.parse();
  }

  /** Cuts complete frames off the front of the receive buffer and judges each. */
  private parse(): void {
    this.clock.clearTimeout(this.silenceTimer);
    while (this.rx.length >= 2) {
      const pending = this.pending;
      const fc = this.rx[1]!;
      const requestFc = pending ? functionCodeOf(pending.request) : -1;
      // A frame with the request's function code is judged as its answer (a bad CRC is DRV_ERR_CRC);
      // any other function code is delimited by its own length and must prove itself by its CRC.
      const mine = pending !== undefined && (fc === requestFc || fc === (requestFc | 0x80));
      const pduLength = mine
        ? replyPduLength(pending.request, this.rx.subarray(1))
        : replyPduLengthOf(this.rx.subarray(1));
      if (pduLength === undefined) break;
      if (pduLength === null) {
        this.armSilence(); // unknown function code: only silence can end it
        return;
      }
      const frameLength = 1 + pduLength + 2;
      if (mine) pending.expectedLength = frameLength;
      if (this.rx.length < frameLength) break;
      const frame = this.rx.subarray(0, frameLength);
      if (!mine && !hasValidCrc(frame)) {
        this.armSilence(); // noise that happens to start like a frame: judge it whole at the silence
        return;
      }
      this.rx = Buffer.from(this.rx.subarray(frameLength));
      this.judge(frame);
    }
    // A fragment outside a transaction is dropped at the next silence; inside one the timeout
    // decides (a truncated answer is DRV_ERR_SHORT_FRAME).
    if (this.rx.length > 0 && !this.pending) this.armSilence();
  }

  private armSilence(): void {
    this.clock.clearTimeout(this.silenceTimer);
    this.silenceTimer = this.clock.setTimeout(() => this.onSilence(), this.flushQuietMs);
  }

  private onSilence(): void {
    const blob = this.rx;
    this.rx = Buffer.alloc(0);
    if (blob.length === 0) return;
    const pending = this.pending;
    if (blob.length >= 4 && hasValidCrc(blob)) {
      this.judge(blob); // a whole frame with an unknown function code
      return;
    }
    if (pending) {
      const reason = `unparseable ${blob.length}-byte frame`;
      pending.settle(new DoorstepError('DRV_ERR_BAD_REPLY', { target: pending.target, reason }));
      return;
    }
    this.discardedBytes += blob.length;
  }

  /** One delimited frame: the answer, a late reply, or a frame that answers nothing. */
  private judge(frame: Buffer): void {
    const pending = this.pending;
    const valid = hasValidCrc(frame);
    const pdu = frame.subarray(1, frame.length - 2);
    if (pending) {
      if (!valid) {
        pending.settle(new DoorstepError('DRV_ERR_CRC', { target: pending.target }));
        return;
      }
      if (frame[0] === pending.unitId) {
        const mismatch = replyMismatch(pending.request, pdu);
        if (mismatch === undefined) {
          try {
            pending.settle(undefined, decodeReply(pending.request, Buffer.from(pdu), pending.target));
          } catch (error) {
            pending.settle(error);
          }
          return;
        }
        if (this.attributeLate(frame)) return;
        this.reject(
          pending,
          new DoorstepError('DRV_ERR_REPLY_MISMATCH', { target: pending.target, reason: mismatch }),
        );
        return;
      }
      if (this.attributeLate(frame)) return;
      this.reject(
        pending,
        new DoorstepError('DRV_ERR_UNIT_MISMATCH', {
          target: pending.target,
          got: frame[0],
          expected: pending.unitId,
        }),
      );
      return;
    }
    if (!valid) {
      this.discardedBytes += frame.length;
      return;
    }
    if (this.attributeLate(frame)) return;
    if (this.clock.now() < this.closedUntil) {
      // In the guard, but fitting no request we know of (a device answering what it heard wrongly).
      this.lateReplies++;
      this.emitReplyEvent({ kind: 'late', unitId: frame[0]! });
      return;
    }
    this.discardedBytes += frame.length;
  }

  /** A frame from a unit with an owed request of its shape is that request's late reply. */
  private attributeLate(frame: Buffer): boolean {
    this.pruneOwed();
    const unitId = frame[0]!;
    const pdu = frame.subarray(1, frame.length - 2);
    const index = this.owed.findIndex(
      (o) => o.unitId === unitId && replyMismatch(o.request, pdu) === undefined,
    );
    if (index < 0) return false;
    const [owed] = this.owed.splice(index, 1);
    const turnaroundMs = Math.round(this.clock.now() - owed!.requestEndAt);
    const samples = this.lateTurnarounds.get(unitId) ?? [];
    samples.push(turnaroundMs);
    if (samples.length > LATE_SAMPLES) samples.shift();
    this.lateTurnarounds.set(unitId, samples);
    this.lateReplies++;
    this.logger.debug({ unitId, turnaroundMs, timeoutMs: owed!.timeoutMs }, 'late reply discarded');
    this.emitReplyEvent({ kind: 'late', unitId, turnaroundMs, timeoutMs: owed!.timeoutMs });
    return true;
  }

  /** Modbus over serial line v1.02 §2.4.1: discard the frame and keep the response timeout running. */
  private reject(pending: Pending, error: DoorstepError): void {
    this.rejectedReplies++;
    pending.rejection = error;
    this.emitReplyEvent({
      kind: 'rejected',
      unitId: pending.unitId,
      code: error.code,
      reason: error.message,
    });
  }

  private onTimeout(): void {
    const pending = this.pending;
    if (!pending) return;
    pending.timedOut = true;
    if (pending.rejection) {
      pending.owed = true;
      pending.settle(pending.rejection);
      return;
    }
    if (this.rx.length >= 2) {
      const fc = this.rx[1]!;
      const requestFc = functionCodeOf(pending.request);
      if (fc !== requestFc && fc !== (requestFc | 0x80)) {
        // Garbage that never fell silent.
        const blob = this.rx;
        this.rx = Buffer.alloc(0);
        pending.timedOut = false; // it answered, with noise: nothing owed
        pending.settle(
          new DoorstepError('DRV_ERR_BAD_REPLY', {
            target: pending.target,
            reason: `unparseable ${blob.length}-byte frame`,
          }),
        );
        return;
      }
    }
    if (this.rx.length > 0) {
      pending.settle(
        new DoorstepError('DRV_ERR_SHORT_FRAME', {
          target: pending.target,
          got: this.rx.length,
          expected: pending.expectedLength ?? '?',
        }),
      );
      this.armSilence(); // the rest of the fragment, if it ever comes, goes with it
      return;
    }
    pending.owed = true;
    pending.settle(
      new DoorstepError('DRV_ERR_TIMEOUT', { target: pending.target, timeoutMs: pending.timeoutMs }),
    );
  }
}
