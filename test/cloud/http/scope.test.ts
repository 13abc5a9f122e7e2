import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  adminToken,
  bearer,
  call,
  enrollGateway,
  makeBatch,
  startTestCloud,
  type TestCloud,
  userToken,
} from './harness.js';

/**
 * docs/architecture.md invariant 11 for the query API: a town user never sees another town's rows, a community
 * user only its community; asking for a path outside the scope is 403.
 */
const GATEWAYS = [
  { id: 'gw-zj-100', path: 'pudong/zhangjiang/lane-100' },
  { id: 'gw-zj-200', path: 'pudong/zhangjiang/lane-200' },
  { id: 'gw-hm-1', path: 'pudong/huamu/garden-1' },
];

type Row = Record<string, unknown> & {
  site?: { district: string; town: string; community: string };
  gateway?: string;
};
const ENDPOINTS = [
  '/v1/sites',
  '/v1/gateways',
  '/v1/devices',
  '/v1/alarms',
  '/v1/readings',
  '/v1/rollups?resolution=1m',
  '/v1/health/devices',
  '/v1/health/gateways',
];

describe('cloud query API: scope isolation', () => {
  let t: TestCloud;
  let district: string;
  let town: string;
  let community: string;
  before(async () => {
    t = await startTestCloud();
    const admin = await adminToken(t.url);
    for (const [i, g] of GATEWAYS.entries()) {
      const secret = await enrollGateway(t.url, admin, g.id, g.path);
      const batch = makeBatch({
        gateway: g.id,
        sitePath: g.path,
        batchSeq: 1,
        firstSeq: 1,
        readings: 5,
        alarms: [{ seq: 6, id: `${g.id}-smoke-000${i}` }],
        ts: t.clock.now - 10 * 60_000,
      });
      const withDevices = {
        ...batch,
        health: {
          software: 'test',
          uptimeS: 1,
          outbox: { pending: { alarm: 0, event: 0, telemetry: 0 }, dropped: {}, quarantined: 0 },
          devices: [
            { device: 'gas-1', state: 'online', since: t.clock.now - 60_000, consecutiveFailures: 0 },
          ],
        },
      };
      const r = await call(t.url, 'POST', '/v1/sync', {
        auth: bearer(secret),
        json: withDevices,
        gzip: true,
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    await t.store.upsertDevices(
      GATEWAYS.map((g) => {
        const [d = '', tw = '', c = ''] = g.path.split('/');
        return { gateway: g.id, id: 'gas-1', site: { district: d, town: tw, community: c }, kind: 'gas' };
      }),
    );
    await t.store.rollup(t.clock.now);
    district = admin;
    town = await userToken(t.url, admin, { username: 'zj-town', scope: 'pudong/zhangjiang', role: 'viewer' });
    community = await userToken(t.url, admin, {
      username: 'zj-100',
      scope: 'pudong/zhangjiang/lane-100',
      role: 'viewer',
    });
  });
  after(() => t?.stop());

  const get = async (auth: string, path: string) => call(t.url, 'GET', path, { auth: bearer(auth) });
  const pathOf = (row: Row): string => {
    if (typeof row.path === 'string') return row.path;
    if (row.site) return `${row.site.district}/${row.site.town}/${row.site.community}`;
    return GATEWAYS.find((g) => g.id === row.gateway)?.path ?? '?';
  };

  for (const endpoint of ENDPOINTS) {
    it(`${endpoint}: district sees all, town its town, community its community`, async () => {
      const all = (await get(district, endpoint)).body.items as Row[];
      assert.ok(all.length > 0, `${endpoint} returned rows for the district`);
      const towns = new Set(
        all
          .map(pathOf)
          .map((p) => p.split('/')[1])
          .filter(Boolean),
      );
      assert.ok(
        towns.has('huamu') && towns.has('zhangjiang'),
        `${endpoint}: both towns in the district view`,
      );

      const tRows = (await get(town, endpoint)).body.items as Row[];
      assert.ok(tRows.length > 0, `${endpoint}: town sees its own rows`);
      for (const row of tRows)
        assert.match(pathOf(row), /^pudong\/zhangjiang(\/|$)/, `${endpoint} leaked ${pathOf(row)}`);

      const cRows = (await get(community, endpoint)).body.items as Row[];
      assert.ok(cRows.length > 0, `${endpoint}: community sees its own rows`);
      for (const row of cRows)
        assert.match(pathOf(row), /^pudong\/zhangjiang\/lane-100$/, `${endpoint} leaked ${pathOf(row)}`);
      assert.ok(
        cRows.length < tRows.length && tRows.length < all.length,
        `${endpoint}: strictly nested views`,
      );
    });

    it(`${endpoint}: a scope outside the caller's → 403`, async () => {
      const sep = endpoint.includes('?') ? '&' : '?';
      const r = await get(town, `${endpoint}${sep}scope=pudong/huamu`);
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'CLOUD_ERR_SCOPE');
      const up = await get(community, `${endpoint}${sep}scope=pudong/zhangjiang`);
      assert.equal(up.status, 403);
      const narrower = await get(town, `${endpoint}${sep}scope=pudong/zhangjiang/lane-200`);
      assert.equal(narrower.status, 200);
      for (const row of narrower.body.items as Row[])
        assert.match(pathOf(row), /^pudong\/zhangjiang\/lane-200/);
    });
  }

  for (const endpoint of ['/v1/devices', '/v1/alarms', '/v1/readings', '/v1/rollups?resolution=1h']) {
    it(`${endpoint}: filtering on another town's gateway → 403, not an empty list`, async () => {
      const sep = endpoint.includes('?') ? '&' : '?';
      const r = await get(town, `${endpoint}${sep}gateway=gw-hm-1`);
      assert.equal(r.status, 403);
      const own = await get(town, `${endpoint}${sep}gateway=gw-zj-200`);
      assert.equal(own.status, 200);
    });
  }

  it('query strings are validated, naming the parameter', async () => {
    const limit = await get(district, '/v1/readings?limit=10001');
    assert.equal(limit.status, 400);
    assert.equal(limit.body.error.field, 'limit');
    const from = await get(district, '/v1/alarms?from=yesterday');
    assert.equal(from.body.error.field, 'from');
    const unknown = await get(district, '/v1/gateways?colour=red');
    assert.equal(unknown.body.error.field, 'colour');
    const res = await get(district, '/v1/rollups?resolution=1d');
    assert.equal(res.body.error.field, 'resolution');
    const state = await get(district, '/v1/health/devices?state=sleepy');
    assert.equal(state.body.error.field, 'state');
  });

  it('filters work inside the scope', async () => {
    const alarms = await get(town, '/v1/alarms?type=smoke&limit=1');
    assert.equal(alarms.body.items.length, 1);
    const online = await get(district, '/v1/health/devices?state=online');
    assert.ok(online.body.items.every((d: { state: string }) => d.state === 'online'));
  });

  it('every query endpoint needs an API token', async () => {
    for (const endpoint of ENDPOINTS) {
      const r = await call(t.url, 'GET', endpoint);
      assert.equal(r.status, 401, endpoint);
    }
  });
});
