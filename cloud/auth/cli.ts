/**
 * `doorstep user …`: the account life cycle from a terminal (cloud/auth/accounts.ts), for
 * administrators without the console. Talks to a running cloud over HTTP with an API token, like
 * `doorstep alarm`; every refusal is printed with the server's code and message. Passwords are
 * read from standard input, never from the command line (where `ps` and shell history see them).
 * Exit codes: 0 done, 1 refused or unreachable, 2 wrong usage.
 */
import { parseArgs } from 'node:util';
import { DoorstepError, ERROR_CATALOGUE, isDoorstepError } from '../../protocol/errors.js';
import { type CliIo, call } from '../alarms/cli.js';

const HELP = `Usage: doorstep user <command> [USER] [options]

Commands:
  list [--scope PATH]          users in your scope (admin)
  tokens USER                  a user's API tokens: id, label, scope, role, created, expires,
                               last used, state (never the secret)
  revoke-token USER TOKEN_ID   revoke one token; it is refused from the next request on
  disable USER                 no sign-in; the user's sessions end and tokens are refused (admin)
  enable USER                  undo disable (admin)
  reset-password USER          set a new password, read from standard input (admin); every
                               session of the user ends
  passwd                       change your own password: standard input holds the current
                               password on the first line and the new one on the second
  end-sessions USER            end every console session of the user
  audit [--user USER] [--scope PATH] [--limit N]
                               the account audit trail, newest first (admin)

Options:
  --url URL      the cloud (default: env DOORSTEP_URL)
  --token TOKEN  an API token, dsa_… (default: env DOORSTEP_TOKEN)
  --json         print the server's JSON answer
  -h, --help     show this help

Example: printf '%s\\n' "$NEW_PASSWORD" | doorstep user reset-password zj-duty
`;

/** What the user CLI needs beyond `doorstep alarm`'s io: the lines of standard input. */
export interface UserCliIo extends CliIo {
  stdinLines(): Promise<string[]>;
}

const processIo: UserCliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  async stdinLines() {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
  },
};

const usage = (reason: string) => new DoorstepError('CLI_ERR_USAGE', { reason });

// biome-ignore lint/suspicious/noExplicitAny: answers are printed field by field
type Json = Record<string, any>;

const WITH_USER = ['tokens', 'revoke-token', 'disable', 'enable', 'reset-password', 'end-sessions'];

export async function run(argv: string[], io: UserCliIo = processIo): Promise<number> {
  try {
    return await main(argv, io);
  } catch (error) {
    if (!isDoorstepError(error)) throw error;
    io.err(`doorstep user: ${error.code}: ${error.message}`);
    io.err(`  hint: ${ERROR_CATALOGUE[error.code].hint}`);
    return error.code === 'CLI_ERR_USAGE' ? 2 : 1;
  }
}

