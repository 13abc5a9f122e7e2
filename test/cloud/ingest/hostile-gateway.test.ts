/**
 * A compromised or broken gateway against the real HTTP service on every store (memory, a SQLite
 * file, a real PostgreSQL): out-of-bounds times and clock offsets, malformed and unknown events,
 * too many devices, gzip where it does not belong. Each is refused with a 4xx naming the code and
 * the field, identically on every store, and nothing is stored (docs/architecture.md invariant 12).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import type { CloudStore } from '../../../cloud/store/port.js';
import { PostgresCloudStore } from '../../../cloud/store/postgres/store.js';
import { SqliteCloudStore } from '../../../cloud/store/sqlite/store.js';
import { packTelemetry } from '../../../protocol/index.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { tempDir } from '../../support/tmp.js';
import {
  adminToken,
  bearer,
  call,
  enrollGateway,
  enrollmentToken,
  makeBatch,
  site,
  startTestCloud,
  type TestCloud,
} from '../http/harness.js';

const LANE = 'pudong/zhangjiang/lane-100';
const DAY = 86_400_000;
const YEAR = 365.25 * DAY;
const DEVICE_CAP = 40;

let pg: PgCluster | undefined;
const dir = tempDir('doorstep-hostile-gw-');
before(async () => {
  pg = await startPostgres();
});
after(async () => {
  await pg?.stop();
  dir.dispose();
});

const stores: Array<[string, () => Promise<CloudStore>]> = [
  ['memory', async () => new MemoryCloudStore()],
  ['sqlite', async () => new SqliteCloudStore({ path: join(dir.path, `cloud-${Date.now()}.db`) })],
  ['postgres', async () => new PostgresCloudStore({ url: await pg!.createDatabase(), poolSize: 4 })],
];

for (const [name, open] of stores) {
  describe(`a hostile gateway (${name})`, () => {
    let t: TestCloud;
    let secret: string;
    let admin: string;
    let seq = 0;
    let batchSeq = 0;
    before(async () => {
      t = await startTestCloud({ ingest: { maxDevicesPerGateway: DEVICE_CAP } }, { store: await open() });
      admin = await adminToken(t.url);
      secret = await enrollGateway(t.url, admin, 'gw-x', LANE);
    });
    after(() => t?.stop());

    let counts: { alarms: number; events: number; telemetry: number };
    let devices: number;
    beforeEach(async () => {
      counts = await t.store.countRecords();
      devices = (await t.store.listDevices('pudong')).length;
    });
    const nothingStored = async () => {
      assert.deepEqual(await t.store.countRecords(), counts);
      assert.equal((await t.store.listDevices('pudong')).length, devices, 'no device registered');
    };
    /** A fresh, otherwise valid batch: `readings` rows and the given alarms, new seqs each time. */
    const fresh = (
      opts: Omit<Parameters<typeof makeBatch>[0], 'gateway' | 'sitePath' | 'batchSeq' | 'firstSeq'>,
    ) => {
      const b = makeBatch({
        gateway: 'gw-x',
        sitePath: LANE,
        batchSeq: ++batchSeq,
        firstSeq: seq + 1,
        ...opts,
      });
      seq += (opts.readings ?? 0) + 10;
      return b;
    };
    const sync = (json: unknown) =>
      call(t.url, 'POST', '/v1/sync', { auth: bearer(secret), json, gzip: true });
    const refused = async (json: unknown, status: number, code: string, field: string | RegExp) => {
      counts = await t.store.countRecords();
      devices = (await t.store.listDevices('pudong')).length;
      const r = await sync(json);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.error.code, code);
      if (typeof field === 'string') assert.equal(r.body.error.field, field);
      else assert.match(r.body.error.field, field);
      assert.ok(r.body.error.message.includes(r.body.error.field), r.body.error.message);
      await nothingStored();
      return r;
    };

    it('health.clockOffsetMs = -1e308 → 400 naming it, nothing stored', async () => {
      await refused(
        fresh({ readings: 2, clockOffsetMs: -1e308 }),
        400,
        'CLOUD_ERR_VALIDATION',
        'health.clockOffsetMs',
      );
      // 1e309 is Infinity to JSON.parse: refused the same way.
      const b = JSON.stringify(fresh({ readings: 1, clockOffsetMs: 1 })).replace(
        '"clockOffsetMs":1',
        '"clockOffsetMs":1e309',
      );
      const r = await call(t.url, 'POST', '/v1/sync', {
        auth: bearer(secret),
        raw: b,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.field, 'health.clockOffsetMs');
      await nothingStored();
    });

    it('a reading 30 years ahead → 400 CLOUD_ERR_TIME_RANGE naming the row', async () => {
      const b = fresh({ readings: 3 });
      // The third reading's ts delta: 30 years on.
      b.telemetry!.ts[2] = Math.round(30 * YEAR);
      await refused(b, 400, 'CLOUD_ERR_TIME_RANGE', 'telemetry.ts[2]');
    });

    it('an alarm 10 years ahead, or a sentAt 2 days ahead → 400 naming the field', async () => {
      const b = fresh({ alarms: [{ seq: seq + 1, id: 'gw-x-fire-far-000001', type: 'fire_confirmed' }] });
      b.alarms![0]!.transition.ts = t.clock.now + Math.round(10 * YEAR);
      await refused(b, 400, 'CLOUD_ERR_TIME_RANGE', 'alarms[0].transition.ts');
      // A gateway that claims its clock is right (offset 0) but sends from 2 days ahead.
      const s = fresh({ readings: 1, clockOffsetMs: 0 });
      s.sentAt = t.clock.now + 2 * DAY;
      await refused(s, 400, 'CLOUD_ERR_TIME_RANGE', 'sentAt');
    });

    it('times before the enrolment less 30 days → 400; a clock offset cannot move them in', async () => {
      await refused(
        fresh({ readings: 2, ts: t.clock.now - 31 * DAY, clockOffsetMs: 0 }),
        400,
        'CLOUD_ERR_TIME_RANGE',
        'sentAt',
      );
      // A gateway claiming its clock is 40 days ahead, to push today's readings into the future.
      await refused(fresh({ readings: 2, clockOffsetMs: -40 * DAY }), 400, 'CLOUD_ERR_TIME_RANGE', 'sentAt');
    });

    it('a gateway whose RTC restarted at 1970 is stored at cloud time through its offset', async () => {
      const skew = Date.UTC(1970, 0, 1) - t.clock.now;
      const b = fresh({ readings: 2, ts: t.clock.now + skew, clockOffsetMs: skew });
      const r = await sync(b);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.appliedOffsetMs, skew);
      const rows = await t.store.queryReadings(LANE, { from: t.clock.now - 1000, to: t.clock.now + 10_000 });
      assert.ok(rows.some((row) => row.ts === t.clock.now + skew && row.cloudTs === t.clock.now));
    });

    it('first contact without an offset: a clock years off is placed by its sentAt, not refused', async () => {
      const skew = Date.UTC(2000, 0, 1) - t.clock.now;
      const b = fresh({ readings: 2, ts: t.clock.now + skew });
      b.alarms = [
        {
          seq: seq + 1,
          transition: {
            id: 'gw-x-smoke-first-0001',
            gateway: 'gw-x',
            device: 'gas-1',
            type: 'gas_high',
            severity: 'critical',
            state: 'raised',
            ts: t.clock.now + skew + 500,
          },
        },
      ];
      const r = await sync(b);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.appliedOffsetMs, skew);
      const alarms = await t.store.queryAlarmTransitions(LANE, { alarm: 'gw-x-smoke-first-0001' });
      assert.equal(alarms[0]?.ts, t.clock.now + skew + 500);
      assert.equal(alarms[0]?.ts - alarms[0]!.offsetMs, t.clock.now + 500, 'cloud time = now');
      // A row of the same batch still out of bounds with that offset is refused as before.
      const c = fresh({ readings: 2, ts: t.clock.now + skew });
      c.telemetry!.ts[1] = Math.round(40 * YEAR);
      await refused(c, 400, 'CLOUD_ERR_TIME_RANGE', 'telemetry.ts[1]');
    });

    it('times up to a day ahead are accepted (a gateway clock running fast)', async () => {
      const b = fresh({ readings: 1, ts: t.clock.now + DAY - 60_000 });
      assert.equal((await sync(b)).status, 200);
    });

    it('malformed device_state events → 400 naming the field, nothing stored', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ kind: 'device_state', device: null, state: { $gt: '' } }, /^events\[0\]\.event\./],
        [{ kind: 'device_state', state: { $gt: '' } }, /^events\[0\]\.event\.state\./],
        [
          { kind: 'device_state', state: { device: 'Robert"); DROP', state: 'online', since: t.clock.now } },
          /^events\[0\]\.event\.state\.device$/,
        ],
        [
          { kind: 'device_state', state: { device: 'gas-1', state: 'on fire', since: t.clock.now } },
          /^events\[0\]\.event\.state\.state$/,
        ],
        [
          { kind: 'device_state', state: { device: 'gas-1', state: 'online', since: t.clock.now, x: 1 } },
          /^events\[0\]\.event\.state\.x$/,
        ],
        [{ kind: 'surprise', anything: 1 }, /^events\[0\]\.event\.kind$/],
        [{ kind: 'command_result', id: 'c'.repeat(65) }, /^events\[0\]\.event\.id$/],
        [{ kind: 'command_result', command: 'self_destruct' }, /^events\[0\]\.event\.command$/],
        [{ kind: 'action_result', action: 'siren' }, /^events\[0\]\.event\./],
      ];
      for (const [event, field] of cases) {
        const b = fresh({ readings: 1 });
        b.events = [{ seq: seq + 1, ts: t.clock.now, event: event as never }];
        await refused(b, 400, 'CLOUD_ERR_VALIDATION', field);
      }
      const good = fresh({});
      good.events = [
        {
          seq: seq + 1,
          ts: t.clock.now,
          event: {
            kind: 'device_state',
            state: { device: 'gas-1', state: 'offline', reason: 'DRV_ERR_TIMEOUT', since: t.clock.now },
          },
        },
      ];
      const r = await sync(good);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.stored.events, 1);
    });

    it(`more than ${DEVICE_CAP} devices on one gateway → 400 CLOUD_ERR_DEVICE_LIMIT, nothing stored`, async () => {
      const known = (await t.store.listDevices(LANE)).filter((d) => d.gateway === 'gw-x').length;
      const rows = (from: number, n: number, first: number) =>
        Array.from({ length: n }, (_, i) => ({
          seq: first + i,
          device: `dev-${from + i}`,
          point: 'gas',
          unit: '%LEL',
          value: 1,
          quality: 'good' as const,
          ts: t.clock.now,
        }));
      const many = fresh({});
      many.telemetry = packTelemetry(rows(0, DEVICE_CAP + 5, seq + 1));
      seq += DEVICE_CAP + 10;
      // The first series past the cap is named (the known ones count too).
      const r = await refused(many, 400, 'CLOUD_ERR_DEVICE_LIMIT', `telemetry.series[${DEVICE_CAP - known}]`);
      assert.match(r.body.error.message, new RegExp(`limit of ${DEVICE_CAP}`));
      // Up to the cap is fine; after that, only devices already known.
      const upTo = fresh({});
      upTo.telemetry = packTelemetry(rows(0, DEVICE_CAP - known, seq + 1));
      seq += DEVICE_CAP + 10;
      assert.equal((await sync(upTo)).status, 200);
      const again = fresh({});
      again.telemetry = packTelemetry(rows(0, DEVICE_CAP - known, seq + 1));
      seq += DEVICE_CAP + 10;
      assert.equal((await sync(again)).status, 200, 'known devices only');
      const oneMore = fresh({});
      oneMore.telemetry = packTelemetry(rows(DEVICE_CAP, 1, seq + 1));
      seq += 10;
      await refused(oneMore, 400, 'CLOUD_ERR_DEVICE_LIMIT', 'telemetry.series[0]');
      const viaHealth = fresh({ readings: 0, clockOffsetMs: 0 });
      viaHealth.health!.devices = [{ device: 'dev-new', state: 'online', since: t.clock.now }];
      await refused(viaHealth, 400, 'CLOUD_ERR_DEVICE_LIMIT', 'health.devices[0].device');
    });

    it('gzip bodies are refused before inflation on every route but an authenticated sync', async () => {
      // 64 MiB of spaces: ~64 KB on the wire. /v1/enroll used to inflate it (413 after 32 MiB).
      const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
      const token = await enrollmentToken(t.url, admin, LANE);
      const gz = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
      for (const [path, auth] of [
        ['/v1/enroll', undefined],
        ['/v1/api-tokens', undefined],
        ['/v1/users', bearer(admin)],
        ['/v1/enrollment-tokens', bearer(admin)],
        ['/v1/gateway/credentials/rotate', bearer(secret)],
        ['/console/api/sign-in', undefined],
        ['/v1/nowhere', undefined],
      ] as const) {
        const r = await call(t.url, 'POST', path, {
          raw: bomb,
          headers: { ...gz, origin: t.url, ...(auth ? { authorization: auth } : {}) },
        });
        assert.ok([401, 404, 415].includes(r.status), `${path}: ${r.status} ${JSON.stringify(r.body)}`);
        if (r.status === 415) assert.match(r.body.error.message, /plain JSON/);
      }
      // The enrolment token was not used up by any of that.
      const e = await call(t.url, 'POST', '/v1/enroll', {
        json: { token, gateway: { id: 'gw-after', site: site(LANE) } },
      });
      assert.equal(e.status, 201, JSON.stringify(e.body));
      // An unauthenticated sync is refused before its body is read.
      const anon = await call(t.url, 'POST', '/v1/sync', { raw: bomb, headers: gz });
      assert.equal(anon.status, 401);
      // The authenticated sync still takes gzip, with the inflation limit.
      const ok = await sync(fresh({ readings: 2 }));
      assert.equal(ok.status, 200);
      const big = await call(t.url, 'POST', '/v1/sync', {
        auth: bearer(secret),
        raw: bomb,
        headers: gz,
      });
      assert.equal(big.status, 413);
    });
  });
}
