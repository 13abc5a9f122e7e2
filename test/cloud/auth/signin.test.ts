/**
 * Password sign-in that cannot starve ingest and a lock a stranger cannot abuse (cloud/auth/README.md):
 * scrypt on a bounded pool of its own threads, a lock per (user name, source address) with
 * progressive delays counted atomically in the store, the same answers for unknown users.
 * Real servers on loopback port 0; distinct source addresses are distinct loopback addresses
 * (127.0.0.x), bound by the client.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { buildCloud, type Cloud } from '../../../cloud/build.js';
import { PostgresCloudStore } from '../../../cloud/store/postgres/store.js';
import { SqliteCloudStore } from '../../../cloud/store/sqlite/store.js';
import { UplinkResponse } from '../../../protocol/index.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { tempDir } from '../../support/tmp.js';
import {
  ADMIN,
  adminToken,
  basic,
  enrollGateway,
  makeBatch,
  startTestCloud,
  type TestCloud,
  testConfig,
} from '../http/harness.js';

const LANE = 'pudong/zhangjiang/lane-100';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers field by field
  body: Record<string, any>;
}

/** A request from a chosen loopback address (the cloud sees it as the client address). */
function send(
  base: string,
  method: string,
  path: string,
  options: { from?: string; auth?: string; body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const url = new URL(path, base);
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.auth) headers.authorization = options.auth;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method, headers, localAddress: options.from },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : {} });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Asks for an API token with HTTP Basic (a password sign-in) from `from`. */
const signIn = (base: string, username: string, password: string, from = '127.0.0.1') =>
  send(base, 'POST', '/v1/api-tokens', { from, auth: basic(username, password), body: '{}' });

const quiet = pino({ level: 'silent' });

describe('sign-in on its own bounded pool, beside ingest (SQLite file)', () => {
  const dir = tempDir();
  let t: TestCloud;
  let secret: string;
  before(async () => {
    t = await startTestCloud(
      { signIn: { pool: { threads: 2, maxQueue: 6 } } },
      { store: new SqliteCloudStore({ path: join(dir.path, 'cloud.db') }) },
    );
    secret = await enrollGateway(t.url, await adminToken(t.url), 'gw-storm', LANE);
  });
  after(async () => {
    await t?.stop();
    dir.dispose();
  });

  it('answers a gzip’d sync during 32 parallel sign-ins; sign-ins beyond the pool get 503 with Retry-After', async () => {
    const before = t.cloud.services.auth.passwordChecks;
    const storm = Array.from({ length: 32 }, (_, i) =>
      signIn(t.url, `stranger-${randomBytes(6).toString('hex')}`, `guess-${i}`),
    );
    const batch = makeBatch({
      gateway: 'gw-storm',
      sitePath: LANE,
      batchSeq: 1,
      firstSeq: 1,
      readings: 20,
      alarms: [{ seq: 21, id: 'gw-storm-smoke-0001' }],
    });
    const sync = send(t.url, 'POST', '/v1/sync', {
      auth: `Bearer ${secret}`,
      body: gzipSync(JSON.stringify(batch)),
      headers: { 'content-encoding': 'gzip' },
    });
    const [synced, ...answers] = await Promise.all([sync, ...storm]);
    assert.equal(synced.status, 200, JSON.stringify(synced.body));
    const ack = UplinkResponse.parse(synced.body);
    assert.equal(ack.ackedBatchSeq, 1);
    assert.deepEqual(ack.stored, { alarms: 1, events: 0, telemetry: 20 });

    const busy = answers.filter((a) => a.status === 503);
    const refused = answers.filter((a) => a.status === 401);
    assert.equal(busy.length + refused.length, 32, JSON.stringify(answers.map((a) => a.status)));
    assert.ok(busy.length > 0, 'the pool holds 8 checks; the rest are refused, not queued');
    for (const b of busy) {
      assert.equal(b.body.error.code, 'CLOUD_ERR_SIGNIN_BUSY');
      assert.equal(b.headers['retry-after'], '1');
    }
    for (const r of refused) assert.equal(r.body.error.code, 'CLOUD_ERR_AUTH');
    assert.equal(
      t.cloud.services.auth.passwordChecks - before,
      refused.length,
      'every refusal of an unknown user name followed a check',
    );
    // The pool is free again: the admin signs in.
    assert.equal((await signIn(t.url, ADMIN.username, ADMIN.password)).status, 201);
  });
});

