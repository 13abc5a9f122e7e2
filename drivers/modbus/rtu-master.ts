/**
 * Modbus RTU master over a Link. Framing is written here, not taken from modbus-serial, because
 * its RTU ports (a) split or merge frames by timing, (b) can match a late reply to the next
 * request after a timeout, and (c) report CRC, truncation and wrong-unit replies alike. Here:
 *  - a reply ends when the length implied by its function code is reached (exception form included),
 *    not by timing — ptys and USB adapters break inter-character timing anyway;
 *  - after any failed transaction the line must stay quiet for the flush interval and everything
 *    received in between is discarded, and bytes outside a transaction are always discarded, so a
 *    late reply is never matched to the next request;
 *  - CRC, unit id, exception, short frame and malformed replies each raise their own catalogue code.
 * Modbus over serial line v1.02 §2.5.1 (RTU framing), §2.5.1.1 (t3.5), §2.5.1.2 (CRC).
 */
import { DoorstepError } from '../../protocol/errors.js';
import type { Link, SerialSettings } from '../link/types.js';
import { silentIntervalMs, wireTimeMs } from '../link/types.js';
import { type Logger, silentLogger } from '../log.js';
import { type Clock, delay, systemClock } from './clock.js';
import { hasValidCrc, withCrc } from './crc16.js';
import { MasterBase } from './master.js';
import { decodeReply, type ModbusRequest, type ModbusResponse, replyPduLength } from './pdu.js';

export interface RtuMasterOptions {
  /** Line settings, for t3.5 and the request's own wire time (default 9600 8E1). */
  serial?: SerialSettings;
  /** Floor for the inter-frame gap: ptys and USB adapters add latency (default 2 ms). */
  minSilentMs?: number;
  /** Quiet time required after a failed transaction before the next request (default max(t3.5, 20 ms)). */
  flushQuietMs?: number;
  defaultTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
}

interface Pending {
  unitId: number;
  request: ModbusRequest;
  target: string;
  timeoutMs: number;
  /** Full frame length once known from the function code. */
  expectedLength?: number;
  settle(error: unknown, reply?: ModbusResponse): void;
}

const RTU_UNIT_RANGE = [1, 247] as const; // serial line v1.02 §2.2: 0 is broadcast (no reply), 248–255 reserved

export class RtuMaster extends MasterBase {
  protected readonly unitRange = RTU_UNIT_RANGE;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly serial: SerialSettings;
  private readonly silentMs: number;
  private readonly flushQuietMs: number;
  private rx: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  private lastRxAt = Number.NEGATIVE_INFINITY;
  private needsFlush = false;
  private unknownFrameTimer: unknown;
  private readonly unsubscribe: Array<() => void>;
  /** Bytes that arrived outside a transaction (late replies, noise) and were discarded. */
  discardedBytes = 0;

