import type { DownlinkCommand } from '../../protocol/index.js';
import type { AlarmCaseStore } from '../alarms/store/port.js';

/**
 * Commands waiting for a gateway. Gateways behind 4G NAT cannot be called, so a command waits here
 * and rides along in every sync response until the gateway answers it with a `command_result`
 * event naming the command id (at-least-once delivery; the gateway dedups by id).
 *
 * Delivery is keyed by (gateway, id): a gateway can only settle its own commands.
 */
export interface CommandQueue {
  enqueue(gateway: string, command: DownlinkCommand): Promise<void>;
  /** Commands not yet answered, oldest first. */
  pendingFor(gateway: string, limit?: number): Promise<DownlinkCommand[]>;
  /** Removes answered commands; returns how many were pending. Unknown ids are ignored. */
  markDelivered(gateway: string, ids: readonly string[]): Promise<number>;
}

/**
 * The queue of record: commands persisted in the cloud's database (the case store's
 * `alarm_commands` table), so they survive a restart and every cloud instance delivers the same
 * ones. Commands about a case (`alarm` set) get their answer on the case's audit trail.
 */
export class StoreCommandQueue implements CommandQueue {
  constructor(
    private readonly cases: AlarmCaseStore,
    private readonly clock: () => number,
  ) {}

  async enqueue(gateway: string, command: DownlinkCommand): Promise<void> {
    await this.cases.enqueueCommand(gateway, command, this.clock());
  }

  async pendingFor(gateway: string, limit = 100): Promise<DownlinkCommand[]> {
    return this.cases.pendingCommands(gateway, limit);
  }

  async markDelivered(gateway: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return (
      await this.cases.settleCommands(
        gateway,
        [...new Set(ids)].map((id) => ({ id })),
        this.clock(),
      )
    ).length;
  }
}

/**
 * In-process queue for tests that need no database. It does not survive a restart and is not
 * shared between instances; the cloud uses StoreCommandQueue.
 */
export class MemoryCommandQueue implements CommandQueue {
  private readonly byGateway = new Map<string, Map<string, DownlinkCommand>>();

  async enqueue(gateway: string, command: DownlinkCommand): Promise<void> {
    let queue = this.byGateway.get(gateway);
    if (!queue) {
      queue = new Map();
      this.byGateway.set(gateway, queue);
    }
    if (!queue.has(command.id)) queue.set(command.id, command);
  }

  async pendingFor(gateway: string, limit = 100): Promise<DownlinkCommand[]> {
    return [...(this.byGateway.get(gateway)?.values() ?? [])].slice(0, limit);
  }

  async markDelivered(gateway: string, ids: readonly string[]): Promise<number> {
    const queue = this.byGateway.get(gateway);
    if (!queue) return 0;
    let n = 0;
    for (const id of ids) if (queue.delete(id)) n++;
    if (queue.size === 0) this.byGateway.delete(gateway);
    return n;
  }
}
