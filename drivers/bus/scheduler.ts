import { type Logger, silentLogger } from '../../common/log.js';
import type { DeviceLinkState } from '../../protocol/device.js';
import { DoorstepError } from '../../protocol/errors.js';
import type { Link } from '../link/types.js';
import { type Clock, systemClock } from '../modbus/clock.js';
import type { ModbusMaster } from '../modbus/master.js';
import { encodeRequest, LIMITS, type ModbusRequest } from '../modbus/pdu.js';
import { RtuMaster } from '../modbus/rtu-master.js';
import { TcpMaster } from '../modbus/tcp-master.js';
import { BusChannel, type ChannelHooks, type TransactionOutcome } from './channel.js';
import { DeviceEntry } from './device-entry.js';
import { SampleWindow } from './samples.js';
import type {
  BackoffPolicy,
  BusSchedulerOptions,
  BusStats,
  PollFailure,
  PollResult,
  PollTask,
  StallEvent,
  TcpEndpoint,
  WriteCommand,
} from './types.js';

const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, factor: 2, maxMs: 60_000 };
const DEFAULT_RECONNECT: BackoffPolicy = { initialMs: 500, factor: 2, maxMs: 30_000 };

type Listener<T> = (value: T) => void;

function endpointKey(endpoint: TcpEndpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

/**
 * The scheduler of one physical bus (an RS-485 line, or the Modbus TCP devices of a site): polls
 * every registered device's blocks by due time and priority over one request in flight per link,
 * takes dead devices out of the rotation with backoff, reconnects lost links, and reports results,
 * device states, stats and stalls. The constructor does no I/O; start() opens links.
 */
export class BusScheduler {
  readonly bus: string;
  private readonly options: BusSchedulerOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly backoff: BackoffPolicy;
  private readonly reconnect: BackoffPolicy;
  private readonly channels = new Map<string, BusChannel>();
  private readonly deviceChannel = new Map<string, BusChannel>();
  private readonly listeners = {
    result: new Set<Listener<PollResult>>(),
    pollError: new Set<Listener<PollFailure>>(),
    deviceState: new Set<Listener<DeviceLinkState>>(),
    stall: new Set<Listener<StallEvent>>(),
  };
  private readonly counters = {
    transactions: 0,
    successes: 0,
    timeouts: 0,
    writes: 0,
    reconnects: 0,
    lateReplies: 0,
    rejectedReplies: 0,
  };
  private readonly errorsByCode: Record<string, number> = {};
  private readonly latency = new SampleWindow();
  private readonly queueLag = new SampleWindow();
  private running = false;
  private lastSuccessAt = 0;
  private stalled = false;
  private degradedSince: number | undefined;
  private lastFailureAt = 0;
  /** Failed transactions since the last valid reply, by code: the reason a stall gives. */
  private streakFailures: Record<string, number> = {};
  private watchdogTimer: unknown;

  constructor(options: BusSchedulerOptions) {
    this.options = options;
    this.bus = options.bus;
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger()).child({ bus: options.bus });
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.reconnect = { ...DEFAULT_RECONNECT, ...options.reconnect };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastSuccessAt = this.clock.now();
    for (const channel of this.channels.values()) channel.start();
    this.armWatchdog();
  }

  /** Stops polling, cancels queued writes (DRV_ERR_CANCELLED), waits for the in-flight request and closes links. */
  async stop(): Promise<void> {
    this.running = false;
    this.clock.clearTimeout(this.watchdogTimer);
    await Promise.all([...this.channels.values()].map((channel) => channel.stop()));
  }

  /** Registers a device (at any time); its blocks are due at once. Throws DRV_ERR_BAD_REQUEST on an invalid task. */
  addDevice(task: PollTask): void {
    this.validate(task);
    const channel = this.channelFor(task);
    const entry = new DeviceEntry(structuredClone(task), this.clock.now());
    this.deviceChannel.set(task.device, channel);
    channel.add(entry);
    if (this.running) channel.start();
  }

  /** Unregisters a device; its queued writes are cancelled and a reply in flight is dropped. */
  removeDevice(device: string): void {
    const channel = this.deviceChannel.get(device);
    if (!channel) return;
    this.deviceChannel.delete(device);
    channel.remove(device);
    if (this.options.protocol === 'tcp' && channel.devices.size === 0) {
      // Devices accept only a few connections: do not hold one open for nobody.
      this.channels.delete(channel.name);
      void channel.stop();
    }
  }

  /** Writes coils or holding registers, ahead of every queued poll. Rejects with the transaction's error code. */
  write(device: string, command: WriteCommand): Promise<void> {
    const channel = this.deviceChannel.get(device);
    const entry = channel?.devices.get(device);
    if (!channel || !entry) {
      return Promise.reject(new DoorstepError('DRV_ERR_UNKNOWN_DEVICE', { bus: this.bus, device }));
    }
    let request: ModbusRequest;
    try {
      request = writeRequest(device, command);
      encodeRequest(request, device); // range checks now, so a bad command never costs bus time
    } catch (error) {
      return Promise.reject(error);
    }
    this.counters.writes++;
    return new Promise((resolve, reject) => channel.enqueueWrite({ entry, request, resolve, reject }));
  }

  onResult(listener: Listener<PollResult>): () => void {
    return this.subscribe(this.listeners.result, listener);
  }

  /** A poll that failed after its retries, or was answered with an exception. */
  onPollError(listener: Listener<PollFailure>): () => void {
    return this.subscribe(this.listeners.pollError, listener);
  }

  onDeviceState(listener: Listener<DeviceLinkState>): () => void {
    return this.subscribe(this.listeners.deviceState, listener);
  }

  /** DRV_ERR_BUS_STALLED when the bus stalls, and `{stalled: false}` when it completes a transaction again. */
  onStall(listener: Listener<StallEvent>): () => void {
    return this.subscribe(this.listeners.stall, listener);
  }

  deviceStates(): DeviceLinkState[] {
    return [...this.channels.values()].flatMap((channel) =>
      [...channel.devices.values()].map((e) => ({ ...e.state })),
    );
  }

  stats(): BusStats {
    const channels = [...this.channels.values()];
    return {
      bus: this.bus,
      ...this.counters,
      errorsByCode: { ...this.errorsByCode },
      latencyMs: this.latency.percentiles(),
      queueLagMs: this.queueLag.percentiles(),
      stalled: this.stalled,
      degraded: this.degradedSince !== undefined,
      ...(this.degradedSince !== undefined
        ? { degradedSince: this.degradedSince, failuresSinceValid: { ...this.streakFailures } }
        : {}),
      linksUp: channels.filter((c) => c.linkUp).length,
      links: channels.length,
    };
  }

  private subscribe<T>(set: Set<Listener<T>>, listener: Listener<T>): () => void {
    set.add(listener);
    return () => set.delete(listener);
  }

  private emit<T>(set: Set<Listener<T>>, value: T): void {
    for (const listener of set) {
      try {
        listener(value);
      } catch (error) {
        // A consumer's bug must not stop acquisition (anchors: complaint 4).
        this.logger.error({ err: error }, 'bus listener threw');
      }
    }
  }

  private channelFor(task: PollTask): BusChannel {
    const tcp = this.options.protocol === 'tcp';
    const key = tcp ? endpointKey(task.endpoint!) : this.bus;
    const existing = this.channels.get(key);
    if (existing) return existing;
    const channel = new BusChannel({
      name: key,
      createLink: () => this.options.createLink(tcp ? task.endpoint : undefined),
      createMaster: (link) => this.createMaster(link),
      offlineAfter: this.options.offlineAfter ?? 3,
      priorityAgingMs: this.options.priorityAgingMs ?? 1000,
      backoff: this.backoff,
      reconnect: this.reconnect,
      clock: this.clock,
      logger: this.logger.child({ link: key }),
      hooks: this.hooks(),
    });
    this.channels.set(key, channel);
    return channel;
  }

  private createMaster(link: Link): ModbusMaster {
    const logger = this.logger;
    if (this.options.protocol === 'tcp') return new TcpMaster(link, { clock: this.clock, logger });
    return new RtuMaster(link, {
      clock: this.clock,
      logger,
      ...(this.options.serial && { serial: this.options.serial }),
      ...(this.options.minSilentMs !== undefined && { minSilentMs: this.options.minSilentMs }),
      ...(this.options.flushQuietMs !== undefined && { flushQuietMs: this.options.flushQuietMs }),
    });
  }

  private hooks(): ChannelHooks {
    return {
      result: (result) => this.emit(this.listeners.result, result),
      pollError: (failure) => this.emit(this.listeners.pollError, failure),
      deviceState: (state) => {
        this.logger.info({ device: state.device, state: state.state, reason: state.reason }, 'device state');
        this.emit(this.listeners.deviceState, { ...state });
      },
      transaction: (outcome) => this.countTransaction(outcome),
      queueLag: (lagMs) => this.queueLag.add(lagMs),
      linkUp: () => this.counters.reconnects++,
      lateReply: () => {
        this.counters.lateReplies++;
        this.errorsByCode.DRV_ERR_LATE_REPLY = (this.errorsByCode.DRV_ERR_LATE_REPLY ?? 0) + 1;
      },
      rejectedReply: () => this.counters.rejectedReplies++,
    };
  }

  private countTransaction(outcome: TransactionOutcome): void {
    this.counters.transactions++;
    if (outcome.ok) {
      this.counters.successes++;
      if (outcome.latencyMs !== undefined) this.latency.add(outcome.latencyMs);
      this.validReply();
      return;
    }
    const code = outcome.code ?? 'unknown';
    this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
    if (code === 'DRV_ERR_TIMEOUT') this.counters.timeouts++;
    // An exception reply is a valid frame: the bus works, the device is faulty (drivers/acquisition).
    if (code === 'DRV_ERR_EXCEPTION') this.validReply();
    else {
      this.streakFailures[code] = (this.streakFailures[code] ?? 0) + 1;
      this.lastFailureAt = this.clock.now();
    }
  }

  private validReply(): void {
    this.lastSuccessAt = this.clock.now();
    if (this.degradedSince !== undefined) {
      this.logger.info(
        { failures: this.streakFailures, degradedMs: this.lastSuccessAt - this.degradedSince },
        'bus delivers valid replies again',
      );
      this.degradedSince = undefined;
    }
    this.streakFailures = {};
    if (this.stalled) {
      this.stalled = false;
      this.logger.info('bus transactions completing again');
      this.emit(this.listeners.stall, { bus: this.bus, stalled: false });
    }
  }

  /** Watchdog: work is due but no transaction has succeeded for stallAfterMs → DRV_ERR_BUS_STALLED. */
  private armWatchdog(): void {
    const stallAfterMs = this.options.stallAfterMs ?? 30_000;
    const check = () => {
      if (!this.running) return;
      const now = this.clock.now();
      const quietFor = now - this.lastSuccessAt;
      const workDue = [...this.channels.values()].some((c) => c.hasDueWork(now));
      if (!this.stalled && quietFor >= stallAfterMs && workDue) {
        this.stalled = true;
        const error = new DoorstepError('DRV_ERR_BUS_STALLED', {
          bus: this.bus,
          stalledMs: Math.round(quietFor),
          failures: Object.entries(this.streakFailures)
            .map(([code, n]) => `${n}× ${code}`)
            .join(', '),
        });
        this.logger.error({ err: error, failures: this.streakFailures }, 'bus stalled');
        this.emit(this.listeners.stall, { bus: this.bus, stalled: true, error });
      }
      // Transactions still failing a whole stallAfterMs after the last valid reply: degraded,
      // also when every device is offline and only probed now and then (no work due at a check).
      const failingFor = this.lastFailureAt - this.lastSuccessAt;
      if (this.degradedSince === undefined && (this.stalled || failingFor >= stallAfterMs)) {
        this.degradedSince = now;
        this.logger.warn(
          { failures: this.streakFailures, quietMs: Math.round(quietFor) },
          'bus delivers no valid reply',
        );
      }
      this.watchdogTimer = this.clock.setTimeout(check, Math.max(10, stallAfterMs / 4));
    };
    this.watchdogTimer = this.clock.setTimeout(check, Math.max(10, stallAfterMs / 4));
  }

  private validate(task: PollTask): void {
    const fail = (reason: string) =>
      new DoorstepError('DRV_ERR_BAD_REQUEST', { target: task.device, reason });
    if (this.deviceChannel.has(task.device))
      throw fail(`device ${task.device} is already on bus ${this.bus}`);
    const [minUnit, maxUnit] = this.options.protocol === 'rtu' ? [1, 247] : [0, 255];
    if (!Number.isInteger(task.unitId) || task.unitId < minUnit || task.unitId > maxUnit) {
      throw fail(`unit id ${task.unitId} is not in ${minUnit}–${maxUnit}`);
    }
    if (!(task.timeoutMs > 0)) throw fail(`timeoutMs ${task.timeoutMs} must be > 0`);
    if (
      task.lateReplyGuardMs !== undefined &&
      !(Number.isFinite(task.lateReplyGuardMs) && task.lateReplyGuardMs >= 0)
    )
      throw fail(`lateReplyGuardMs ${task.lateReplyGuardMs} must be ≥ 0`);
    if (!Number.isInteger(task.retries) || task.retries < 0)
      throw fail(`retries ${task.retries} must be an integer ≥ 0`);
    if (this.options.protocol === 'tcp' && !task.endpoint)
      throw fail('a Modbus TCP device needs an endpoint');
    if (task.blocks.length === 0) throw fail('no blocks to poll');
    const ids = new Set<string>();
    for (const block of task.blocks) {
      if (ids.has(block.id)) throw fail(`block id ${block.id} appears twice`);
      ids.add(block.id);
      const bits = block.table === 'coil' || block.table === 'discrete';
      const max = bits ? LIMITS.readBits : LIMITS.readRegisters;
      if (!Number.isInteger(block.count) || block.count < 1 || block.count > max) {
        throw fail(`block ${block.id}: count ${block.count} is not in 1–${max}`);
      }
      if (!Number.isInteger(block.address) || block.address < 0 || block.address + block.count > 0x10000) {
        throw fail(`block ${block.id}: address ${block.address} is outside 0–65535`);
      }
      if (!(Number.isFinite(block.intervalMs) && block.intervalMs >= 0))
        throw fail(`block ${block.id}: intervalMs must be ≥ 0 (0 = as fast as the bus allows)`);
    }
  }
}

function writeRequest(device: string, command: WriteCommand): ModbusRequest {
  const { table, address, values } = command;
  const fail = (reason: string) => new DoorstepError('DRV_ERR_BAD_REQUEST', { target: device, reason });
  if (values.length === 0) throw fail('nothing to write');
  if (table === 'coil') {
    if (!values.every((v) => typeof v === 'boolean')) throw fail('coil values must be booleans');
    const bits = values as boolean[];
    return bits.length === 1
      ? { kind: 'writeCoil', address, value: bits[0]! }
      : { kind: 'writeCoils', address, values: bits };
  }
  if (table === 'holding') {
    if (!values.every((v) => typeof v === 'number')) throw fail('register values must be numbers');
    const registers = values as number[];
    return registers.length === 1
      ? { kind: 'writeRegister', address, value: registers[0]! }
      : { kind: 'writeRegisters', address, values: registers };
  }
  throw fail(`table ${String(table)} is not writable`);
}
