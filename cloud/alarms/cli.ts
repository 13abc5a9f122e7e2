/**
 * `doorstep alarm …`: the case API from a terminal, for duty staff without the console. Talks to a
 * running cloud over HTTP with an API token; every refusal is printed with the server's code and
 * message. Exit codes: 0 done, 1 refused or unreachable, 2 wrong usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DoorstepError, ERROR_CATALOGUE, isDoorstepError } from '../../protocol/errors.js';
import { STAGE_LABELS } from './contract.js';

const HELP = `Usage: doorstep alarm <command> [ID] [options]

Commands:
  list                         cases in your scope, newest first
                               [--stage S] [--open | --closed] [--scope PATH] [--limit N]
  show ID                      one case with its audit trail
  ack ID                       acknowledge (the gateway silences its local siren)
  feedback ID --cause C --note N [--photo FILE.jpg|png]
                               record the cause: real, false_alarm, test, maintenance, other
  close ID                     close (办结): cleared or reset, acknowledged, with feedback
  shelve ID --reason R --hours H   shelve for H hours (≤ 24)
  unshelve ID                  end shelving
  out-of-service ID --reason R take out of service for maintenance
  return-to-service ID         return to service (announced again if still active)
  reset ID                     ask the gateway to reset a latched alarm
  silence ID                   ask the gateway to silence the local sounder

Options:
  --url URL      the cloud (default: env DOORSTEP_URL)
  --token TOKEN  an API token, dsa_… (default: env DOORSTEP_TOKEN)
  --json         print the server's JSON answer
  -h, --help     show this help
`;

const ACTIONS = [
  'ack',
  'close',
  'unshelve',
  'reset',
  'silence',
  'feedback',
  'shelve',
  'out-of-service',
  'return-to-service',
];

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
}

const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

const usage = (reason: string) => new DoorstepError('CLI_ERR_USAGE', { reason });

// biome-ignore lint/suspicious/noExplicitAny: answers are printed field by field
type Json = Record<string, any>;

export async function run(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    return await main(argv, io);
  } catch (error) {
    if (!isDoorstepError(error)) throw error;
    io.err(`doorstep alarm: ${error.code}: ${error.message}`);
    io.err(`  hint: ${ERROR_CATALOGUE[error.code].hint}`);
    return error.code === 'CLI_ERR_USAGE' ? 2 : 1;
  }
}

async function main(argv: string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw usage(error instanceof Error ? error.message : String(error));
  }
  const { values: v, positionals } = parsed;
  const [command, id, ...extra] = positionals;
  if (v.help || command === 'help') {
    io.out(HELP);
    return 0;
  }
  if (!command)
    throw usage('a command is required: list, show, ack, feedback, close, shelve, reset, silence');
  if (extra.length > 0) throw usage(`unexpected argument "${extra[0]}"`);
  const url = (v.url ?? io.env['DOORSTEP_URL'])?.replace(/\/+$/, '');
  const token = v.token ?? io.env['DOORSTEP_TOKEN'];
  if (!url) throw usage('--url (or env DOORSTEP_URL) is required');
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw usage(`--url "${url}" must be http(s)://HOST[:PORT]`);
  if (!token) throw usage('--token (or env DOORSTEP_TOKEN) is required');
  const request = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    call(url, token, method, path, body);

  if (command === 'list') {
    if (id !== undefined) throw usage('list takes no ID');
    if (v.open && v.closed) throw usage('give --open or --closed, not both');
    const q = new URLSearchParams();
    if (v.stage) q.set('stage', v.stage);
    if (v.open || v.closed) q.set('open', v.open ? 'true' : 'false');
    if (v.scope) q.set('scope', v.scope);
    if (v.limit) q.set('limit', v.limit);
    const answer = await request('GET', `/v1/cases${q.size > 0 ? `?${q}` : ''}`);
    if (v.json) io.out(JSON.stringify(answer));
    else if (answer['items'].length === 0) io.out('no cases');
    else for (const c of answer['items'] as Json[]) io.out(caseLine(c));
    return 0;
  }
  if (command !== 'show' && !ACTIONS.includes(command))
    throw usage(`unknown command "${command}" (see doorstep alarm --help)`);
  if (!id) throw usage(`${command} needs a case ID`);
  const path = `/v1/cases/${encodeURIComponent(id)}`;

  if (command === 'show') {
    const answer = await request('GET', path);
    if (v.json) io.out(JSON.stringify(answer));
    else {
      io.out(caseLine(answer['case']));
      for (const line of details(answer['case'])) io.out(`  ${line}`);
      io.out('audit:');
      for (const e of answer['audit'] as Json[]) io.out(`  ${auditLine(e)}`);
    }
    return 0;
  }

  let body: Json = {};
  if (command === 'feedback') {
    if (!v.cause) throw usage('feedback needs --cause (real, false_alarm, test, maintenance, other)');
    if (!v.note) throw usage('feedback needs --note');
    body = { cause: v.cause, note: v.note, ...(v.photo ? { photo: photoDataUrl(v.photo) } : {}) };
  } else if (command === 'shelve') {
    if (!v.reason) throw usage('shelve needs --reason');
    const hours = Number(v.hours);
    if (v.hours === undefined || !Number.isFinite(hours)) throw usage('shelve needs --hours H (0 < H ≤ 24)');
    body = { reason: v.reason, hours };
  } else if (command === 'out-of-service') {
    if (!v.reason) throw usage('out-of-service needs --reason');
    body = { reason: v.reason };
  }
  const answer = await request('POST', `${path}/${command}`, body);
  if (v.json) io.out(JSON.stringify(answer));
  else io.out(`${command}: ${caseLine(answer['case'])}`);
  return 0;
}

/** One request to the cloud with an API token; refusals become RemoteRefusal (also `doorstep user`). */
export async function call(url: string, token: string, method: 'GET' | 'POST', path: string, body?: unknown) {
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'user-agent': 'doorstep-cli',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } })?.cause?.message;
    throw new DoorstepError('CLOUD_ERR_CASE_REMOTE', {
      url,
      reason: cause ?? (error instanceof Error ? error.message : String(error)),
    });
  }
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch {
    throw new DoorstepError('CLOUD_ERR_CASE_REMOTE', { url, reason: `HTTP ${res.status}, not JSON` });
  }
  if (!res.ok) throw new RemoteRefusal(res.status, json);
  return json;
}

