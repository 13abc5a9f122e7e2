/**
 * A real `doorstep cloud` (SQLite on disk) killed by SIGKILL (DOORSTEP_FAULT, cloud/fault.ts) in
 * one gap of an alarm's path, then started again; the gateway's batch is resent as the gateway's
 * uplink would (it never saw an answer). The community's duty webhook must receive the 预警 of
 * the case exactly once, and a delivery is never counted as sent before the webhook answered 2xx.
 *
 * Before the case-event log, a kill between the case's commit and its plan (`case:after-commit`)
 * left a case with no plan at all: the resent batch found the transition recorded and was
 * acknowledged, and nobody was ever told.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import type { CloudFaultPoint } from '../../cloud/fault.js';
import { freePort } from '../support/net.js';
import { type DoorstepProcess, enrollGateway, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';

const ADMIN: [string, string] = ['admin', 'case log crash admin password'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };
const SECRET = 'case-log-crash-webhook-secret';

interface Received {
  status: number;
  id: string;
  stage: string;
  cases: string[];
}

/** The duty webhook: records every POST and answers 500 to the first `failFirst`. */
class Webhook {
  readonly received: Received[] = [];
  #server: Server | undefined;
  constructor(private failFirst: number) {}
  async start(): Promise<string> {
    this.#server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const status = this.failFirst-- > 0 ? 500 : 200;
        try {
          const p = JSON.parse(body) as { id: string; stage: string; cases: { id: string }[] };
          this.received.push({ status, id: p.id, stage: p.stage, cases: p.cases.map((c) => c.id) });
        } catch {
          this.received.push({ status, id: '?', stage: '?', cases: [] });
        }
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status === 200 ? '{"ok":true}' : '{"error":"busy"}');
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server!.address() as { port: number }).port}/duty`;
  }
  /** 预警 deliveries of `caseId` the webhook accepted (answered 2xx). */
  accepted(caseId: string): Received[] {
    return this.received.filter((r) => r.status === 200 && r.stage === 'warn' && r.cases.includes(caseId));
  }
  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}

export interface CrashRun {
  point: CloudFaultPoint;
  /** Webhook answers 500 to this many first requests (a delivery that must be retried). */
  failFirst?: number;
}

/** Runs one crash scenario; returns what it measured for the log line. */
export async function crashScenario({ point, failFirst = 0 }: CrashRun): Promise<void> {
  const dir = tempDir('doorstep-e2e-case-log-');
  const hook = new Webhook(failFirst);
  let cloud: DoorstepProcess | undefined;
  try {
    const url = await hook.start();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/`;
    const file = join(dir.path, 'cloud.yaml');
    writeFileSync(
      file,
      stringify({
        district: { slug: 'pudong', name: '浦东新区' },
        http: { host: '127.0.0.1', port },
        storage: { kind: 'sqlite', path: join(dir.path, 'cloud.db') },
        bootstrap: {
          admin: { username: ADMIN[0], password: ADMIN[1] },
          sites: [
            { path: 'pudong/zhangjiang', name: '张江镇' },
            { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
          ],
        },
        // A short backoff: the retry after the 500 comes quickly (the kill is in that wait).
        notify: { retry: { attempts: 3, baseDelayMs: 500 } },
        escalation: {
          people: [
            {
              id: 'duty',
              name: '社区值班',
              site: 'pudong/zhangjiang/lane-100',
              roles: ['duty'],
              channels: [{ kind: 'webhook', url, secret: SECRET }],
            },
          ],
        },
        log: { level: 'warn' },
      }),
    );
    // First run, unarmed: enrol the gateway.
    cloud = startDoorstep(['cloud', '--config', file]);
    await cloud.waitFor(/listening on/);
    const { secret } = await enrollGateway(base, ADMIN, { id: 'gw-1', site: SITE });
    await cloud.stop();
    // Second run, armed: the batch with the alarm makes it die at `point`.
    cloud = startDoorstep(['cloud', '--config', file], { DOORSTEP_FAULT: point });
    await cloud.waitFor(/listening on/);
    const ts = Date.now();
    const caseId = `gw-1.smoke-1.smoke.${ts.toString(36)}`;
    const batch = gzipSync(
      JSON.stringify({
        v: 1,
        gateway: 'gw-1',
        site: SITE,
        batchSeq: 1,
        sentAt: ts,
        alarms: [
          {
            seq: 1,
            transition: {
              id: caseId,
              gateway: 'gw-1',
              device: 'smoke-1',
              type: 'smoke',
              severity: 'critical',
              state: 'raised',
              ts,
              test: false,
              latched: true,
            },
          },
        ],
      }),
    );
    const post = () =>
      fetch(new URL('/v1/sync', base), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${secret}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        },
        body: batch,
      });
    // The answer may or may not come before the kill (escalation runs beside the request).
    await post().catch(() => undefined);
    const killed = cloud;
    const deadline = Date.now() + 30_000;
    while (killed.child.signalCode === null && killed.child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(killed.child.signalCode, 'SIGKILL', `killed at ${point}:\n${killed.output().slice(-2000)}`);
    assert.match(killed.output(), new RegExp(`fault injected at ${point}`));
    // Third run: the gateway resends the batch it never saw acknowledged (or saw: it is idempotent).
    cloud = startDoorstep(['cloud', '--config', file]);
    await cloud.waitFor(/listening on/);
    const res = await post();
    assert.equal(res.status, 200, await res.text());
    // The 预警 arrives: within the lease (6 s) plus the retry, generously for a loaded machine.
    const until = Date.now() + 45_000;
    while (hook.accepted(caseId).length === 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(
      hook.accepted(caseId).length,
      1,
      `the 预警 reached the duty webhook:\n${cloud.output().slice(-3000)}`,
    );
    // Nothing more comes: wait past another lease and retry round for a second copy.
    await new Promise((r) => setTimeout(r, 8_000));
    assert.equal(hook.accepted(caseId).length, 1, 'delivered once');
    // The record: the 预警's delivery is `delivered` with exactly one accepted attempt, and every
    // failed attempt is recorded as failed — nothing counted as sent that the webhook refused.
    await cloud.stop();
    const db = new Database(join(dir.path, 'cloud.db'), { readonly: true });
    try {
      const request = hook.accepted(caseId)[0]!.id;
      const delivery = db
        .prepare('SELECT state, attempts FROM notify_deliveries WHERE request_id = ?')
        .all(request) as { state: string; attempts: number }[];
      assert.deepEqual(
        delivery.map((d) => d.state),
        ['delivered'],
      );
      const attempts = db
        .prepare('SELECT status, http_status FROM notify_attempts WHERE request_id = ? ORDER BY id')
        .all(request) as { status: string; http_status: number | null }[];
      assert.equal(attempts.filter((a) => a.status === 'ok').length, 1, JSON.stringify(attempts));
      for (const a of attempts) assert.equal(a.status === 'ok', a.http_status === 200, JSON.stringify(a));
    } finally {
      db.close();
    }
    if (failFirst > 0)
      assert.ok(
        hook.received.filter((r) => r.status === 500).length >= failFirst,
        'the first attempt was refused by the webhook',
      );
    console.log(
      `${point}: webhook saw ${hook.received.map((r) => `${r.stage}/${r.status}`).join(', ')} for ${caseId}`,
    );
  } finally {
    await cloud?.stop('SIGKILL');
    await hook.stop();
    dir.dispose();
  }
}
