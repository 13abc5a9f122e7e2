/**
 * Issue 12's rule for the alarm path in the cloud: a failure of any store write between a gateway's
 * batch and the first notice either refuses the batch (the gateway retries it) or still lets the
 * notice go out — never a batch acknowledged while its case has no notice, never a notice twice.
 *
 * The path's writes are not listed by hand: a first run on a real SQLite file records every
 * INSERT/UPDATE/DELETE statement executed from the batch to the notice in the duty inbox. Then, for
 * each of them, a fresh cloud (the production composition, `buildCloud`) has exactly that
 * statement fail on its first execution, the gateway's retry loop resends the batch until it is
 * acknowledged, and the inbox must receive the 预警 of the smoke case exactly once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { buildCloud } from '../../cloud/build.js';
import { parseCloudConfig } from '../../cloud/config/load.js';
import { DutyInbox, type InboxMessage } from '../../cloud/notify/inbox.js';
import { openCloudStore } from '../../cloud/store/index.js';
import { tempDir } from '../support/tmp.js';
import { ADMIN, adminToken, call, enrollGateway, makeBatch, SITES } from './http/harness.js';

const SECRET = 'store-write-faults-inbox-secret';
const WRITE = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

// ── one switch on better-sqlite3's statements: record writes, or fail a chosen one once ─────────
let recording: Set<string> | undefined;
let failOnce: string | undefined;
let failed = 0;
{
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  for (const method of ['run', 'get', 'all'] as const) {
    const original = proto[method] as (...args: unknown[]) => unknown;
    proto[method] = function (this: { source: string }, ...args: unknown[]) {
      if (WRITE.test(this.source)) {
        recording?.add(this.source);
        if (failOnce !== undefined && this.source === failOnce) {
          failOnce = undefined;
          failed++;
          throw new Error(`injected store-write failure: ${this.source.slice(0, 60)}`);
        }
      }
      return original.apply(this, args);
    };
  }
}

const dir = tempDir('doorstep-store-faults-');
after(() => dir.dispose());

/** A cloud on its own SQLite file with one duty person reached at a duty inbox. */
async function startCloud(name: string) {
  const inbox = new DutyInbox({ port: 0, secret: SECRET });
  await inbox.start();
  const config = parseCloudConfig({
    district: { slug: 'pudong', name: '浦东新区' },
    http: { host: '127.0.0.1', port: 0 },
    storage: { kind: 'sqlite', path: join(dir.path, `${name}.db`) },
    bootstrap: { admin: ADMIN, sites: SITES },
    escalation: {
      people: [
        {
          id: 'lane-duty',
          name: '社区值班',
          site: 'pudong/zhangjiang/lane-100',
          roles: ['duty'],
          channels: [{ kind: 'webhook', url: inbox.webhookUrl, secret: SECRET }],
        },
      ],
    },
    log: { level: 'silent' },
  });
  const cloud = buildCloud(config, { logger: pino({ level: 'silent' }), openStore: openCloudStore });
  const url = await cloud.start();
  const warnings: InboxMessage[] = [];
  inbox.onMessage((m) => {
    if (m.payload.stage === 'warn') warnings.push(m);
  });
  return {
    url,
    warnings,
    async stop() {
      await cloud.stop();
      await inbox.stop();
    },
  };
}

/** Sends one smoke alarm as a gateway would: resends the same batch until it is acknowledged. */
async function alarmThroughRetries(url: string, secret: string): Promise<number[]> {
  const ts = Date.now();
  const batch = makeBatch({
    gateway: 'gw-f',
    sitePath: 'pudong/zhangjiang/lane-100',
    batchSeq: 1,
    firstSeq: 1,
    readings: 2,
    ts,
    alarms: [{ seq: 3, id: `gw-f.smoke-1.smoke.${ts.toString(36)}`, device: 'smoke-1' }],
  });
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await call(url, 'POST', '/v1/sync', { auth: `Bearer ${secret}`, json: batch, gzip: true });
    statuses.push(r.status);
    if (r.status === 200) return statuses;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return statuses;
}

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a failed store write on the alarm path: the batch is refused or the notice still goes out', () => {
  let writes: string[] = [];

  it('records every write from the batch to the first notice (SQLite)', { timeout: 60_000 }, async () => {
    const c = await startCloud('baseline');
    try {
      const secret = await enrollGateway(
        c.url,
        await adminToken(c.url),
        'gw-f',
        'pudong/zhangjiang/lane-100',
      );
      recording = new Set();
      assert.deepEqual(await alarmThroughRetries(c.url, secret), [200]);
      await until('the first notice', () => c.warnings.length > 0);
      // Let the delivery's own bookkeeping (its result, the plan row's state) finish too.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      writes = [...recording];
      recording = undefined;
      assert.equal(c.warnings.length, 1);
      assert.ok(writes.length >= 5, `the path writes: ${writes.length}`);
    } finally {
      recording = undefined;
      await c.stop();
    }
  });

  it('each write failing once: acknowledged only when stored, one notice, never two', {
    timeout: 170_000,
  }, async () => {
    assert.ok(writes.length > 0, 'the first test recorded the writes');
    const outcomes: string[] = [];
    for (const [i, statement] of writes.entries()) {
      const c = await startCloud(`fault-${i}`);
      try {
        const secret = await enrollGateway(
          c.url,
          await adminToken(c.url),
          'gw-f',
          'pudong/zhangjiang/lane-100',
        );
        const before = failed;
        failOnce = statement;
        const statuses = await alarmThroughRetries(c.url, secret);
        assert.equal(
          statuses.at(-1),
          200,
          `${statement.slice(0, 70)}: acknowledged in the end (${statuses})`,
        );
        await until(`the notice despite ${statement.slice(0, 70)}`, () => c.warnings.length > 0);
        await new Promise((resolve) => setTimeout(resolve, 800));
        assert.equal(c.warnings.length, 1, `${statement.slice(0, 70)}: exactly one 预警`);
        assert.equal(c.warnings[0]?.payload.cases[0]?.device, 'smoke-1');
        outcomes.push(
          `${failed > before ? 'failed' : 'not reached'} ${statuses.join('→')} ${statement.replace(/\s+/g, ' ').slice(0, 60)}`,
        );
      } finally {
        failOnce = undefined;
        await c.stop();
      }
    }
    console.log(`store writes on the alarm path, each failed once:\n  ${outcomes.join('\n  ')}`);
    assert.ok(
      outcomes.filter((o) => o.startsWith('failed')).length >= writes.length / 2,
      'most recorded writes were really made to fail',
    );
  });
});
