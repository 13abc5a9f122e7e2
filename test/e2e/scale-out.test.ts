import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { stringify } from 'yaml';
import { packTelemetry, type UplinkBatchInput } from '../../protocol/index.js';
import { freePort } from '../support/net.js';
import { type PgCluster, startPostgres } from '../support/postgres.js';
import { type DoorstepProcess, enrollGateway, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';

const ADMIN: [string, string] = ['admin', 'scale-out admin password'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

/**
 * Scale-out: two `doorstep cloud` processes on one PostgreSQL behind no load balancer at all — each
 * gateway's batches go to either instance, every batch twice (a retry through the other instance),
 * concurrently. The database must hold every row exactly once.
 */
describe('two cloud instances on one PostgreSQL', () => {
  const dir = tempDir('doorstep-e2e-scale-');
  let cluster: PgCluster;
  let url = '';
  const clouds: { proc: DoorstepProcess; base: string }[] = [];

  before(async () => {
    cluster = await startPostgres();
    url = await cluster.createDatabase('district');
    for (const name of ['a', 'b']) {
      const port = await freePort();
      const file = join(dir.path, `cloud-${name}.yaml`);
      writeFileSync(
        file,
        stringify({
          district: { slug: 'pudong', name: '浦东新区' },
          http: { host: '127.0.0.1', port, rateLimit: { max: 100_000, timeWindowMs: 60_000 } },
          storage: { kind: 'postgres', url },
          bootstrap: {
            admin: { username: ADMIN[0], password: ADMIN[1] },
            sites: [
              { path: 'pudong/zhangjiang', name: '张江镇' },
              { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
            ],
          },
          log: { level: 'warn' },
        }),
      );
      const proc = startDoorstep(['cloud', '--config', file]);
      await proc.waitFor(/doorstep cloud listening on /);
      clouds.push({ proc, base: `http://127.0.0.1:${port}/` });
    }
  });

  after(async () => {
    for (const c of clouds) await c.proc.stop('SIGKILL');
    await cluster?.stop();
    dir.dispose();
  });

  it('ingests concurrently through both instances with no duplicates and no lost rows', async () => {
    const gateways = [];
    for (let g = 0; g < 4; g++) {
      const id = `gw-${g}`;
      const { secret } = await enrollGateway(clouds[g % 2]!.base, ADMIN, { id, site: SITE });
      gateways.push({ id, secret });
    }
    const BATCHES = 10;
    const ROWS = 500;
    const batches = gateways.flatMap((gw) =>
      Array.from({ length: BATCHES }, (_, b): UplinkBatchInput & { secret: string } => {
        const first = b * (ROWS + 1) + 1;
        const ts = 1_763_700_000_000 + b * 10_000;
        return {
          secret: gw.secret,
          v: 1,
          gateway: gw.id,
          site: SITE,
          batchSeq: b + 1,
          sentAt: ts,
          alarms: [
            {
              seq: first,
              transition: {
                id: `${gw.id}.smoke-1.smoke.${b}`,
                gateway: gw.id,
                device: 'smoke-1',
                type: 'smoke',
                severity: 'critical',
                state: b % 2 === 0 ? 'raised' : 'cleared',
                ts,
                test: false,
                latched: false,
              },
            },
          ],
          telemetry: packTelemetry(
            Array.from({ length: ROWS }, (_, i) => ({
              seq: first + 1 + i,
              device: `dev-${i % 50}`,
              point: 'pressure',
              unit: 'MPa',
              value: 0.35 + (i % 10) / 1000,
              quality: 'good' as const,
              ts: ts + i,
            })),
          ),
        };
      }),
    );
    const post = async (base: string, { secret, ...body }: UplinkBatchInput & { secret: string }) => {
      const res = await fetch(new URL('/v1/sync', base), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${secret}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        },
        body: gzipSync(JSON.stringify(body)),
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const answer = JSON.parse(text) as { ackedBatchSeq: number };
      assert.equal(answer.ackedBatchSeq, body.batchSeq);
    };
    // The tests' cluster runs without fsync: each instance said so at start, with the code to look up.
    for (const c of clouds)
      assert.match(c.proc.output(), /"code":"CLOUD_ERR_STORE_SETTING".*"setting":"fsync","value":"off"/);
    // every batch through both instances at once, all gateways in parallel
    await Promise.all(batches.flatMap((b) => [post(clouds[0]!.base, b), post(clouds[1]!.base, b)]));

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const count = async (table: string) =>
        Number(
          (await client.query(`SELECT count(*) AS n, count(DISTINCT (gateway, seq)) AS d FROM ${table}`))
            .rows[0].n,
        );
      const distinct = async (table: string) =>
        Number((await client.query(`SELECT count(DISTINCT (gateway, seq)) AS d FROM ${table}`)).rows[0].d);
      assert.equal(await count('readings'), gateways.length * BATCHES * ROWS, 'no reading lost');
      assert.equal(await distinct('readings'), await count('readings'), 'no reading stored twice');
      assert.equal(await count('alarm_transitions'), gateways.length * BATCHES, 'no alarm transition lost');
      assert.equal(await distinct('alarm_transitions'), await count('alarm_transitions'), 'none twice');
    } finally {
      await client.end();
    }
  });
});
