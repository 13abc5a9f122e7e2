/**
 * Sign-in storm beside ingest (cloud/auth/README.md): a gateway's small gzip'd /v1/sync (200
 * readings and an alarm) measured alone, then while 32 password sign-ins with random user names
 * are kept in flight without pause — the case where scrypt on libuv's 4-thread pool used to hold
 * the sync's gunzip for 9–16 s. Printed beside the bare gunzip time of the same body. The cloud
 * runs in this process on a SQLite file with the default sign-in pool (2 threads, 32 waiting).
 * For comparison, the same storm's scrypt run on libuv's pool, as before. Target: sync p99 during
 * the storm ≤ 250 ms.
 */
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzipSync } from 'node:zlib';
import { SqliteCloudStore } from '../../cloud/store/sqlite/store.js';
import { unmatchableHash, verifyPassword } from '../../common/password.js';
import {
  adminToken,
  basic,
  bearer,
  call,
  enrollGateway,
  makeBatch,
  startTestCloud,
} from '../cloud/http/harness.js';
import { tempDir } from '../support/tmp.js';
import { info, report } from './report.js';

const LANE = 'pudong/zhangjiang/lane-100';
const SYNCS = 40;
/** Syncs measured with scrypt on libuv's pool: each takes seconds there. */
const SYNCS_BEFORE = 5;
const STORM = 32;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

const dir = tempDir('doorstep-bench-signin-');
// The storm comes from one address here; a botnet's comes from many, so the per-address and
// global rates are raised out of the way: the pool is the bound under test.
const t = await startTestCloud(
  { signIn: { perSource: { max: 1_000_000 }, global: { max: 1_000_000 } } },
  { store: new SqliteCloudStore({ path: join(dir.path, 'cloud.db') }) },
);
try {
  const secret = await enrollGateway(t.url, await adminToken(t.url), 'gw-bench', LANE);
  let batchSeq = 0;
  const body = (seq: number) =>
    makeBatch({
      gateway: 'gw-bench',
      sitePath: LANE,
      batchSeq: seq,
      firstSeq: seq * 1000,
      readings: 200,
      alarms: [{ seq: seq * 1000 + 500, id: `gw-bench-smoke-${seq}` }],
    });
  const sample = gzipSync(JSON.stringify(body(0)));
  const inflate = promisify(gunzip);
  const bare: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await inflate(sample);
    bare.push(performance.now() - t0);
  }
  bare.sort((a, b) => a - b);

  const syncs = async (count = SYNCS): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      batchSeq += 1;
      const t0 = performance.now();
      const r = await call(t.url, 'POST', '/v1/sync', {
        auth: bearer(secret),
        json: body(batchSeq),
        gzip: true,
      });
      times.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`sync ${r.status} ${JSON.stringify(r.body)}`);
    }
    return times.sort((a, b) => a - b);
  };

  const quiet = await syncs();
  let storming = true;
  let signIns = 0;
  let busy = 0;
  const stormer = async () => {
    while (storming) {
      const r = await call(t.url, 'POST', '/v1/api-tokens', {
        auth: basic(`stranger-${Math.random().toString(36).slice(2)}`, 'guess'),
        json: {},
      });
      signIns += 1;
      if (r.status === 503) busy += 1;
    }
  };

  const stormers = Array.from({ length: STORM }, stormer);
  await new Promise((r) => setTimeout(r, 500));
  const stormed = await syncs();
  storming = false;
  await Promise.all(stormers);

  // For comparison, the way it was: the same number of scrypt checks kept in flight on libuv's
  // thread pool (node:crypto's asynchronous scrypt), which the sync's gunzip shares.
  storming = true;
  const dummy = unmatchableHash();
  const onLibuv = Array.from({ length: STORM }, async () => {
    while (storming) await verifyPassword('guess', dummy);
  });
  await new Promise((r) => setTimeout(r, 500));
  const shared = await syncs(SYNCS_BEFORE);
  storming = false;
  await Promise.all(onLibuv);

  info({ name: 'bare gunzip of the sync body, median', value: percentile(bare, 50), unit: 'ms' });
  info({ name: 'sync latency without sign-ins, median', value: percentile(quiet, 50), unit: 'ms' });
  info({ name: 'sync latency without sign-ins, p99', value: percentile(quiet, 99), unit: 'ms' });
  info({ name: 'sync latency during the sign-in storm, median', value: percentile(stormed, 50), unit: 'ms' });
  info({
    name: 'sign-ins answered during the storm',
    value: signIns,
    unit: 'requests',
    note: `${busy} of them 503 (pool full)`,
  });
  info({
    name: 'sync latency with 32 scrypt checks on libuv’s pool (before), worst of 5',
    value: percentile(shared, 99),
    unit: 'ms',
  });
  report({
    name: 'sync latency during the sign-in storm, p99',
    value: percentile(stormed, 99),
    unit: 'ms',
    target: 250,
    comparator: '<=',
  });
} finally {
  await t.stop();
  dir.dispose();
}
