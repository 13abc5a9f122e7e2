import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

const ROOT = new URL('../../', import.meta.url).pathname;

/** A `doorstep …` child process with its output collected. */
export interface DoorstepProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the first output line matching `pattern` (rejects if the process exits first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM (or another signal) and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `node --import tsx bin/doorstep.ts ARGS` in the repository, or `node ENTRY ARGS` when
 * `entry` names an already built CLI (e.g. an esbuild bundle, for tests that start it many times).
 */
export function startDoorstep(
  args: string[],
  env: Record<string, string> = {},
  entry?: string,
): DoorstepProcess {
  // DOORSTEP_CHILD_NODE_ARGS (e.g. "--cpu-prof") lets a benchmark profile the children it starts.
  const extra = (process.env.DOORSTEP_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const cli = entry ? [entry] : ['--import', 'tsx', 'bin/doorstep.ts'];
  const child = spawn(process.execPath, [...extra, ...cli, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    output: () => out,
    async waitFor(pattern, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = out.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`process exited before ${pattern}:\n${out.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** JSON over HTTP with a bearer token or basic auth; returns status and parsed body. */
export async function api<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { token?: string; basic?: [string, string]; json?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.basic)
    headers.authorization = `Basic ${Buffer.from(options.basic.join(':')).toString('base64')}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(path, base), {
    method,
    headers,
    ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** Admin API token → enrolment token for `scope` → enrolled gateway; returns the gateway secret. */
export async function enrollGateway(
  base: string,
  admin: [string, string],
  gateway: { id: string; site: { district: string; town: string; community: string } },
): Promise<{ secret: string; adminToken: string }> {
  const t = await api<{ token: string }>(base, 'POST', '/v1/api-tokens', { basic: admin, json: {} });
  if (t.status !== 201) throw new Error(`api token: ${t.status} ${JSON.stringify(t.body)}`);
  const scope = `${gateway.site.district}/${gateway.site.town}`;
  const e = await api<{ token: string }>(base, 'POST', '/v1/enrollment-tokens', {
    token: t.body.token,
    json: { scope, uses: 1, ttlHours: 1 },
  });
  if (e.status !== 201) throw new Error(`enrolment token: ${e.status} ${JSON.stringify(e.body)}`);
  const g = await api<{ credential: { secret: string } }>(base, 'POST', '/v1/enroll', {
    json: { token: e.body.token, gateway },
  });
  if (g.status !== 201) throw new Error(`enrol: ${g.status} ${JSON.stringify(g.body)}`);
  return { secret: g.body.credential.secret, adminToken: t.body.token };
}

/**
 * Writes the end-to-end tests' cloud configuration: one district (pudong), one town and the
 * community lane-100, SQLite at `db`, an admin to sign in with, a rate limit no test reaches.
 */
export function writeCloudConfig(
  path: string,
  options: { port: number; db: string; admin: readonly [string, string] },
): void {
  writeFileSync(
    path,
    stringify({
      district: { slug: 'pudong', name: '浦东新区' },
      http: { host: '127.0.0.1', port: options.port, rateLimit: { max: 100_000, timeWindowMs: 60_000 } },
      storage: { kind: 'sqlite', path: options.db },
      bootstrap: {
        admin: { username: options.admin[0], password: options.admin[1] },
        sites: [
          { path: 'pudong/zhangjiang', name: '张江镇' },
          { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
        ],
      },
      log: { level: 'warn' },
    }),
  );
}