/** The server said no: its own code and message are printed as they are. */
export class RemoteRefusal extends DoorstepError {
  constructor(status: number, body: Json) {
    const e = body['error'] ?? {};
    const code = typeof e.code === 'string' && e.code in ERROR_CATALOGUE ? e.code : 'CLOUD_ERR_INTERNAL';
    super(code, {});
    this.message = `${e.message ?? `HTTP ${status}`}${e.field ? ` (field ${e.field})` : ''} [HTTP ${status}]`;
  }
}

function photoDataUrl(file: string): string {
  const type = /\.png$/i.test(file) ? 'png' : /\.jpe?g$/i.test(file) ? 'jpeg' : undefined;
  if (!type) throw usage('--photo must be a .jpg, .jpeg or .png file');
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw usage(`--photo ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return `data:image/${type};base64,${bytes.toString('base64')}`;
}

const time = (ms: unknown) =>
  typeof ms === 'number' ? new Date(ms).toISOString().replace('.000Z', 'Z') : '-';

function caseLine(c: Json): string {
  const site = `${c.site.district}/${c.site.town}/${c.site.community}`;
  const stage = STAGE_LABELS[c.stage as keyof typeof STAGE_LABELS];
  return [
    c.id,
    `${c.stage}(${stage?.zh ?? '?'})`,
    c.isa,
    c.severity,
    c.type,
    `${site} ${c.gateway}/${c.device}${c.location ? ` "${c.location}"` : ''}`,
    time(c.raisedAt),
    c.shelved ? 'SHELVED' : '',
    c.suppressed ? 'SUPPRESSED' : '',
    c.outOfService ? 'OUT_OF_SERVICE' : '',
  ]
    .filter(Boolean)
    .join('  ');
}

function details(c: Json): string[] {
  const out = [
    `condition ${c.condition}${c.latched ? ' (latched alarm)' : ''}, occurred ${c.occurrence} time(s)`,
  ];
  for (const o of (c.occurrences ?? []).slice(-10) as Json[])
    out.push(
      `  ${o.alarm}: raised ${o.raisedAt !== undefined ? time(o.raisedAt) : '?'}${o.clearedAt !== undefined ? `, cleared ${time(o.clearedAt)}` : ''}${o.value !== undefined ? `, value ${o.value}` : ''}`,
    );
  if (c.outOfService) out.push(`out of service by ${c.outOfService.by.name}: ${c.outOfService.reason}`);
  if (c.ackedBy) out.push(`acknowledged by ${c.ackedBy.name} at ${time(c.ackedAt)}`);
  if (c.feedback) out.push(`feedback ${c.feedback.cause} by ${c.feedback.by.name}: ${c.feedback.note}`);
  if (c.shelved) out.push(`shelved until ${time(c.shelved.until)}: ${c.shelved.reason}`);
  if (c.closedBy) out.push(`closed by ${c.closedBy.name} at ${time(c.closedAt)}`);
  return out;
}

function auditLine(e: Json): string {
  const who = `${e.actor.kind}:${e.actor.name}${e.actor.ip ? `@${e.actor.ip}` : ''}`;
  const changed = e.after ? ` ${JSON.stringify(e.after)}` : '';
  const detail = e.detail ? ` ${JSON.stringify(e.detail)}` : '';
  return `${time(e.at)}  ${e.action}  ${who}${changed}${detail}`;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      stage: { type: 'string' },
      open: { type: 'boolean' },
      closed: { type: 'boolean' },
      scope: { type: 'string' },
      limit: { type: 'string' },
      cause: { type: 'string' },
      note: { type: 'string' },
      photo: { type: 'string' },
      reason: { type: 'string' },
      hours: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
}