  constructor(link: Link, options: RtuMasterOptions = {}) {
    super(link, options.defaultTimeoutMs ?? 1000);
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger()).child({ link: link.name });
    this.serial = options.serial ?? { baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 };
    const t35 = silentIntervalMs(this.serial.baudRate);
    this.silentMs = Math.max(t35, options.minSilentMs ?? 2);
    this.flushQuietMs = options.flushQuietMs ?? Math.max(t35, 20);
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
    this.pending?.settle(
      new DoorstepError('DRV_ERR_CANCELLED', { target: this.link.name, reason: 'master disposed' }),
    );
  }

  protected async transact(
    unitId: number,
    request: ModbusRequest,
    pdu: Buffer,
    timeoutMs: number,
  ): Promise<ModbusResponse> {
    await this.waitForQuietLine(timeoutMs);
    const target = `${this.link.name}#${unitId}`;
    const frame = withCrc(Buffer.concat([Buffer.from([unitId]), pdu]));
    this.rx = Buffer.alloc(0);
    try {
      return await new Promise<ModbusResponse>((resolve, reject) => {
        // The request's own wire time counts against the link, not against the slave.
        const budget = timeoutMs + wireTimeMs(frame.length, this.serial);
        const timer = this.clock.setTimeout(() => this.onTimeout(), budget);
        this.pending = {
          unitId,
          request,
          target,
          timeoutMs,
          settle: (error, reply) => {
            if (this.pending?.settle !== pendingSettle) return;
            this.clock.clearTimeout(timer);
            this.clock.clearTimeout(this.unknownFrameTimer);
            this.pending = undefined;
            if (error) reject(error);
            else resolve(reply!);
          },
        };
        const pendingSettle = this.pending.settle;
        this.link.write(frame).catch((error) => pendingSettle(error));
      });
    } catch (error) {
      // Quiet is measured from the failure too: a reply arriving just after the timeout is flushed.
      this.needsFlush = true;
      this.lastRxAt = Math.max(this.lastRxAt, this.clock.now());
      throw error;
    } finally {
      this.rx = Buffer.alloc(0);
    }
  }

  /** Serial line v1.02 §2.5.1.1: frames are separated by ≥ t3.5 of silence; after a failure wait longer and discard. */
  private async waitForQuietLine(timeoutMs: number): Promise<void> {
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
    const pending = this.pending;
    if (!pending) {
      this.discardedBytes += chunk.length;
      return;
    }
    this.rx = this.rx.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.rx, chunk]);
    if (this.rx.length < 2) return;
    const pduLength = replyPduLength(pending.request, this.rx.subarray(1));
    if (pduLength === undefined) return;
    if (pduLength === null) {
      // Unknown function code: its length cannot be known, so wait for the line to fall silent.
      this.clock.clearTimeout(this.unknownFrameTimer);
      this.unknownFrameTimer = this.clock.setTimeout(
        () => this.classifyUnknownFrame(pending),
        this.flushQuietMs,
      );
      return;
    }
    const frameLength = 1 + pduLength + 2;
    pending.expectedLength = frameLength;
    if (this.rx.length < frameLength) return;
    if (this.rx.length > frameLength) this.needsFlush = true; // trailing noise: flush before the next request
    pending.settle(...this.check(pending, this.rx.subarray(0, frameLength)));
  }

  private check(pending: Pending, frame: Buffer): [unknown, ModbusResponse?] {
    if (!hasValidCrc(frame)) return [new DoorstepError('DRV_ERR_CRC', { target: pending.target })];
    if (frame[0] !== pending.unitId) {
      return [
        new DoorstepError('DRV_ERR_UNIT_MISMATCH', {
          target: pending.target,
          got: frame[0],
          expected: pending.unitId,
        }),
      ];
    }
    try {
      return [undefined, decodeReply(pending.request, frame.subarray(1, frame.length - 2), pending.target)];
    } catch (error) {
      return [error];
    }
  }

  private classifyUnknownFrame(pending: Pending): void {
    const frame = this.rx;
    if (hasValidCrc(frame) && frame[0] !== pending.unitId) {
      pending.settle(
        new DoorstepError('DRV_ERR_UNIT_MISMATCH', {
          target: pending.target,
          got: frame[0],
          expected: pending.unitId,
        }),
      );
      return;
    }
    const reason = hasValidCrc(frame)
      ? `function code 0x${frame[1]!.toString(16)} does not answer the request`
      : `unparseable ${frame.length}-byte frame`;
    pending.settle(new DoorstepError('DRV_ERR_BAD_REPLY', { target: pending.target, reason }));
  }

  private onTimeout(): void {
    const pending = this.pending;
    if (!pending) return;
    if (this.rx.length >= 2 && replyPduLength(pending.request, this.rx.subarray(1)) === null) {
      this.classifyUnknownFrame(pending); // garbage that never fell silent
      return;
    }
    if (this.rx.length > 0) {
      pending.settle(
        new DoorstepError('DRV_ERR_SHORT_FRAME', {
          target: pending.target,
          got: this.rx.length,
          expected: pending.expectedLength ?? '?',
        }),
      );
      return;
    }
    pending.settle(
      new DoorstepError('DRV_ERR_TIMEOUT', { target: pending.target, timeoutMs: pending.timeoutMs }),
    );
  }
}
