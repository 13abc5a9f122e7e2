import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  adminToken,
  bearer,
  call,
  enrollmentToken,
  site,
  startTestCloud,
  type TestCloud,
  userToken,
} from '../http/harness.js';

describe('cloud enrolment', () => {
  let t: TestCloud;
  let admin: string;
  before(async () => {
    t = await startTestCloud();
    admin = await adminToken(t.url);
  });
  after(() => t?.stop());

  const enroll = (token: string, id: string, path: string) =>
    call(t.url, 'POST', '/v1/enroll', {
      json: { token, gateway: { id, name: `box ${id}`, site: site(path) } },
    });

  it('enrols a gateway inside the token scope and returns a working credential', async () => {
    const token = await enrollmentToken(t.url, admin, 'pudong/zhangjiang');
    assert.match(token, /^dse_pudong\.zhangjiang\./);
    const r = await enroll(token, 'gw-enrol-1', 'pudong/zhangjiang/lane-100');
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.gateway.id, 'gw-enrol-1');
    assert.deepEqual(r.body.gateway.site, site('pudong/zhangjiang/lane-100'));
    assert.match(r.body.credential.secret, /^dsg_/);
    assert.match(r.body.syncUrl, /\/v1\/sync$/);
    const stored = await t.store.getGateway('gw-enrol-1');
    assert.equal(stored?.status, 'active');
    // The credential authenticates (a rotation is the cheapest authenticated gateway call).
    const rot = await call(t.url, 'POST', '/v1/gateway/credentials/rotate', {
      auth: bearer(r.body.credential.secret),
    });
    assert.equal(rot.status, 201);
  });

  it('refuses a site outside the token scope with 403 and does not consume the token', async () => {
    const token = await enrollmentToken(t.url, admin, 'pudong/zhangjiang/lane-100', 1);
    const wrong = await enroll(token, 'gw-enrol-2', 'pudong/zhangjiang/lane-200');
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.code, 'CLOUD_ERR_SCOPE');
    assert.equal(await t.store.getGateway('gw-enrol-2'), undefined);
    const other = await enroll(token, 'gw-enrol-3', 'pudong/huamu/garden-1');
    assert.equal(other.status, 403);
    // The one use is still there.
    const right = await enroll(token, 'gw-enrol-2', 'pudong/zhangjiang/lane-100');
    assert.equal(right.status, 201, JSON.stringify(right.body));
  });

  it('answers 409 for an existing gateway id without consuming the token', async () => {
    const token = await enrollmentToken(t.url, admin, 'pudong/zhangjiang', 1);
    const dup = await enroll(token, 'gw-enrol-1', 'pudong/zhangjiang/lane-100');
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'CLOUD_ERR_CONFLICT');
    assert.equal((await enroll(token, 'gw-enrol-4', 'pudong/zhangjiang/lane-200')).status, 201);
  });

  it('counts uses: a used-up token is 401', async () => {
    const token = await enrollmentToken(t.url, admin, 'pudong/huamu', 2);
    assert.equal((await enroll(token, 'gw-use-1', 'pudong/huamu/garden-1')).status, 201);
    assert.equal((await enroll(token, 'gw-use-2', 'pudong/huamu/garden-1')).status, 201);
    const third = await enroll(token, 'gw-use-3', 'pudong/huamu/garden-1');
    assert.equal(third.status, 401);
    assert.equal(third.body.error.code, 'CLOUD_ERR_ENROLL_TOKEN_USED');
    assert.equal(await t.store.getGateway('gw-use-3'), undefined);
  });

  it('an expired token is 401', async () => {
    const token = await enrollmentToken(t.url, admin, 'pudong/huamu', 5, 1);
    t.clock.now += 2 * 3_600_000;
    try {
      const r = await enroll(token, 'gw-late', 'pudong/huamu/garden-1');
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'CLOUD_ERR_ENROLL_TOKEN_EXPIRED');
      assert.match(r.body.error.message, /expired at \d{4}-\d\d-\d\dT/);
    } finally {
      t.clock.now -= 2 * 3_600_000;
    }
  });

  it('unknown, forged and malformed tokens are 401; a forged scope prefix does not help', async () => {
    const token = await enrollmentToken(t.url, admin, 'pudong/zhangjiang/lane-100', 3);
    const forged = token.replace('dse_pudong.zhangjiang.lane-100.', 'dse_pudong.huamu.');
    const r = await enroll(forged, 'gw-forged', 'pudong/huamu/garden-1');
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'CLOUD_ERR_ENROLL_TOKEN', 'a forged token is unknown, not out of scope');
    assert.equal((await enroll('dse_pudong.huamu.nope-nope', 'gw-x', 'pudong/huamu/garden-1')).status, 401);
    assert.equal((await enroll('not-a-token-at-all', 'gw-x', 'pudong/huamu/garden-1')).status, 401);
  });

  it('refuses a community that is not in the site registry, naming gateway.site', async () => {
    const token = await enrollmentToken(t.url, admin, 'pudong/zhangjiang');
    const r = await enroll(token, 'gw-nowhere', 'pudong/zhangjiang/lane-999');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.field, 'gateway.site');
  });

  it('validates the body and names the field', async () => {
    const r = await call(t.url, 'POST', '/v1/enroll', {
      json: {
        token: 'dse_pudong.x.yyyyyyyy',
        gateway: { id: 'Bad Id', site: site('pudong/zhangjiang/lane-100') },
      },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.field, 'gateway.id');
    assert.match(r.body.error.message, /gateway\.id/);
  });

  describe('issuing enrolment tokens', () => {
    let townSupervisor: string;
    let viewer: string;
    before(async () => {
      townSupervisor = await userToken(t.url, admin, {
        username: 'zj-super',
        scope: 'pudong/zhangjiang',
        role: 'supervisor',
      });
      viewer = await userToken(t.url, admin, {
        username: 'zj-viewer',
        scope: 'pudong/zhangjiang',
        role: 'viewer',
      });
    });
    const issue = (auth: string, scope: string) =>
      call(t.url, 'POST', '/v1/enrollment-tokens', {
        auth: bearer(auth),
        json: { scope, uses: 1, ttlHours: 1 },
      });

    it('a supervisor issues tokens inside its scope only', async () => {
      assert.equal((await issue(townSupervisor, 'pudong/zhangjiang/lane-100')).status, 201);
      const outside = await issue(townSupervisor, 'pudong/huamu');
      assert.equal(outside.status, 403);
      assert.equal(outside.body.error.code, 'CLOUD_ERR_SCOPE');
    });

    it('a viewer may not issue tokens', async () => {
      const r = await issue(viewer, 'pudong/zhangjiang/lane-100');
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'CLOUD_ERR_FORBIDDEN');
    });

    it('tokens are for towns or communities, never the whole district', async () => {
      const r = await issue(admin, 'pudong');
      assert.equal(r.status, 400);
      assert.equal(r.body.error.field, 'scope');
    });

    it('the secret is stored only as its sha256', async () => {
      const r = await issue(admin, 'pudong/huamu/garden-1');
      const { createHash } = await import('node:crypto');
      const hash = createHash('sha256').update(r.body.token).digest('hex');
      const consumed = await t.store.consumeEnrollmentToken(hash, t.clock.now);
      assert.equal(consumed?.scope, 'pudong/huamu/garden-1');
      assert.notEqual(consumed?.secretHash, r.body.token);
    });
  });
});
