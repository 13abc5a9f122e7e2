import type { Logger } from '../../../common/log.js';
import { DoorstepError } from '../../../protocol/errors.js';
import type { Link } from '../../link/types.js';
import { hasValidCrc } from '../../modbus/crc16.js';
import {
  type Clock,
  DeadlineScheduler,
  interFrameGapMs,
  monotonicClock,
  type Pace,
  planTransaction,
} from './pacing.js';
import { executePdu } from './pdu.js';
import { renderReply } from './reply.js';
import { buildRtuFrame, expectedRequestLength } from './rtu-framing.js';
import type { SimUnit } from './unit.js';

/** How soon after our reply a request counts as back-to-back polling (for the lateness credit). */
const CREDIT_WINDOW_MS = 5;

export interface RtuSlaveOptions {
  /** The bus side of the link (a serial port / pty, or one end of a MemoryLink pair). */
  link: Link;
  units?: Iterable<SimUnit>;
  /** Real wire-time pacing (see pacing.ts); without it replies go out as soon as they are computed. */
  pace?: Pace;
  /**
   * Silence that ends a frame whose length is unknown (garbage, unsupported function code) or that
   * stopped short. Default max(t3.5, 10 ms): event-loop and pty delivery jitter would split frames
   * at a strict t3.5 (§2.5.1.1), and known requests never wait for it.
   */
  silenceMs?: number;
  logger?: Logger;
  /** For deterministic tests of the pacing schedule. */
  clock?: Clock;
}

/** Bus-level counters: what the slave saw on the wire, whoever it was for. */
export interface RtuBusCounters {
  /** Frames with a valid CRC, for any unit. */
  frames: number;
  /** Length-delimited frames whose CRC failed: ignored, as the spec says (§2.5.1.2). */
  badCrc: number;
  /** Bytes dropped at a silence because they formed no complete frame (garbage, truncated requests). */
  malformedBytes: number;
  /** Valid frames for units this bus does not serve: no reply, as on a multi-drop bus. */
  otherUnits: number;
  broadcasts: number;
}

/**
 * A multi-drop RS-485 bus of simulated devices on one Link. Serves any number of units, stays
 * silent for unit ids it does not serve, applies broadcast (unit 0) writes to every unit without
 * replying (Modbus over serial line v1.02 §2.1), ignores requests whose CRC fails, and answers
 * through each unit's fault settings.
 */
export class RtuSlave {
  readonly link: Link;
  readonly pace: Pace | undefined;
  readonly counters: RtuBusCounters = {
    frames: 0,
    badCrc: 0,
    malformedBytes: 0,
    otherUnits: 0,
    broadcasts: 0,
  };
  private readonly units = new Map<number, SimUnit>();
  private readonly silenceMs: number;
  private readonly logger: Logger | undefined;
  private readonly clock: Clock;
  private readonly scheduler: DeadlineScheduler;
  private buffer: Buffer = Buffer.alloc(0);
  private firstByteAtMs = 0;
  private discarding = false;
  private silenceTimer: unknown;
  private busFreeAtMs = 0;
  /** How late (ms) the last reply went out against its plan, credited to the next request. */
  private lastLatenessMs = 0;
  private lastReplyWrittenAtMs = Number.NEGATIVE_INFINITY;
  private unsubscribers: Array<() => void> = [];
  private running = false;

  constructor(options: RtuSlaveOptions) {
    this.link = options.link;
    this.pace = options.pace;
    if (this.pace) validatePace(this.pace);
    this.clock = options.clock ?? monotonicClock;
    this.scheduler = new DeadlineScheduler(this.clock);
    this.logger = options.logger?.child({ link: options.link.name, svc: 'sim-rtu' });
    const gap = this.pace ? interFrameGapMs(this.pace) : 0;
    this.silenceMs = options.silenceMs ?? Math.max(gap, 10);
    for (const unit of options.units ?? []) this.addUnit(unit);
  }

  addUnit(unit: SimUnit): void {
    // Modbus over serial line v1.02 §2.2: individual addresses 1–247; 0 is broadcast.
    if (unit.unitId < 1 || unit.unitId > 247) {
      throw new DoorstepError('SIM_ERR_CONFIG', {
        what: `RTU unit ${unit.unitId}`,
        reason: 'RTU unit ids are 1–247',
      });
    }
    if (this.units.has(unit.unitId)) {
      throw new DoorstepError('SIM_ERR_CONFIG', {
        what: `RTU unit ${unit.unitId}`,
        reason: 'already on this bus',
      });
    }
    this.units.set(unit.unitId, unit);
  }

  removeUnit(unitId: number): boolean {
    return this.units.delete(unitId);
  }

  unit(unitId: number): SimUnit | undefined {
    return this.units.get(unitId);
  }

  get unitIds(): number[] {
    return [...this.units.keys()];
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (!this.link.isOpen) await this.link.open();
    this.unsubscribers = [
      this.link.onData((chunk) => this.receive(chunk)),
      this.link.onClose((error) => {
        if (error) this.logger?.warn({ err: error }, 'simulated bus link closed');
      }),
    ];
    this.running = true;
  }

  /** Detaches from the link, drops pending replies and closes the link. */
  async stop(): Promise<void> {
    this.running = false;
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    this.unsubscribers = [];
    this.scheduler.cancelAll();
    if (this.silenceTimer !== undefined) this.clock.clearTimeout(this.silenceTimer);
    this.silenceTimer = undefined;
    this.buffer = Buffer.alloc(0);
    await this.link.close();
  }

