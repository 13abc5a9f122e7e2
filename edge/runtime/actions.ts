import type { Logger } from '../../common/log.js';
import type { WriteCommand } from '../../drivers/bus/types.js';
import type { AlarmTransition } from '../../protocol/index.js';
import type { ActionEntry } from '../config/schema.js';

/** What happened when an action ran: recorded in the outbox (event `action_result`) and the log. */
export interface ActionResult {
  action: string;
  alarm: string;
  device: string;
  type: string;
  /** `activate` on a raised alarm; `release` when the last alarm holding it ends or is silenced. */
  step: 'activate' | 'release';
  ok: boolean;
  error?: string;
  ts: number;
}

export interface ActionPorts {
  /** Writes through the bus scheduler of the device's bus (one request in flight per bus). */
  write(device: string, command: WriteCommand): Promise<void>;
  publish(topic: string, payload: string, qos: 0 | 1): Promise<void>;
  record(result: ActionResult): void;
  now(): number;
  logger: Logger;
}

/**
 * Local actions: on an alarm, switch a siren/strobe relay or a shut-off valve, or publish an MQTT
 * command — on site, whatever the uplink does. An output stays active while any alarm that
 * triggered it is active (raised and not yet cleared, or latched and not yet reset) and has not
 * been silenced; it is released when the last one ends.
 */
export class LocalActions {
  /** action id → the alarms currently holding it (alarm id → its device and type). */
  private readonly holders = new Map<string, Map<string, { device: string; type: string }>>();
  private readonly latched = new Set<string>();

  constructor(
    private actions: readonly ActionEntry[],
    private readonly ports: ActionPorts,
  ) {}

  /** Config reload: outputs of removed actions are released first. */
  replace(actions: readonly ActionEntry[]): void {
    const keep = new Set(actions.map((a) => a.id));
    for (const action of this.actions)
      if (!keep.has(action.id) && (this.holders.get(action.id)?.size ?? 0) > 0) {
        this.holders.delete(action.id);
        void this.run(action, 'release', { id: '(reload)', device: '-', type: '-' });
      }
    this.actions = actions;
  }

  handle(t: AlarmTransition): void {
    if (t.state === 'raised' && t.latched) this.latched.add(t.id);
    for (const action of this.actions) {
      if (!action.on.types.includes(t.type)) continue;
      if (action.on.devices && !action.on.devices.includes(t.device)) continue;
      if (t.test && !action.on.includeTests) continue;
      const holders = this.holders.get(action.id) ?? new Map<string, { device: string; type: string }>();
      this.holders.set(action.id, holders);
      if (t.state === 'raised') {
        const wasIdle = holders.size === 0;
        holders.set(t.id, { device: t.device, type: t.type });
        if (wasIdle) void this.run(action, 'activate', t);
      } else if (t.state === 'reset' || (t.state === 'cleared' && !this.latched.has(t.id))) {
        if (holders.delete(t.id) && holders.size === 0) void this.run(action, 'release', t);
      }
    }
    if (t.state === 'reset') this.latched.delete(t.id);
  }

  /**
   * A person silenced the siren (local command or cloud downlink): release every output the
   * device's alarms hold, without ending the alarms themselves. Returns how many were released.
   */
  silence(device: string, type?: string): number {
    let released = 0;
    for (const action of this.actions) {
      const holders = this.holders.get(action.id);
      if (!holders || holders.size === 0) continue;
      const mine = [...holders]
        .filter(([, h]) => h.device === device && (!type || h.type === type))
        .map(([id]) => id);
      if (mine.length === 0) continue;
      for (const id of mine) holders.delete(id);
      if (holders.size === 0) {
        released++;
        void this.run(action, 'release', { id: mine[0]!, device, type: type ?? '*' });
      }
    }
    return released;
  }

  /** Which actions are active now, and because of which alarms (for health). */
  active(): Record<string, string[]> {
    return Object.fromEntries(
      [...this.holders].filter(([, h]) => h.size > 0).map(([a, h]) => [a, [...h.keys()]]),
    );
  }

  private async run(
    action: ActionEntry,
    step: ActionResult['step'],
    cause: Pick<AlarmTransition, 'id' | 'device' | 'type'>,
  ): Promise<void> {
    const base = { action: action.id, alarm: cause.id, device: cause.device, type: cause.type, step };
    try {
      if (action.do.kind === 'write') {
        const value = step === 'activate' ? action.do.activeValue : action.do.idleValue;
        const command: WriteCommand =
          action.do.table === 'coil'
            ? { table: 'coil', address: action.do.address, values: [Boolean(value)] }
            : { table: 'holding', address: action.do.address, values: [Number(value)] };
        await this.ports.write(action.do.device, command);
      } else {
        const payload = JSON.stringify({
          action: action.id,
          step,
          alarm: cause.id,
          device: cause.device,
          type: cause.type,
        });
        await this.ports.publish(action.do.topic, payload, action.do.qos);
      }
      this.ports.record({ ...base, ok: true, ts: this.ports.now() });
      this.ports.logger.info(base, 'local action done');
    } catch (error) {
      const message = (error as Error).message;
      this.ports.record({ ...base, ok: false, error: message, ts: this.ports.now() });
      this.ports.logger.error({ ...base, err: error }, 'local action failed');
    }
  }
}
