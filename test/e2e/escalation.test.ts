import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { DutyInbox, type InboxMessage } from '../../cloud/notify/inbox.js';
import { freePort } from '../support/net.js';
import { startPostgres } from '../support/postgres.js';
import { type DoorstepProcess, enrollGateway, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';

const ADMIN: [string, string] = ['admin', 'escalation admin password'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };
const SECRET = 'escalation-test-inbox-secret';

/** A cloud config whose critical policy notifies at once, after 4 s and after 8 s (test timings). */
function cloudConfig(port: number, storage: object, inboxUrl: string): string {
  const channels = [{ kind: 'webhook', url: inboxUrl, secret: SECRET }];
  return stringify({
    district: { slug: 'pudong', name: '浦东新区' },
    http: { host: '127.0.0.1', port },
    storage,
    bootstrap: {
      admin: { username: ADMIN[0], password: ADMIN[1] },
      sites: [
        { path: 'pudong/zhangjiang', name: '张江镇' },
        { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
      ],
    },
    escalation: {
      people: [
        { id: 'duty', name: '社区值班', site: 'pudong/zhangjiang/lane-100', roles: ['duty'], channels },
        { id: 'lead', name: '街镇带班', site: 'pudong/zhangjiang', roles: ['lead'], channels },
        { id: 'district', name: '区督办', site: 'pudong', roles: ['supervisor'], channels },
      ],
      policies: [
        {
          id: 'test-critical',
          version: 1,
          match: { severities: ['critical'] },
          steps: [
            {
              delayMs: 0,
              condition: 'always',
              stage: 'warn',
              targets: [{ kind: 'role', role: 'duty', tier: 'community' }],
            },
            {
              delayMs: 4000,
              condition: 'not_acked',
              stage: 'remind',
              targets: [{ kind: 'role', role: 'lead', tier: 'town' }],
            },
            {
              delayMs: 8000,
              condition: 'not_closed',
              stage: 'supervise',
              targets: [{ kind: 'role', role: 'supervisor', tier: 'district' }],
            },
          ],
          deliveryFailure: { afterFailedSends: 3, fallback: [{ kind: 'person', id: 'lead' }] },
        },
      ],
    },
    log: { level: 'warn' },
  });
}

async function raiseAlarm(
  base: string,
  secret: string,
  gateway: string,
  device: string,
  ts = Date.now(),
): Promise<void> {
  const body = {
    v: 1,
    gateway,
    site: SITE,
    batchSeq: 1,
    sentAt: ts,
    alarms: [
      {
        seq: 1,
        transition: {
          id: `${gateway}.${device}.smoke.${ts.toString(36)}`,
          gateway,
          device,
          type: 'smoke',
          severity: 'critical',
          state: 'raised',
          ts,
          test: false,
          latched: true,
        },
      },
    ],
  };
  const res = await fetch(new URL('/v1/sync', base), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${secret}`,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    },
    body: gzipSync(JSON.stringify(body)),
  });
  assert.equal(res.status, 200, await res.text());
}

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What each recipient received, by stage. */
const stages = (messages: InboxMessage[]) =>
  messages.map((m) => `${m.payload.stage}→${m.payload.recipient.id}`).sort();

describe('escalation survives restarts and never notifies twice', () => {
  const dir = tempDir('doorstep-e2e-escalation-');
  const procs: DoorstepProcess[] = [];
  const inboxes: DutyInbox[] = [];
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    for (const i of inboxes) await i.stop();
    dir.dispose();
  });

  it('SIGKILL of the cloud between two steps: the next steps still fire, once each', async () => {
    const inbox = new DutyInbox({ port: 0, secret: SECRET });
    inboxes.push(inbox);
    await inbox.start();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/`;
    const file = join(dir.path, 'cloud.yaml');
    writeFileSync(
      file,
      cloudConfig(port, { kind: 'sqlite', path: join(dir.path, 'cloud.db') }, inbox.webhookUrl),
    );
    let cloud = startDoorstep(['cloud', '--config', file]);
    procs.push(cloud);
    await cloud.waitFor(/listening on/);
    const { secret } = await enrollGateway(base, ADMIN, { id: 'gw-1', site: SITE });
    await raiseAlarm(base, secret, 'gw-1', 'smoke-1');
    await until('first notice', () => inbox.messages().length >= 1);
    await cloud.stop('SIGKILL'); // between step 0 and step 1
    cloud = startDoorstep(['cloud', '--config', file]);
    procs.push(cloud);
    await cloud.waitFor(/listening on/);
    await until('督办', () => inbox.messages().some((m) => m.payload.stage === 'supervise'));
    await new Promise((r) => setTimeout(r, 1500)); // anything sent twice would arrive by now
    assert.deepEqual(stages(inbox.messages()), ['remind→lead', 'supervise→district', 'warn→duty']);
  });

  it('two cloud instances on one PostgreSQL: every step notified exactly once', async () => {
    const inbox = new DutyInbox({ port: 0, secret: SECRET });
    inboxes.push(inbox);
    await inbox.start();
    const cluster = await startPostgres();
    try {
      const url = await cluster.createDatabase('district');
      const bases: string[] = [];
      for (const name of ['a', 'b']) {
        const port = await freePort();
        const file = join(dir.path, `cloud-${name}.yaml`);
        writeFileSync(file, cloudConfig(port, { kind: 'postgres', url }, inbox.webhookUrl));
        const proc = startDoorstep(['cloud', '--config', file]);
        procs.push(proc);
        await proc.waitFor(/listening on/);
        bases.push(`http://127.0.0.1:${port}/`);
      }
      const { secret } = await enrollGateway(bases[0]!, ADMIN, { id: 'gw-2', site: SITE });
      // the same alarm reaches both instances (a retry through the load balancer)
      const ts = Date.now();
      await Promise.all(bases.map((b) => raiseAlarm(b, secret, 'gw-2', 'smoke-2', ts)));
      await until('督办', () => inbox.messages().some((m) => m.payload.stage === 'supervise'));
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(stages(inbox.messages()), ['remind→lead', 'supervise→district', 'warn→duty']);
    } finally {
      for (const p of procs.splice(0)) await p.stop('SIGKILL');
      await cluster.stop();
    }
  });
});
