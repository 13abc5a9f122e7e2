import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../../common/log.js';
import { DoorstepError } from '../../../protocol/errors.js';
import { ExceptionCode, exceptionPdu } from './pdu.js';
import { renderReply } from './reply.js';
import type { SimUnit } from './unit.js';

/**
 * Modbus TCP server for simulated devices (Modbus Messaging on TCP/IP Implementation Guide v1.0b).
 * It accepts sockets itself (a Link is the client-side abstraction), routes each request by the
 * MBAP unit id and echoes the transaction id. Requests on one connection are answered in order,
 * one at a time, as a single-threaded device does; connections are independent.
 */
export interface TcpSlaveServerOptions {
  units?: Iterable<SimUnit>;
  /** Default 127.0.0.1; tests and demos never listen on another address. */
  host?: string;
  /** Default 0 (the kernel picks a free port; read it from listen()'s result). */
  port?: number;
  /**
   * Answer every unit id, like a TCP device with no gateway behind it: ids without a unit of their own
   * are served by the first unit, and the reply echoes the request's unit id. Default false.
   */
  answerAnyUnitId?: boolean;
  /**
   * What a request for an unknown unit gets when answerAnyUnitId is off: nothing (default), or
   * exception 0x0B "gateway target device failed to respond", as a Modbus TCP gateway answers (§6.12 of
   * the application protocol).
   */
  unknownUnit?: 'silence' | 'gateway_exception';
  /** Connections beyond this are closed at once (real devices accept 4–16). Default unlimited. */
  maxConnections?: number;
  logger?: Logger;
}

export interface TcpServerCounters {
  connectionsAccepted: number;
  connectionsRejected: number;
  /** Requests with a valid MBAP header. */
  frames: number;
  /** Frames dropped for a protocol id other than 0, and connections closed for an impossible length. */
  badHeaders: number;
  /** Requests for unit ids not served. */
  otherUnits: number;
}

/** MBAP header: transaction id, protocol id, length (unit id + PDU), unit id (§3.1.3). */
const MBAP_LENGTH = 7;
/** A PDU is at most 253 bytes, so the MBAP length field is 2–254. */
const MAX_MBAP_LENGTH_FIELD = 254;

export class TcpSlaveServer {
  readonly counters: TcpServerCounters = {
    connectionsAccepted: 0,
    connectionsRejected: 0,
    frames: 0,
    badHeaders: 0,
    otherUnits: 0,
  };
  private readonly units = new Map<number, SimUnit>();
  private readonly host: string;
  private readonly port: number;
  private readonly answerAnyUnitId: boolean;
  private readonly unknownUnit: 'silence' | 'gateway_exception';
  private readonly maxConnections: number;
  private readonly logger: Logger | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: Server | undefined;

  constructor(options: TcpSlaveServerOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.answerAnyUnitId = options.answerAnyUnitId ?? false;
    this.unknownUnit = options.unknownUnit ?? 'silence';
    this.maxConnections = options.maxConnections ?? Number.POSITIVE_INFINITY;
    if (!(this.maxConnections >= 1)) {
      throw new DoorstepError('SIM_ERR_CONFIG', { what: 'TCP server', reason: 'maxConnections must be ≥ 1' });
    }
    this.logger = options.logger?.child({ svc: 'sim-tcp' });
    for (const unit of options.units ?? []) this.addUnit(unit);
  }

  addUnit(unit: SimUnit): void {
    if (this.units.has(unit.unitId)) {
      throw new DoorstepError('SIM_ERR_CONFIG', {
        what: `TCP unit ${unit.unitId}`,
        reason: 'already on this server',
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

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** The bound address, once listening. */
  get address(): { host: string; port: number } | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? { host: address.address, port: address.port } : undefined;
  }

  async listen(): Promise<{ host: string; port: number }> {
    if (this.server) return this.address!;
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.logger?.error({ err: error }, 'simulated TCP server error'));
    this.server = server;
    this.logger?.info(this.address, 'simulated Modbus TCP server listening');
    return this.address!;
  }

  /** Stops listening, drops pending replies and closes every connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    if (this.sockets.size >= this.maxConnections) {
      this.counters.connectionsRejected++;
      socket.destroy();
      return;
    }
    this.counters.connectionsAccepted++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const queue: Buffer[] = [];
    let buffer: Buffer = Buffer.alloc(0);
    let busy = false;

    const drain = (): void => {
      if (busy || socket.destroyed) return;
      const request = queue.shift();
      if (!request) return;
      busy = true;
      this.answer(request, socket, () => {
        busy = false;
        drain();
      });
    };

    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      while (buffer.length >= MBAP_LENGTH) {
        const lengthField = buffer.readUInt16BE(4);
        if (lengthField < 2 || lengthField > MAX_MBAP_LENGTH_FIELD) {
          // The stream cannot be resynchronised without a valid length: drop the connection.
          this.counters.badHeaders++;
          socket.destroy();
          return;
        }
        const total = 6 + lengthField;
        if (buffer.length < total) break;
        const frame = buffer.subarray(0, total);
        buffer = buffer.subarray(total);
        if (frame.readUInt16BE(2) !== 0) {
          this.counters.badHeaders++; // protocol id 0 is Modbus; anything else is discarded
          continue;
        }
        this.counters.frames++;
        queue.push(frame);
      }
      drain();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      queue.length = 0;
    });
  }

  private answer(frame: Buffer, socket: Socket, done: () => void): void {
    const transactionId = frame.readUInt16BE(0);
    const unitId = frame[6]!;
    const pdu = frame.subarray(MBAP_LENGTH);
    const mbapFrame = (replyUnitId: number, replyPdu: Buffer): Buffer => {
      const out = Buffer.alloc(MBAP_LENGTH + replyPdu.length);
      out.writeUInt16BE(transactionId, 0);
      out.writeUInt16BE(0, 2);
      out.writeUInt16BE(replyPdu.length + 1, 4);
      out[6] = replyUnitId;
      out.set(replyPdu, MBAP_LENGTH);
      return out;
    };
    const ownUnit = this.units.get(unitId);
    const unit = ownUnit ?? (this.answerAnyUnitId ? this.units.values().next().value : undefined);
    if (!unit) {
      this.counters.otherUnits++;
      if (this.unknownUnit === 'gateway_exception') {
        socket.write(
          mbapFrame(unitId, exceptionPdu(pdu[0] ?? 0, ExceptionCode.gatewayTargetFailedToRespond)),
        );
      }
      done();
      return;
    }
    const rendered = renderReply(unit, pdu, 'tcp', (id, replyPdu) => mbapFrame(id, replyPdu), unitId);
    const bytes = rendered.bytes;
    if (bytes === undefined) {
      done();
      return;
    }
    if (rendered.delayMs <= 0) {
      socket.write(bytes);
      done();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!socket.destroyed) socket.write(bytes);
      done();
    }, rendered.delayMs);
    this.timers.add(timer);
  }
}
