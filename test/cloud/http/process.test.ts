import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { tempDir } from '../../support/tmp.js';
import { ADMIN, basic, bearer, call, makeBatch, site } from './harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const FIXTURE = join(ROOT, 'test/fixtures/cloud.yaml');
const LANE = 'pudong/zhangjiang/lane-100';

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves when stdout has a line matching `pattern`. */
  waitFor(pattern: RegExp): Promise<string>;
  exited: Promise<number | null>;
}

/** `doorstep cloud --config FILE` as a real child process; resolves once it prints its address. */
async function startCloudProcess(config: string): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/doorstep.ts', 'cloud', '--config', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DOORSTEP_LOG_LEVEL: 'info' },
  });
  let out = '';
  let err = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const waitFor = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const line = out.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) return resolve(line);
      waiters.push({ pattern, resolve });
      exited.then((code) => reject(new Error(`cloud exited (${code}) before ${pattern}: ${err}\n${out}`)));
    });
  const line = await waitFor(/doorstep cloud listening on /);
  const url = line.replace(/^.*listening on /, '').trim();
  return { child, url, output: () => out + err, waitFor, exited };
}

describe('doorstep cloud as a process (SQLite)', () => {
  const dir = tempDir('doorstep-cloud-proc-');
  const config = join(dir.path, 'cloud.yaml');
  copyFileSync(FIXTURE, config);
  const running: Running[] = [];
  after(async () => {
    for (const r of running)
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    dir.dispose();
  });

  let secret = '';
  let adminApi = '';
  const batch = makeBatch({
    gateway: 'gw-proc',
    sitePath: LANE,
    batchSeq: 1,
    firstSeq: 1,
    readings: 30,
    alarms: [{ seq: 31, id: 'gw-proc-smoke-0001' }],
    clockOffsetMs: 40,
    // A real process on the real clock: times outside [enrolment − 30 d, now + 1 d] are refused.
    ts: Date.now(),
  });

  it('enrols, syncs exactly once, finishes an in-flight request on SIGTERM and exits 0', async () => {
    const cloud = await startCloudProcess(config);
    running.push(cloud);
    assert.ok(existsSync(join(dir.path, 'cloud.db')), 'SQLite file next to the config');

    const tok = await call(cloud.url, 'POST', '/v1/api-tokens', {
      auth: basic(ADMIN.username, ADMIN.password),
      json: {},
    });
    assert.equal(tok.status, 201);
    adminApi = tok.body.token;
    const et = await call(cloud.url, 'POST', '/v1/enrollment-tokens', {
      auth: bearer(adminApi),
      json: { scope: 'pudong/zhangjiang', uses: 1, ttlHours: 1 },
    });
    const en = await call(cloud.url, 'POST', '/v1/enroll', {
      json: { token: et.body.token, gateway: { id: 'gw-proc', site: site(LANE) } },
    });
    assert.equal(en.status, 201, JSON.stringify(en.body));
    secret = en.body.credential.secret;

    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        call(cloud.url, 'POST', '/v1/sync', { auth: bearer(secret), json: batch, gzip: true }),
      ),
    );
    assert.ok(answers.every((a) => a.status === 200 && a.body.ackedBatchSeq === 1));
    assert.equal(
      answers.reduce((n, a) => n + a.body.stored.telemetry, 0),
      30,
    );

    // An in-flight request: headers and half the body sent, then SIGTERM, then the rest.
    const second = gzipSync(
      JSON.stringify(
        makeBatch({
          gateway: 'gw-proc',
          sitePath: LANE,
          batchSeq: 2,
          firstSeq: 32,
          readings: 10,
          ts: Date.now(),
        }),
      ),
    );
    const { port } = new URL(cloud.url);
    const inflight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: Number(port),
          method: 'POST',
          path: '/v1/sync',
          headers: {
            authorization: bearer(secret),
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            'content-length': second.length,
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      const half = Math.floor(second.length / 2);
      // SIGTERM only once the cloud has taken the request in (fastify logs "incoming request" when
      // the headers are parsed): a request still in the kernel's buffers when the signal lands is
      // a new request to a closing server, which is answered 503 by design.
      const syncRequestsSeen = () =>
        cloud
          .output()
          .split('\n')
          .filter((l) => /"msg":"incoming request"/.test(l) && l.includes('/v1/sync')).length;
      const before = syncRequestsSeen();
      req.write(second.subarray(0, half), () => {
        void (async () => {
          while (syncRequestsSeen() === before) await new Promise((r) => setTimeout(r, 10));
          cloud.child.kill('SIGTERM');
          await cloud.waitFor(/"msg":"stopping"/);
          req.end(second.subarray(half));
        })().catch(reject);
      });
    });
    const done = await inflight;
    assert.equal(done.status, 200, done.body);
    assert.equal(JSON.parse(done.body).stored.telemetry, 10);
    assert.equal(await cloud.exited, 0, cloud.output().slice(-3000));

    const log = cloud.output();
    for (const s of [secret, adminApi, ADMIN.password, et.body.token as string])
      assert.ok(!log.includes(s), 'a secret reached the log');
  });

  it('after a restart the data is still there and a resent batch is a duplicate', async () => {
    assert.ok(secret, 'the first test enrolled a gateway');
    const cloud = await startCloudProcess(config);
    running.push(cloud);
    const readings = await call(cloud.url, 'GET', '/v1/readings?gateway=gw-proc&limit=1000', {
      auth: bearer(adminApi),
    });
    assert.equal(readings.status, 200);
    assert.equal(readings.body.items.length, 40);
    const alarms = await call(cloud.url, 'GET', '/v1/alarms', { auth: bearer(adminApi) });
    assert.deepEqual(
      alarms.body.items.map((a: { id: string }) => a.id),
      ['gw-proc-smoke-0001'],
    );
    const again = await call(cloud.url, 'POST', '/v1/sync', {
      auth: bearer(secret),
      json: batch,
      gzip: true,
    });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.stored, { alarms: 0, events: 0, telemetry: 0 });
    assert.equal(again.body.duplicates.telemetry, 30);
    const health = await call(cloud.url, 'GET', '/healthz');
    assert.equal(health.status, 200);
    cloud.child.kill('SIGTERM');
    assert.equal(await cloud.exited, 0);
  });
});