describe('the sign-in lock: per user name and source address (SQLite file)', () => {
  const dir = tempDir();
  let t: TestCloud;
  before(async () => {
    t = await startTestCloud({}, { store: new SqliteCloudStore({ path: join(dir.path, 'cloud.db') }) });
  });
  after(async () => {
    await t?.stop();
    dir.dispose();
  });

  const fiveWrongThenOne = async (username: string, from: string) => {
    const answers: Reply[] = [];
    for (let i = 0; i < 6; i++) answers.push(await signIn(t.url, username, `wrong-${i}`, from));
    return answers;
  };

  it('a stranger failing for admin from one address does not stop admin from another', async () => {
    const answers = await fiveWrongThenOne('admin', '127.0.0.2');
    assert.deepEqual(
      answers.map((a) => [a.status, a.body.error.code]),
      [
        ...Array.from({ length: 4 }, () => [401, 'CLOUD_ERR_AUTH']),
        [401, 'CLOUD_ERR_ACCOUNT_LOCKED'],
        [401, 'CLOUD_ERR_ACCOUNT_LOCKED'],
      ],
    );
    // The right password from the stranger's address is paused too (a guess is not checked) …
    const paused = await signIn(t.url, ADMIN.username, ADMIN.password, '127.0.0.2');
    assert.equal(paused.body.error.code, 'CLOUD_ERR_ACCOUNT_LOCKED');
    // … but the admin at the town office signs in.
    assert.equal((await signIn(t.url, ADMIN.username, ADMIN.password, '127.0.0.3')).status, 201);
  });

  it('unknown user names get the same answers, lock included, after the same checks', async () => {
    const user = await t.store.getUserByName(ADMIN.username);
    assert.ok(user);
    const checks0 = t.cloud.services.auth.passwordChecks;
    const real = await fiveWrongThenOne('admin', '127.0.0.4');
    const checks1 = t.cloud.services.auth.passwordChecks;
    const ghost = await fiveWrongThenOne('admin-ghost', '127.0.0.5');
    const checks2 = t.cloud.services.auth.passwordChecks;
    const shape = (a: Reply, name: string) => ({
      status: a.status,
      retryAfter: a.headers['retry-after'],
      wwwAuthenticate: a.headers['www-authenticate'],
      body: JSON.parse(JSON.stringify(a.body).replaceAll(name, '{user}')),
    });
    assert.deepEqual(
      ghost.map((a) => shape(a, 'admin-ghost')),
      real.map((a) => shape(a, 'admin')),
    );
    assert.equal(checks1 - checks0, 5, 'five checks, then the lock answers without one');
    assert.equal(checks2 - checks1, 5, 'an unknown name costs the same five checks');
  });

  it('each further lock of the same key lasts twice as long; a success forgets the key', async () => {
    const from = '127.0.0.6';
    const first = await fiveWrongThenOne('admin', from);
    assert.equal(first[5]?.headers['retry-after'], '60');
    t.clock.now += 61_000;
    const second = await fiveWrongThenOne('admin', from);
    assert.equal(second[4]?.body.error.code, 'CLOUD_ERR_ACCOUNT_LOCKED');
    assert.equal(second[5]?.headers['retry-after'], '120');
    t.clock.now += 121_000;
    assert.equal((await signIn(t.url, ADMIN.username, ADMIN.password, from)).status, 201);
    const afresh = await fiveWrongThenOne('admin', from);
    assert.equal(afresh[5]?.headers['retry-after'], '60', 'the success forgot the earlier locks');
  });
});

