import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseLocal } from '../../../common/time.js';
import { adminToken, bearer, call, startTestCloud, type TestCloud, userToken } from '../http/harness.js';
import { DIRECTORY } from './support.js';

interface Item {
  schedule: string;
  layer: string;
  mode: string;
  current: { person: { id: string } } | null;
  next: { person: { id: string } } | null;
}

const LANE = encodeURIComponent('pudong/zhangjiang/lane-100');

describe('GET /v1/sites/:path/on-duty (scoped)', () => {
  let t: TestCloud;
  let town: string;
  let community: string;
  let otherTown: string;
  before(async () => {
    t = await startTestCloud({ escalation: DIRECTORY });
    t.clock.now = parseLocal('2025-06-03T10:00');
    const admin = await adminToken(t.url);
    town = await userToken(t.url, admin, { username: 'town-duty', scope: 'pudong/zhangjiang', role: 'duty' });
    community = await userToken(t.url, admin, {
      username: 'lane-duty',
      scope: 'pudong/zhangjiang/lane-100',
      role: 'viewer',
    });
    otherTown = await userToken(t.url, admin, {
      username: 'huamu',
      scope: 'pudong/huamu',
      role: 'supervisor',
    });
  });
  after(() => t.stop());

  it('a town user sees the station and the town sub-centre, current and next', async () => {
    const r = await call(t.url, 'GET', `/v1/sites/${LANE}/on-duty`, { auth: bearer(town) });
    assert.equal(r.status, 200);
    assert.equal(r.body.atLocal, '2025-06-03T10:00+08:00');
    assert.deepEqual(
      (r.body.items as Item[]).map((i) => [
        i.schedule,
        i.layer,
        i.mode,
        i.current?.person.id ?? null,
        i.next?.person.id,
      ]),
      [
        ['zhangjiang', 'desk', 'on_site', 'qian', 'zhou'],
        ['lane-100', 'day', 'on_site', 'wang', 'wang'],
        ['lane-100', 'night', 'on_call', null, 'li'],
      ],
    );
    assert.equal(r.body.items[1].current.toLocal, '2025-06-03T20:00+08:00');
  });

  it('?at= in local time; a community user sees only its own station', async () => {
    const r = await call(t.url, 'GET', `/v1/sites/${LANE}/on-duty?at=2025-06-03T23:00`, {
      auth: bearer(community),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(
      (r.body.items as Item[]).map((i) => [i.schedule, i.layer, i.current?.person.id ?? null]),
      [
        ['lane-100', 'day', null],
        ['lane-100', 'night', 'li'],
      ],
    );
  });

  it('outside the caller scope → 403; a bad time → 400 naming the field; no token → 401', async () => {
    const r = await call(t.url, 'GET', `/v1/sites/${LANE}/on-duty`, { auth: bearer(otherTown) });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'CLOUD_ERR_SCOPE');
    const bad = await call(t.url, 'GET', `/v1/sites/${LANE}/on-duty?at=tomorrow`, { auth: bearer(town) });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'at');
    assert.equal((await call(t.url, 'GET', `/v1/sites/${LANE}/on-duty`)).status, 401);
  });
});
