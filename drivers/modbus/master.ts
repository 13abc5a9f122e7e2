import { DoorstepError } from '../../protocol/errors.js';
import type { Link } from '../link/types.js';
import { encodeRequest, type ModbusRequest, type ModbusResponse } from './pdu.js';

export interface RequestOptions {
  /** Reply timeout; every request has one (modbus-serial has none by default — docs/stack.md). */
  timeoutMs?: number;
  /**
   * RTU: how long the line stays closed after this request timed out, so that a late reply cannot
   * be taken for the next request's answer (default: the timeout again; never less than t3.5).
   */
  lateReplyGuardMs?: number;
}

/**
 * What a master saw on the line besides answers: a late reply to a request that had timed out
 * (discarded; with the turnaround when it can be attributed to its request) or a frame that
 * answers nothing it asked (discarded).
 */
export type ReplyEvent =
  | { kind: 'late'; unitId: number; turnaroundMs?: number; timeoutMs?: number }
  | { kind: 'rejected'; unitId: number; code: string; reason: string };

/** A Modbus master (client) over one Link. Requests are serialised: one in flight at a time. */
export interface ModbusMaster {
  readonly link: Link;
  request(unitId: number, request: ModbusRequest, options?: RequestOptions): Promise<ModbusResponse>;
  /** Unsubscribes from the link and rejects nothing further; the link itself is closed by its owner. */
  dispose(): void;
  /** Late and rejected replies, as they are discarded. */
  onReplyEvent(listener: (event: ReplyEvent) => void): () => void;
  /**
   * Until when `request` must not be sent to `unitId` because a reply to an earlier request of the
   * same shape may still arrive and could not be told from its answer (RTU); undefined when free.
   */
  heldUntil(unitId: number, request: ModbusRequest): number | undefined;
}

/** What the transports share: validation, serialisation and the typed convenience calls. */
export abstract class MasterBase implements ModbusMaster {
  readonly link: Link;
  protected readonly defaultTimeoutMs: number;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly replyListeners = new Set<(event: ReplyEvent) => void>();

  protected constructor(link: Link, defaultTimeoutMs: number) {
    this.link = link;
    this.defaultTimeoutMs = defaultTimeoutMs;
  }

  protected abstract readonly unitRange: readonly [number, number];

  /** Runs one transaction; called only while no other transaction of this master is in flight. */
  protected abstract transact(
    unitId: number,
    request: ModbusRequest,
    pdu: Buffer,
    timeoutMs: number,
    options: RequestOptions,
  ): Promise<ModbusResponse>;

  abstract dispose(): void;

  onReplyEvent(listener: (event: ReplyEvent) => void): () => void {
    this.replyListeners.add(listener);
    return () => this.replyListeners.delete(listener);
  }

  heldUntil(_unitId: number, _request: ModbusRequest): number | undefined {
    return undefined;
  }

  protected emitReplyEvent(event: ReplyEvent): void {
    for (const listener of this.replyListeners) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not break the framing of the line.
      }
    }
  }

  request(unitId: number, request: ModbusRequest, options: RequestOptions = {}): Promise<ModbusResponse> {
    const target = `${this.link.name}#${unitId}`;
    const [minUnit, maxUnit] = this.unitRange;
    if (!Number.isInteger(unitId) || unitId < minUnit || unitId > maxUnit) {
      return Promise.reject(
        new DoorstepError('DRV_ERR_BAD_REQUEST', {
          target,
          reason: `unit id ${unitId} is not in ${minUnit}–${maxUnit}`,
        }),
      );
    }
    let pdu: Buffer;
    try {
      pdu = encodeRequest(request, target);
    } catch (error) {
      return Promise.reject(error);
    }
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    // A second concurrent call waits for the first instead of overwriting it (modbus-serial's flaw).
    const run = this.tail.then(() => this.transact(unitId, request, pdu, timeoutMs, options));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async readCoils(
    unitId: number,
    address: number,
    count: number,
    options?: RequestOptions,
  ): Promise<boolean[]> {
    return bits(await this.request(unitId, { kind: 'read', table: 'coil', address, count }, options));
  }

  async readDiscreteInputs(
    unitId: number,
    address: number,
    count: number,
    options?: RequestOptions,
  ): Promise<boolean[]> {
    return bits(await this.request(unitId, { kind: 'read', table: 'discrete', address, count }, options));
  }

  async readHoldingRegisters(
    unitId: number,
    address: number,
    count: number,
    options?: RequestOptions,
  ): Promise<number[]> {
    return registers(await this.request(unitId, { kind: 'read', table: 'holding', address, count }, options));
  }

  async readInputRegisters(
    unitId: number,
    address: number,
    count: number,
    options?: RequestOptions,
  ): Promise<number[]> {
    return registers(await this.request(unitId, { kind: 'read', table: 'input', address, count }, options));
  }

  async writeCoil(unitId: number, address: number, value: boolean, options?: RequestOptions): Promise<void> {
    await this.request(unitId, { kind: 'writeCoil', address, value }, options);
  }

  async writeRegister(
    unitId: number,
    address: number,
    value: number,
    options?: RequestOptions,
  ): Promise<void> {
    await this.request(unitId, { kind: 'writeRegister', address, value }, options);
  }

  async writeCoils(
    unitId: number,
    address: number,
    values: boolean[],
    options?: RequestOptions,
  ): Promise<void> {
    await this.request(unitId, { kind: 'writeCoils', address, values }, options);
  }

  async writeRegisters(
    unitId: number,
    address: number,
    values: number[],
    options?: RequestOptions,
  ): Promise<void> {
    await this.request(unitId, { kind: 'writeRegisters', address, values }, options);
  }

  /**
   * Read Device Identification (MBAP v1.1b3 §6.21) for installers' bus scans: follows
   * "more follows" pages until the category is complete. Code 1 basic, 2 regular, 3 extended.
   */
  async readDeviceIdentification(
    unitId: number,
    readDeviceIdCode: 1 | 2 | 3 = 1,
    options?: RequestOptions,
  ): Promise<Map<number, string>> {
    const objects = new Map<number, string>();
    let objectId = 0;
    for (let page = 0; page < 256; page++) {
      const reply = await this.request(
        unitId,
        { kind: 'readDeviceIdentification', readDeviceIdCode, objectId },
        options,
      );
      if (reply.kind !== 'deviceIdentification') break;
      for (const [id, value] of reply.page.objects) objects.set(id, value);
      if (!reply.page.moreFollows || reply.page.nextObjectId <= objectId) break;
      objectId = reply.page.nextObjectId;
    }
    return objects;
  }
}

function bits(reply: ModbusResponse): boolean[] {
  return reply.kind === 'bits' ? reply.values : [];
}

function registers(reply: ModbusResponse): number[] {
  return reply.kind === 'registers' ? reply.values : [];
}
