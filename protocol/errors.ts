/**
 * The one catalogue of error codes for the whole of doorstep (DESIGN: "one catalogue of error
 * codes"). Every error a user can meet carries one of these codes; docs/errors.md lists them and a
 * test keeps the two in step. Message templates use {name} placeholders filled from `details`.
 */
export const ERROR_CATALOGUE = {
  // ── drivers: links and Modbus ──────────────────────────────────────────────────────────────
  DRV_ERR_TIMEOUT: {
    message: 'no reply from {target} within {timeoutMs} ms',
    hint: 'Check wiring (A/B swapped?), power, unit id and baud rate/parity of the device.',
  },
  DRV_ERR_CRC: {
    message: 'reply from {target} failed its CRC check',
    hint: 'Noise or a baud/parity mismatch on the RS-485 line; check termination and shielding.',
  },
  DRV_ERR_SHORT_FRAME: {
    message: 'reply from {target} was truncated ({got} of {expected} bytes)',
    hint: 'The device stopped mid-reply or another master is on the bus.',
  },
  DRV_ERR_UNIT_MISMATCH: {
    message: 'reply came from unit {got}, expected unit {expected}',
    hint: 'Two devices share an address, or a late reply from another unit arrived.',
  },
  DRV_ERR_EXCEPTION: {
    message: '{target} answered with Modbus exception {exceptionCode} ({exceptionName})',
    hint: 'The register map does not match the device: check the profile and firmware version.',
  },
  DRV_ERR_BAD_REPLY: {
    message: 'reply from {target} is malformed: {reason}',
    hint: 'The device does not speak the expected function code or framing.',
  },
  DRV_ERR_LINK_DOWN: {
    message: 'link {link} is not open: {reason}',
    hint: 'The serial adapter was unplugged or the TCP peer is unreachable; doorstep reconnects with backoff.',
  },
  DRV_ERR_LINK_OPEN: {
    message: 'cannot open {link}: {reason}',
    hint: 'Check the port path (prefer /dev/serial/by-id/…), permissions (group dialout) and that nothing else holds it.',
  },
  DRV_ERR_BUS_STALLED: {
    message: 'bus {bus} completed no transaction for {stalledMs} ms',
    hint: 'The bus scheduler is stuck or every device is offline; see device states.',
  },
  DRV_ERR_CANCELLED: {
    message: 'request to {target} was cancelled: {reason}',
    hint: 'The bus was stopped or reconfigured while the request waited.',
  },
  DRV_ERR_DECODE: {
    message: 'cannot decode {point} of {device}: {reason}',
    hint: 'The register values do not fit the profile (wrong data type or word order?).',
  },
  DRV_ERR_PROFILE: {
    message: 'profile {profile} is invalid: {reason}',
    hint: 'Fix the profile declaration; every problem is listed with its path.',
  },
  DRV_ERR_UNKNOWN_PROFILE: {
    message: 'no sensor profile named {profile}',
    hint: 'Run `doorstep sim --list-profiles` to see the registered profiles.',
  },
  DRV_ERR_FRAME_CHECKSUM: {
    message: 'frame from {link} discarded: checksum {got}, expected {expected}',
    hint: 'Radio noise or a receiver speaking another frame format.',
  },
  DRV_ERR_FRAME_SYNTAX: {
    message: 'frame from {link} discarded: {reason}',
    hint: 'The receiver speaks another frame format or the baud rate is wrong.',
  },
  DRV_ERR_MQTT_PAYLOAD: {
    message: 'MQTT message on {topic} rejected: {reason}',
    hint: 'The sensor publishes a payload the profile does not describe.',
  },
  // ── drivers: wireless frame receivers (drivers/frames) ─────────────────────────────────────
  DRV_ERR_FRAME_UNKNOWN_DETECTOR: {
    message: 'frame from {link} names detector {detector}, which is bound to no device',
    hint: 'Add the detector to the receiver configuration, or it belongs to a neighbouring receiver.',
  },
  // ── drivers: Modbus requests and the bus scheduler ─────────────────────────────────────────
  DRV_ERR_BAD_REQUEST: {
    message: 'request to {target} is invalid: {reason}',
    hint: 'Modbus limits a read to 125 registers or 2000 bits and a write to 123 registers or 1968 coils; addresses are 0–65535.',
  },
  DRV_ERR_UNKNOWN_DEVICE: {
    message: 'bus {bus} has no device {device}',
    hint: 'The device was removed or never configured on this bus; check the site configuration.',
  },
  // ── drivers: simulated Modbus devices (drivers/sim) ──────────────────────────────────────────
  SIM_ERR_CONFIG: {
    message: 'simulator {what} is invalid: {reason}',
    hint: 'Unit ids are 1–247 on RTU (0 is broadcast) and 0–255 on TCP; fault and pacing settings must be in range.',
  },
  SIM_ERR_VALUE: {
    message: 'value {value} does not fit {type} at {table} address {address}',
    hint: 'Check the data type, range and scale of the simulated point.',
  },
  // ── configuration (any component) ─────────────────────────────────────────────────────────
  CFG_ERR_INVALID: {
    message: 'configuration has {count} problem(s): {summary}',
    hint: 'Each problem is listed with its path; fix them and start again.',
  },
  CFG_ERR_UNREADABLE: {
    message: 'cannot read configuration file {file}: {reason}',
    hint: 'Check the path and permissions, and that the file is valid YAML.',
  },
  CLI_ERR_USAGE: {
    message: '{reason}',
    hint: 'Run `doorstep --help` or `doorstep <command> --help`.',
  },
  // ── edge: outbox ──────────────────────────────────────────────────────────────────────────
  EDGE_ERR_OUTBOX_ENTRY: {
    message: 'outbox entry {index} rejected: {reason}',
    hint: 'The producer built an invalid entry; nothing of this put() was stored. Fix the producer.',
  },
  EDGE_ERR_OUTBOX_CLOSED: {
    message: 'outbox {outbox} is not open',
    hint: 'open() the outbox before use; it was closed or never opened (a bug in the wiring).',
  },
  EDGE_ERR_OUTBOX_OPEN: {
    message: 'cannot open outbox {outbox}: {reason}',
    hint: 'Check the data directory (exists, writable, free space) and that no other doorstep process holds the file.',
  },
  EDGE_ERR_OUTBOX_SCHEMA: {
    message: 'outbox {outbox} has schema version {found}; this build supports up to {supported}',
    hint: 'The file was written by a newer doorstep. Upgrade the gateway software instead of downgrading it.',
  },
  // ── edge: alarm rules (edge/rules) ─────────────────────────────────────────────────────────
  EDGE_ERR_RULE_STATE: {
    message: 'rule state store {file} failed: {reason}',
    hint: 'Check the path, free disk space and permissions of the gateway data directory.',
  },
  EDGE_ERR_RULE_RESET: {
    message: 'cannot reset {type} of {device}: {reason}',
    hint: 'Only a latched alarm whose condition has ended can be reset; check the device first.',
  },
  // ── edge: local MQTT broker (edge/broker) ──────────────────────────────────────────────────
  EDGE_ERR_BROKER_LISTEN: {
    message: 'local MQTT broker cannot listen on {host}:{port}: {reason}',
    hint: 'Another process holds the port (a second doorstep, mosquitto?), or the address is not on this host.',
  },
  EDGE_ERR_BROKER_STATE: {
    message: 'local MQTT broker is {state}; {operation} needs it running',
    hint: 'start() the broker before publishing or subscribing (a bug in the wiring).',
  },
  EDGE_ERR_BROKER_PUBLISH: {
    message: 'cannot publish on {topic}: {reason}',
    hint: 'The message or one of its ids is invalid; nothing was published.',
  },
  EDGE_ERR_BROKER_TOPIC: {
    message: 'cannot build the {what} topic: {reason}',
    hint: 'Gateway, device and point ids must be slugs without "/", "+" or "#".',
  },
  EDGE_ERR_BROKER_COMMAND: {
    message: 'command {command} rejected: {reason}',
    hint: 'Check the JSON body against the command table in edge/broker/README.md; nothing was changed.',
  },
  EDGE_ERR_BROKER_PASSWORD: {
    message: 'cannot hash or check a broker password: {reason}',
    hint: 'Passwords must be non-empty; hashes look like scrypt$N$r$p$salt$hash (see edge/broker/README.md).',
  },
} as const satisfies Record<string, { message: string; hint: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export type ErrorDetails = Record<string, string | number | boolean | undefined>;

export function formatErrorMessage(code: ErrorCode, details: ErrorDetails = {}): string {
  return ERROR_CATALOGUE[code].message.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = details[key];
    return value === undefined ? `{${key}}` : String(value);
  });
}

/** An error with a catalogue code. `details` are machine-readable; `message` is for people. */
export class DoorstepError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  constructor(code: ErrorCode, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(formatErrorMessage(code, details), options);
    this.name = 'DoorstepError';
    this.code = code;
    this.details = details;
  }
  get hint(): string {
    return ERROR_CATALOGUE[this.code].hint;
  }
  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isDoorstepError(error: unknown, code?: ErrorCode): error is DoorstepError {
  return error instanceof DoorstepError && (code === undefined || error.code === code);
}