describe('the sign-in count is atomic across two cloud instances on one PostgreSQL', () => {
  let cluster: PgCluster | undefined;
  const clouds: Cloud[] = [];
  before(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase();
    for (let i = 0; i < 2; i++) {
      const store = new PostgresCloudStore({ url, poolSize: 8 });
      await store.migrate();
      const cloud = buildCloud(testConfig({ storage: { kind: 'postgres', url } }), {
        store,
        logger: quiet,
        noEscalation: true,
      });
      clouds.push(cloud);
      await cloud.start();
    }
  });
  after(async () => {
    for (const cloud of clouds) {
      await cloud.stop();
      await cloud.services.store.close();
    }
    await cluster?.stop();
  });

  it('39 wrong passwords and the right one at once: no more than 5 are ever checked', async () => {
    const urls = clouds.map((c) => {
      const address = c.app.server.address();
      assert.ok(address && typeof address === 'object');
      return `http://127.0.0.1:${address.port}`;
    });
    const checks = () => clouds.reduce((n, c) => n + c.services.auth.passwordChecks, 0);
    const before = checks();
    const right = 17;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        signIn(urls[i % 2]!, ADMIN.username, i === right ? ADMIN.password : `wrong-${i}`, '127.0.0.7'),
      ),
    );
    const verified = checks() - before;
    assert.ok(verified <= 5, `${verified} attempts were checked`);
    const codes = answers.map((a) => (a.status === 201 ? 'session' : a.body.error.code));
    assert.equal(codes.filter((c) => c === 'CLOUD_ERR_ACCOUNT_LOCKED').length >= 35, true, codes.join());
    // The right password got a session only if it was one of the checked attempts.
    assert.ok(codes[right] !== 'session' || verified >= 1);
    assert.ok(codes.every((c) => ['session', 'CLOUD_ERR_AUTH', 'CLOUD_ERR_ACCOUNT_LOCKED'].includes(c)));
  });
});

describe('behind a trusted proxy, the source is the address the proxy reports', () => {
  let t: TestCloud;
  before(async () => {
    t = await startTestCloud({ http: { host: '127.0.0.1', port: 0, trustProxy: true } });
  });
  after(() => t?.stop());

  const viaProxy = (client: string, password: string) =>
    send(t.url, 'POST', '/v1/api-tokens', {
      auth: basic(ADMIN.username, password),
      body: '{}',
      headers: { 'x-forwarded-for': client },
    });

  it('locks the stranger’s forwarded address, not the proxy’s', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) codes.push((await viaProxy('203.0.113.66', `wrong-${i}`)).body.error.code);
    assert.equal(codes.at(-1), 'CLOUD_ERR_ACCOUNT_LOCKED');
    assert.equal(
      (await viaProxy('203.0.113.66', ADMIN.password)).body.error.code,
      'CLOUD_ERR_ACCOUNT_LOCKED',
    );
    assert.equal((await viaProxy('198.51.100.20', ADMIN.password)).status, 201);
  });
});

describe('sign-in rates per source address and in all', () => {
  let t: TestCloud;
  before(async () => {
    t = await startTestCloud({ signIn: { perSource: { max: 3 }, global: { max: 6 } } });
  });
  after(() => t?.stop());

  it('answers 429 with Retry-After past signIn.perSource, then past signIn.global', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await signIn(t.url, 'nobody', `x-${i}`, '127.0.0.8')).status);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    const limited = await signIn(t.url, ADMIN.username, ADMIN.password, '127.0.0.8');
    assert.equal(limited.body.error.code, 'CLOUD_ERR_RATE_LIMITED');
    assert.match(String(limited.headers['retry-after']), /^\d+$/);
    // Another address has its own count, until all addresses together pass the global one.
    assert.equal((await signIn(t.url, ADMIN.username, ADMIN.password, '127.0.0.9')).status, 201);
    assert.equal((await signIn(t.url, ADMIN.username, ADMIN.password, '127.0.0.10')).status, 429);
  });
});
