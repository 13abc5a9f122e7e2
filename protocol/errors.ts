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
