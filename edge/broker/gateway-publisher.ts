import type { z } from 'zod';
import { type Logger, silentLogger } from '../../common/log.js';
import { AlarmTransition } from '../../protocol/alarm.js';
import { DeviceLinkState } from '../../protocol/device.js';
import { DoorstepError, isDoorstepError } from '../../protocol/errors.js';
import { Reading } from '../../protocol/reading.js';
import { formatPath } from '../../protocol/validation.js';
import { type CommandHandler, type CommandResult, parseCommand } from './commands.js';
import type { LocalBroker } from './local-broker.js';
import {
  activeAlarmTopic,
  alarmTopic,
  COMMAND_RESULT_LEVEL,
  commandFilter,
  commandResultTopic,
  deviceStatusTopic,
  healthTopic,
  readingTopic,
} from './topics.js';

/**
 * What the gateway publishes on its local topic tree, and where its commands come in (README
 * "Topic tree"). Every input is validated before anything is published, so a bad batch publishes
 * nothing (invariant 10).
 */
export class GatewayPublisher {
  private readonly broker: LocalBroker;
  private readonly gateway: string;
  private readonly logger: Logger;

  constructor(broker: LocalBroker, options: { logger?: Logger } = {}) {
    this.broker = broker;
    this.gateway = broker.gatewayId;
    this.logger = (options.logger ?? silentLogger()).child({
      component: 'gateway-publisher',
      gateway: this.gateway,
    });
  }

  /** `readings/<device>/<point>`: {value, unit, quality, ts}, QoS 0, not retained (the next poll replaces it). */
  async publishReadings(readings: readonly Reading[]): Promise<void> {
    const messages = readings.map((input, index) => {
      const reading = validate(Reading, input, `readings[${index}]`);
      const { value, unit, quality, ts } = reading;
      return {
        topic: readingTopic(this.gateway, reading.device, reading.point),
        body: { value, unit, quality, ts },
      };
    });
    for (const { topic, body } of messages)
      await this.broker.publish({ topic, payload: JSON.stringify(body), qos: 0 });
  }

  /**
   * `alarms/<device>/<type>`: the transition, QoS 1, not retained; then the retained
   * `alarms/active/<device>/<type>`, which holds the alarm while it is active. A latched alarm stays
   * active after its condition clears, until it is reset. An empty retained payload deletes the
   * retained message (MQTT 3.1.1 §3.3.1.3).
   */
  async publishAlarm(input: AlarmTransition): Promise<void> {
    const transition = validate(AlarmTransition, input, 'transition');
    const payload = JSON.stringify(transition);
    const eventTopic = alarmTopic(this.gateway, transition.device, transition.type);
    const activeTopic = activeAlarmTopic(this.gateway, transition.device, transition.type);
    const stillActive =
      transition.state === 'raised' || (transition.state === 'cleared' && transition.latched);
    await this.broker.publish({ topic: eventTopic, payload, qos: 1 });
    await this.broker.publish({
      topic: activeTopic,
      payload: stillActive ? payload : '',
      qos: 1,
      retain: true,
    });
  }

  /**
   * Only the retained `alarms/active/<device>/<type>` of an alarm still active after a gateway
   * restart (the broker's retained messages live in memory): no new transition is announced.
   */
  async restoreActiveAlarm(input: AlarmTransition): Promise<void> {
    const transition = validate(AlarmTransition, input, 'transition');
    await this.broker.publish({
      topic: activeAlarmTopic(this.gateway, transition.device, transition.type),
      payload: JSON.stringify(transition),
      qos: 1,
      retain: true,
    });
  }

  /** `devices/<device>/status`: the DeviceLinkState, QoS 1, retained (a new watcher sees it at once). */
  async publishDeviceState(input: DeviceLinkState): Promise<void> {
    const state = validate(DeviceLinkState, input, 'state');
    await this.broker.publish({
      topic: deviceStatusTopic(this.gateway, state.device),
      payload: JSON.stringify(state),
      qos: 1,
      retain: true,
    });
  }

  /** `health`: any JSON object, QoS 1, retained. */
  async publishHealth(health: Record<string, unknown>): Promise<void> {
    if (health === null || typeof health !== 'object' || Array.isArray(health))
      throw new DoorstepError('EDGE_ERR_BROKER_PUBLISH', {
        topic: healthTopic(this.gateway),
        reason: 'health must be a JSON object',
      });
    await this.broker.publish({
      topic: healthTopic(this.gateway),
      payload: JSON.stringify(health),
      qos: 1,
      retain: true,
    });
  }

  /**
   * Handles `commands/<command>` with `handler` and answers every one on `commands/result`
   * (QoS 1). An invalid body is answered with ok:false naming the field, and the handler is not
   * called. Resolves to an unsubscribe function.
   */
  onCommand(handler: CommandHandler): Promise<() => Promise<void>> {
    return this.broker.subscribe(commandFilter(this.gateway), async (message) => {
      const name = message.topic.slice(message.topic.lastIndexOf('/') + 1);
      if (name === COMMAND_RESULT_LEVEL) return;
      const result = await this.runCommand(name, message.payload, handler);
      await this.broker.publish({
        topic: commandResultTopic(this.gateway),
        payload: JSON.stringify(result),
        qos: 1,
      });
    });
  }

  private async runCommand(name: string, payload: Buffer, handler: CommandHandler): Promise<CommandResult> {
    const parsed = parseCommand(name, payload);
    if (!parsed.ok) {
      this.logger.warn({ command: name, error: parsed.result.error }, 'invalid command refused');
      return parsed.result;
    }
    const { command } = parsed;
    const requestId = command.requestId ?? null;
    this.logger.info(
      { command: command.command, device: command.device, by: command.by, requestId },
      'command received',
    );
    try {
      const outcome = await handler(command);
      if (outcome.ok) return { requestId, command: name, ok: true };
      return {
        requestId,
        command: name,
        ok: false,
        error: outcome.error,
        ...(outcome.code ? { code: outcome.code } : {}),
      };
    } catch (error) {
      this.logger.warn({ err: error, command: name, requestId }, 'command failed');
      const code = isDoorstepError(error) ? error.code : undefined;
      return {
        requestId,
        command: name,
        ok: false,
        error: (error as Error).message ?? String(error),
        ...(code ? { code } : {}),
      };
    }
  }
}

function validate<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const reason = parsed.error.issues
    .map((issue) => `${formatPath([what, ...issue.path])}: ${issue.message}`)
    .join('; ');
  throw new DoorstepError('EDGE_ERR_BROKER_PUBLISH', { topic: what, reason });
}
