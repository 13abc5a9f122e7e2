import { z } from 'zod';
import { AlarmType } from '../../protocol/alarm.js';
import { DoorstepError, type ErrorCode } from '../../protocol/errors.js';
import { DeviceId } from '../../protocol/site.js';
import { formatPath, type ValidationIssue } from '../../protocol/validation.js';
import { COMMAND_NAMES, type CommandName } from './topics.js';

/**
 * Commands local staff send on `doorstep/<gw>/commands/<command>` (README "Commands"). Each body
 * is validated strictly: an unknown field is as wrong as a missing one, so a typo such as
 * `"of": false` for walk test is reported instead of silently meaning something else.
 */
const Who = z.string().trim().min(1).max(64);
const RequestId = z.string().min(1).max(96);

const common = {
  device: DeviceId,
  /** Who asked (a person or a system such as "node-red"); recorded with the action. */
  by: Who,
  /** Echoed on the result so the sender can match it. */
  requestId: RequestId.optional(),
};

export const AckCommand = z.object({ ...common, type: AlarmType.optional() }).strict();
export const SilenceCommand = z.object({ ...common, type: AlarmType.optional() }).strict();
/** A latched alarm is reset one (device, type) at a time (one writer per alarm, invariant 6). */
export const ResetCommand = z.object({ ...common, type: AlarmType }).strict();
export const WalkTestCommand = z.object({ ...common, on: z.boolean() }).strict();

export const COMMAND_SCHEMAS = {
  ack: AckCommand,
  silence: SilenceCommand,
  reset: ResetCommand,
  walk_test: WalkTestCommand,
} as const satisfies Record<CommandName, z.ZodType>;

export type GatewayCommand =
  | ({ command: 'ack' } & z.output<typeof AckCommand>)
  | ({ command: 'silence' } & z.output<typeof SilenceCommand>)
  | ({ command: 'reset' } & z.output<typeof ResetCommand>)
  | ({ command: 'walk_test' } & z.output<typeof WalkTestCommand>);

/** Published on `doorstep/<gw>/commands/result`, QoS 1, not retained. */
export interface CommandResult {
  /** The request's requestId, or null when it had none (or none could be read). */
  requestId: string | null;
  command: string;
  ok: boolean;
  /** For people: what was wrong, naming the field. */
  error?: string;
  /** Catalogue code when the failure has one (EDGE_ERR_BROKER_COMMAND for a bad request). */
  code?: ErrorCode | string;
  /** Every field problem, with its path, when the body was invalid. */
  issues?: ValidationIssue[];
}

/** What a command handler answers; throwing has the same effect as `{ ok: false }`. */
export type CommandOutcome = { ok: true } | { ok: false; error: string; code?: string };
export type CommandHandler = (command: GatewayCommand) => Promise<CommandOutcome>;

export type ParsedCommand = { ok: true; command: GatewayCommand } | { ok: false; result: CommandResult };

/** Turns a raw command message into a command, or into the failure result to publish. */
export function parseCommand(name: string, payload: Buffer | string): ParsedCommand {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return fail(name, null, 'payload is not valid JSON', []);
  }
  const requestId = readRequestId(body);
  if (!(COMMAND_NAMES as readonly string[]).includes(name))
    return fail(name, requestId, `unknown command "${name}"; known: ${COMMAND_NAMES.join(', ')}`, []);
  const schema = COMMAND_SCHEMAS[name as CommandName];
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issuePath(issue), message: issue.message }));
    const summary = issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; ');
    return fail(name, requestId, summary, issues);
  }
  return { ok: true, command: { command: name, ...parsed.data } as GatewayCommand };
}

function fail(
  command: string,
  requestId: string | null,
  reason: string,
  issues: ValidationIssue[],
): ParsedCommand {
  const error = new DoorstepError('EDGE_ERR_BROKER_COMMAND', { command, reason });
  return {
    ok: false,
    result: { requestId, command, ok: false, error: error.message, code: error.code, issues },
  };
}

/** Unknown keys are reported by name ("unrecognized key: of") so the path names the field. */
function issuePath(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return formatPath([...issue.path, ...issue.keys.slice(0, 1)]);
  return formatPath(issue.path);
}

function readRequestId(body: unknown): string | null {
  if (body && typeof body === 'object' && 'requestId' in body) {
    const parsed = RequestId.safeParse((body as { requestId: unknown }).requestId);
    if (parsed.success) return parsed.data;
  }
  return null;
}