async function main(argv: string[], io: UserCliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw usage(error instanceof Error ? error.message : String(error));
  }
  const { values: v, positionals } = parsed;
  const [command, user, ...rest] = positionals;
  if (v.help || command === 'help') {
    io.out(HELP);
    return 0;
  }
  if (!command) throw usage(`a command is required: list, ${WITH_USER.join(', ')}, passwd, audit`);
  if (![...WITH_USER, 'list', 'passwd', 'audit'].includes(command))
    throw usage(`unknown command "${command}" (see doorstep user --help)`);
  const expected = command === 'revoke-token' ? 1 : 0;
  if (rest.length !== expected)
    throw usage(
      rest.length > expected
        ? `unexpected argument "${rest[expected]}"`
        : `${command} needs USER and TOKEN_ID`,
    );
  if (WITH_USER.includes(command) && !user) throw usage(`${command} needs a USER`);
  if (!WITH_USER.includes(command) && user !== undefined) throw usage(`${command} takes no USER`);
  const url = (v.url ?? io.env['DOORSTEP_URL'])?.replace(/\/+$/, '');
  const token = v.token ?? io.env['DOORSTEP_TOKEN'];
  if (!url) throw usage('--url (or env DOORSTEP_URL) is required');
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw usage(`--url "${url}" must be http(s)://HOST[:PORT]`);
  if (!token) throw usage('--token (or env DOORSTEP_TOKEN) is required');
  const request = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    call(url, token, method, path, body);
  const print = (answer: Json, text: () => string[]) => {
    for (const line of v.json ? [JSON.stringify(answer)] : text()) io.out(line);
    return 0;
  };
  const u = encodeURIComponent(user ?? '');

  switch (command) {
    case 'list': {
      const answer = await request(
        'GET',
        `/v1/users${v.scope ? `?scope=${encodeURIComponent(v.scope)}` : ''}`,
      );
      return print(answer, () =>
        answer['items'].length === 0 ? ['no users'] : (answer['items'] as Json[]).map(userLine),
      );
    }
    case 'tokens': {
      const answer = await request('GET', `/v1/users/${u}/api-tokens`);
      return print(answer, () =>
        answer['items'].length === 0
          ? [`${user} has no API tokens`]
          : (answer['items'] as Json[]).map(tokenLine),
      );
    }
    case 'revoke-token': {
      const answer = await request(
        'POST',
        `/v1/users/${u}/api-tokens/${encodeURIComponent(rest[0]!)}/revoke`,
      );
      return print(answer, () => [`revoked: ${tokenLine(answer['token'])}`]);
    }
    case 'disable':
    case 'enable': {
      const answer = await request('POST', `/v1/users/${u}/${command}`);
      return print(answer, () => [
        `${command}d: ${userLine(answer['user'])}${command === 'disable' ? `  (${answer['sessionsEnded']} session(s) ended)` : ''}`,
      ]);
    }
    case 'end-sessions': {
      const answer = await request('POST', `/v1/users/${u}/sessions/end`);
      return print(answer, () => [`${user}: ${answer['sessionsEnded']} session(s) ended`]);
    }
    case 'reset-password': {
      const [password] = await io.stdinLines();
      if (!password) throw usage('reset-password reads the new password from standard input (one line)');
      const answer = await request('POST', `/v1/users/${u}/password`, { password });
      return print(answer, () => [`password of ${user} reset; ${answer['sessionsEnded']} session(s) ended`]);
    }
    case 'passwd': {
      const [current, password] = await io.stdinLines();
      if (!current || !password)
        throw usage(
          'passwd reads the current password (line 1) and the new one (line 2) from standard input',
        );
      const answer = await request('POST', '/v1/me/password', { current, password });
      return print(answer, () => [
        `password of ${answer['user']} changed; ${answer['sessionsEnded']} other session(s) ended`,
      ]);
    }
    default: {
      const q = new URLSearchParams();
      if (v.user) q.set('user', v.user);
      if (v.scope) q.set('scope', v.scope);
      if (v.limit) q.set('limit', v.limit);
      const answer = await request('GET', `/v1/account-audit${q.size > 0 ? `?${q}` : ''}`);
      return print(answer, () =>
        answer['items'].length === 0 ? ['no entries'] : (answer['items'] as Json[]).map(auditLine),
      );
    }
  }
}

const time = (ms: unknown) =>
  typeof ms === 'number' ? new Date(ms).toISOString().replace('.000Z', 'Z') : '-';

function userLine(u: Json): string {
  return [
    u.username,
    u.role,
    u.scope,
    u.disabled ? 'DISABLED' : 'enabled',
    u.lockedUntil !== undefined ? `LOCKED until ${time(u.lockedUntil)}` : '',
    u.hasPassword ? '' : 'token-only',
    u.displayName ? `"${u.displayName}"` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

function tokenLine(t: Json): string {
  return [
    t.id,
    t.state.toUpperCase(),
    t.label ? `"${t.label}"` : '',
    `${t.role}@${t.scope}`,
    `created ${time(t.createdAt)}`,
    `expires ${time(t.expiresAt)}`,
    `last used ${time(t.lastUsedAt)}`,
    t.revokedAt !== undefined ? `revoked ${time(t.revokedAt)}` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

function auditLine(e: Json): string {
  const detail = e.detail ? ` ${JSON.stringify(e.detail)}` : '';
  return `${time(e.at)}  ${e.action}  ${e.user} (${e.scope})  by ${e.actor}${e.ip ? `@${e.ip}` : ''}${detail}`;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      scope: { type: 'string' },
      user: { type: 'string' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
}