  private receive(chunk: Buffer): void {
    const now = this.clock.now();
    if (this.buffer.length === 0) this.firstByteAtMs = now;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    this.armSilenceTimer();
    while (!this.discarding && this.buffer.length > 0) {
      const length = expectedRequestLength(this.buffer);
      if (typeof length !== 'number' || this.buffer.length < length) break;
      const frame = this.buffer.subarray(0, length);
      this.buffer = this.buffer.subarray(length);
      if (!this.handleFrame(frame, this.firstByteAtMs)) {
        // A corrupted frame: everything up to the next silence belongs to it (§2.5.1.1).
        this.discarding = true;
      }
      this.firstByteAtMs = now;
    }
  }

  private armSilenceTimer(): void {
    if (this.silenceTimer !== undefined) this.clock.clearTimeout(this.silenceTimer);
    this.silenceTimer = this.clock.setTimeout(() => this.onSilence(), this.silenceMs);
  }

  private onSilence(): void {
    this.silenceTimer = undefined;
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    const wasDiscarding = this.discarding;
    this.discarding = false;
    if (rest.length === 0) return;
    // An unknown function code can only be delimited by silence; its CRC decides whether it is a frame.
    if (
      !wasDiscarding &&
      expectedRequestLength(rest) === 'unknown' &&
      rest.length >= 4 &&
      hasValidCrc(rest)
    ) {
      this.handleFrame(rest, this.firstByteAtMs);
      return;
    }
    this.counters.malformedBytes += rest.length;
  }

  /** Returns false when the frame failed its CRC. */
  private handleFrame(frame: Buffer, arrivalMs: number): boolean {
    if (!hasValidCrc(frame)) {
      this.counters.badCrc++;
      this.logger?.debug({ frame: frame.toString('hex') }, 'request with bad CRC ignored');
      return false;
    }
    this.counters.frames++;
    const unitId = frame[0]!;
    const pdu = frame.subarray(1, frame.length - 2);
    if (unitId === 0) {
      this.counters.broadcasts++;
      for (const unit of this.units.values()) {
        executePdu(unit.bank, unit.identity, pdu, true);
        unit.counters.broadcasts++;
      }
      this.occupyBus(frame.length, arrivalMs);
      return true;
    }
    const unit = this.units.get(unitId);
    if (!unit) {
      this.counters.otherUnits++;
      this.occupyBus(frame.length, arrivalMs);
      return true;
    }
    const rendered = renderReply(unit, pdu, 'rtu', buildRtuFrame);
    if (rendered.bytes === undefined) {
      this.occupyBus(frame.length, arrivalMs);
      return true;
    }
    this.sendReply(rendered.bytes, frame.length, arrivalMs, rendered.delayMs);
    return true;
  }

  /** A request with no reply still holds the bus for its own wire time. */
  private occupyBus(requestBytes: number, arrivalMs: number): void {
    if (!this.pace) return;
    const plan = planTransaction({
      arrivalMs,
      busFreeAtMs: this.busFreeAtMs,
      requestBytes,
      replyBytes: undefined,
      pace: this.pace,
    });
    this.busFreeAtMs = plan.busFreeAtMs;
  }

  private sendReply(reply: Buffer, requestBytes: number, arrivalMs: number, extraDelayMs: number): void {
    if (!this.pace) {
      if (extraDelayMs > 0) this.scheduler.at(this.clock.now() + extraDelayMs, () => this.write(reply));
      else this.write(reply);
      return;
    }
    // Our own lateness on the previous reply delayed a master that polls back-to-back by as much;
    // credit it once, so timer lateness does not accumulate. A request that comes later than
    // CREDIT_WINDOW_MS after our reply was paced by the master itself and gets no credit.
    const sinceLastReply = arrivalMs - this.lastReplyWrittenAtMs;
    const creditMs = sinceLastReply >= 0 && sinceLastReply <= CREDIT_WINDOW_MS ? this.lastLatenessMs : 0;
    this.lastLatenessMs = 0;
    const plan = planTransaction({
      arrivalMs,
      busFreeAtMs: this.busFreeAtMs,
      creditMs,
      requestBytes,
      replyBytes: reply.length,
      pace: this.pace,
      extraDelayMs,
    });
    this.busFreeAtMs = plan.busFreeAtMs;
    this.scheduler.at(plan.replyEndMs, (lateByMs) => {
      if (extraDelayMs === 0) {
        this.lastLatenessMs = lateByMs;
        this.lastReplyWrittenAtMs = this.clock.now();
      }
      this.write(reply);
    });
  }

  private write(reply: Buffer): void {
    if (!this.running) return;
    this.link.write(reply).catch((error: unknown) => {
      this.logger?.warn({ err: error }, 'simulated reply could not be written');
    });
  }
}

function validatePace(pace: Pace): void {
  const problems: string[] = [];
  if (!(pace.baudRate > 0)) problems.push('baudRate must be > 0');
  if (!['none', 'even', 'odd'].includes(pace.parity)) problems.push('parity must be none, even or odd');
  if (pace.dataBits !== 7 && pace.dataBits !== 8) problems.push('dataBits must be 7 or 8');
  if (pace.stopBits !== 1 && pace.stopBits !== 2) problems.push('stopBits must be 1 or 2');
  if (!(pace.turnaroundMs >= 0)) problems.push('turnaroundMs must be ≥ 0');
  if (problems.length > 0)
    throw new DoorstepError('SIM_ERR_CONFIG', { what: 'pace', reason: problems.join('; ') });
}
