import { DoorstepError } from '../../protocol/errors.js';
import { SLUG_PATTERN } from '../../protocol/site.js';

/**
 * The gateway's local MQTT topic tree (edge/broker/README.md has it as a table). Every topic the
 * gateway owns sits under `doorstep/<gateway id>/`; MQTT-native sensors publish under `sensors/`.
 * Ids become topic levels, so each is checked to be a slug (no "/", "+", "#" — MQTT 3.1.1 §4.7.1).
 */
export const TOPIC_ROOT = 'doorstep';
/** Where MQTT-native sensors publish, free form; drivers/mqtt reads it. */
export const SENSOR_TOPIC_FILTER = 'sensors/#';

export const COMMAND_NAMES = ['ack', 'silence', 'reset', 'walk_test'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];
/** The level under `commands/` where results are published; never a command name. */
export const COMMAND_RESULT_LEVEL = 'result';

// Point names and alarm types are snake_case (protocol/reading.ts, protocol/alarm.ts): slugs too.
function level(what: string, name: string, value: string): string {
  if (typeof value !== 'string' || !SLUG_PATTERN.test(value))
    throw new DoorstepError('EDGE_ERR_BROKER_TOPIC', {
      what,
      reason: `${name} ${JSON.stringify(value)} is not a slug (a-z, 0-9, "-", "_")`,
    });
  return value;
}

function root(what: string, gateway: string): string {
  return `${TOPIC_ROOT}/${level(what, 'gateway id', gateway)}`;
}

export function readingTopic(gateway: string, device: string, point: string): string {
  return `${root('reading', gateway)}/readings/${level('reading', 'device', device)}/${level('reading', 'point', point)}`;
}

export function alarmTopic(gateway: string, device: string, type: string): string {
  return `${root('alarm', gateway)}/alarms/${level('alarm', 'device', device)}/${level('alarm', 'alarm type', type)}`;
}

/** `active` cannot collide with a device id level: alarm topics have 5 levels, active ones 6. */
export function activeAlarmTopic(gateway: string, device: string, type: string): string {
  const what = 'active alarm';
  return `${root(what, gateway)}/alarms/active/${level(what, 'device', device)}/${level(what, 'alarm type', type)}`;
}

export function deviceStatusTopic(gateway: string, device: string): string {
  return `${root('device status', gateway)}/devices/${level('device status', 'device', device)}/status`;
}

export function healthTopic(gateway: string): string {
  return `${root('health', gateway)}/health`;
}

export function commandTopic(gateway: string, command: CommandName): string {
  if (!(COMMAND_NAMES as readonly string[]).includes(command))
    throw new DoorstepError('EDGE_ERR_BROKER_TOPIC', {
      what: 'command',
      reason: `unknown command ${command}`,
    });
  return `${root('command', gateway)}/commands/${command}`;
}

/** Filter the gateway subscribes to internally for commands (also matches the result level). */
export function commandFilter(gateway: string): string {
  return `${root('command', gateway)}/commands/+`;
}

export function commandResultTopic(gateway: string): string {
  return `${root('command result', gateway)}/commands/${COMMAND_RESULT_LEVEL}`;
}

export type ParsedTopic =
  | { kind: 'reading'; gateway: string; device: string; point: string }
  | { kind: 'alarm'; gateway: string; device: string; type: string }
  | { kind: 'active_alarm'; gateway: string; device: string; type: string }
  | { kind: 'device_status'; gateway: string; device: string }
  | { kind: 'health'; gateway: string }
  | { kind: 'command'; gateway: string; command: string }
  | { kind: 'command_result'; gateway: string }
  | { kind: 'sensor'; path: string[] };

/**
 * What a topic is in the tree, or undefined for anything else. A `command` may name an unknown
 * command: the command layer answers it with a clear error rather than ignoring it.
 */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split('/');
  if (parts[0] === 'sensors' && parts.length > 1) return { kind: 'sensor', path: parts.slice(1) };
  if (parts[0] !== TOPIC_ROOT || parts.length < 3) return undefined;
  if (!parts.every((part) => SLUG_PATTERN.test(part) || part === TOPIC_ROOT)) return undefined;
  const [, gateway = '', section, a, b, c] = parts;
  const n = parts.length;
  if (section === 'health' && n === 3) return { kind: 'health', gateway };
  if (section === 'readings' && n === 5 && a && b) return { kind: 'reading', gateway, device: a, point: b };
  if (section === 'alarms' && n === 6 && a === 'active' && b && c)
    return { kind: 'active_alarm', gateway, device: b, type: c };
  if (section === 'alarms' && n === 5 && a && b) return { kind: 'alarm', gateway, device: a, type: b };
  if (section === 'devices' && n === 5 && a && b === 'status')
    return { kind: 'device_status', gateway, device: a };
  if (section === 'commands' && n === 4 && a === COMMAND_RESULT_LEVEL)
    return { kind: 'command_result', gateway };
  if (section === 'commands' && n === 4 && a) return { kind: 'command', gateway, command: a };
  return undefined;
}
