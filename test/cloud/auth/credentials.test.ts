import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword, verifyPassword } from '../../../common/password.js';
import {
  ADMIN,
  adminToken,
  basic,
  bearer,
  call,
  enrollGateway,
  makeBatch,
  startTestCloud,
  type TestCloud,
  userToken,
} from '../http/harness.js';

const HOUR = 3_600_000;
const LANE = 'pudong/zhangjiang/lane-100';

describe('cloud credentials', () => {
  let t: TestCloud;
  let admin: string;
  before(async () => {
    t = await startTestCloud();
    admin = await adminToken(t.url);
  });
  after(() => t?.stop());

  const sync = (secret: string, gateway: string, batchSeq: number) =>
    call(t.url, 'POST', '/v1/sync', {
      auth: bearer(secret),
      json: makeBatch({ gateway, sitePath: LANE, batchSeq, firstSeq: batchSeq * 10, readings: 1 }),
    });

  it('rotation: the new credential works, the old one until the grace period ends', async () => {
    const old = await enrollGateway(t.url, admin, 'gw-rot', LANE);
    const r = await call(t.url, 'POST', '/v1/gateway/credentials/rotate', { auth: bearer(old) });
    assert.equal(r.status, 201);
    const fresh = r.body.credential.secret as string;
    assert.notEqual(fresh, old);
    assert.equal(r.body.previousValidUntil, t.clock.now + 24 * HOUR);
    assert.equal((await sync(fresh, 'gw-rot', 1)).status, 200);
    assert.equal((await sync(old, 'gw-rot', 2)).status, 200, 'old credential valid during grace');
    const again = await call(t.url, 'POST', '/v1/gateway/credentials/rotate', { auth: bearer(old) });
    assert.equal(again.status, 403, 'a rotated-out credential cannot rotate');
    assert.equal(again.body.error.code, 'CLOUD_ERR_CREDENTIAL_RETIRED');
    assert.equal((await sync(fresh, 'gw-rot', 2)).status, 200, 'the refusal changed nothing');
    t.clock.now += 25 * HOUR;
    try {
      const late = await sync(old, 'gw-rot', 3);
      assert.equal(late.status, 401);
      assert.equal(late.body.error.code, 'CLOUD_ERR_AUTH');
      assert.equal((await sync(fresh, 'gw-rot', 3)).status, 200);
    } finally {
      t.clock.now -= 25 * HOUR;
    }
  });

  it('revocation: a supervisor in scope revokes; the gateway gets 401 afterwards', async () => {
    const secret = await enrollGateway(t.url, admin, 'gw-rev', LANE);
    const otherTown = await userToken(t.url, admin, {
      username: 'hm-super',
      scope: 'pudong/huamu',
      role: 'supervisor',
    });
    const denied = await call(t.url, 'POST', '/v1/gateways/gw-rev/revoke', { auth: bearer(otherTown) });
    assert.equal(denied.status, 403);
    assert.equal((await sync(secret, 'gw-rev', 1)).status, 200, 'a refused revocation changed nothing');
    const duty = await userToken(t.url, admin, {
      username: 'zj-duty',
      scope: 'pudong/zhangjiang',
      role: 'duty',
    });
    assert.equal(
      (await call(t.url, 'POST', '/v1/gateways/gw-rev/revoke', { auth: bearer(duty) })).status,
      403,
    );

    const r = await call(t.url, 'POST', '/v1/gateways/gw-rev/revoke', { auth: bearer(admin) });
    assert.equal(r.status, 200);
    assert.equal(r.body.credentialsRevoked, 1);
    assert.equal((await t.store.getGateway('gw-rev'))?.status, 'revoked');
    const after = await sync(secret, 'gw-rev', 2);
    assert.equal(after.status, 401);
  });

  it('password hashes are scrypt$N$r$p$salt$hash and verify only the right password', async () => {
    const hash = await hashPassword('a long passphrase', { N: 1024, r: 8, p: 1 });
    assert.match(hash, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.equal(await verifyPassword('a long passphrase', hash), true);
    assert.equal(await verifyPassword('a long passphrasE', hash), false);
    assert.equal(await verifyPassword('x', 'scrypt$garbage'), false);
  });

  it('API tokens need HTTP Basic; wrong passwords are 401 with WWW-Authenticate: Basic', async () => {
    const none = await call(t.url, 'POST', '/v1/api-tokens', { json: {} });
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic/);
    const bad = await call(t.url, 'POST', '/v1/api-tokens', {
      auth: basic('admin', 'wrong password'),
      json: {},
    });
    assert.equal(bad.status, 401);
    const bearerTry = await call(t.url, 'POST', '/v1/api-tokens', { auth: bearer(admin), json: {} });
    assert.equal(bearerTry.status, 401);
  });

  it('pauses a user name from an address for a minute after 5 failed attempts', async () => {
    await userToken(t.url, admin, { username: 'lock-me', scope: 'pudong/huamu', role: 'viewer' });
    const good = basic('lock-me', 'lock-me-password-123');
    for (let i = 0; i < 4; i++)
      assert.equal(
        (await call(t.url, 'POST', '/v1/api-tokens', { auth: basic('lock-me', `nope-${i}`), json: {} }))
          .status,
        401,
      );
    const fifth = await call(t.url, 'POST', '/v1/api-tokens', { auth: basic('lock-me', 'nope-5'), json: {} });
    assert.equal(fifth.body.error.code, 'CLOUD_ERR_ACCOUNT_LOCKED');
    const locked = await call(t.url, 'POST', '/v1/api-tokens', { auth: good, json: {} });
    assert.equal(locked.status, 401);
    assert.equal(locked.body.error.code, 'CLOUD_ERR_ACCOUNT_LOCKED');
    assert.equal(locked.headers.get('retry-after'), '60');
    t.clock.now += 61_000;
    try {
      assert.equal((await call(t.url, 'POST', '/v1/api-tokens', { auth: good, json: {} })).status, 201);
    } finally {
      t.clock.now -= 61_000;
    }
  });

  it('a user mints tokens for itself, narrower but never wider or higher', async () => {
    await userToken(t.url, admin, { username: 'zj-viewer2', scope: 'pudong/zhangjiang', role: 'viewer' });
    const auth = basic('zj-viewer2', 'zj-viewer2-password-123');
    const narrow = await call(t.url, 'POST', '/v1/api-tokens', { auth, json: { scope: LANE } });
    assert.equal(narrow.status, 201);
    assert.equal(narrow.body.scope, LANE);
    const wide = await call(t.url, 'POST', '/v1/api-tokens', { auth, json: { scope: 'pudong' } });
    assert.equal(wide.status, 403);
    assert.equal(wide.body.error.code, 'CLOUD_ERR_SCOPE');
    const higher = await call(t.url, 'POST', '/v1/api-tokens', { auth, json: { role: 'admin' } });
    assert.equal(higher.status, 403);
    assert.equal(higher.body.error.code, 'CLOUD_ERR_FORBIDDEN');
    const forOther = await call(t.url, 'POST', '/v1/api-tokens', { auth, json: { user: 'admin' } });
    assert.equal(forOther.status, 403);
  });

  it('an admin mints a token for a user inside its scope', async () => {
    await userToken(t.url, admin, { username: 'hm-viewer', scope: 'pudong/huamu', role: 'viewer' });
    const r = await call(t.url, 'POST', '/v1/api-tokens', {
      auth: basic(ADMIN.username, ADMIN.password),
      json: { user: 'hm-viewer' },
    });
    assert.equal(r.status, 201);
    assert.equal(r.body.user, 'hm-viewer');
    assert.equal(r.body.scope, 'pudong/huamu');
    assert.equal(r.body.role, 'viewer');
    const sites = await call(t.url, 'GET', '/v1/sites', { auth: bearer(r.body.token) });
    assert.ok(sites.body.items.every((n: { path: string }) => n.path.startsWith('pudong/huamu')));
  });

  it('only admins create users, and only inside their scope', async () => {
    const townAdmin = await userToken(t.url, admin, {
      username: 'zj-admin',
      scope: 'pudong/zhangjiang',
      role: 'admin',
    });
    const ok = await call(t.url, 'POST', '/v1/users', {
      auth: bearer(townAdmin),
      json: { username: 'zj-new', password: 'twelve chars!!', scope: LANE, role: 'duty' },
    });
    assert.equal(ok.status, 201);
    const outside = await call(t.url, 'POST', '/v1/users', {
      auth: bearer(townAdmin),
      json: { username: 'hm-new', password: 'twelve chars!!', scope: 'pudong/huamu', role: 'duty' },
    });
    assert.equal(outside.status, 403);
    assert.equal(await t.store.getUserByName('hm-new'), undefined);
    const again = await call(t.url, 'POST', '/v1/users', {
      auth: bearer(townAdmin),
      json: { username: 'zj-new', password: 'twelve chars!!', scope: LANE, role: 'duty' },
    });
    assert.equal(again.status, 409);
    const supervisor = await userToken(t.url, admin, {
      username: 'zj-sup2',
      scope: 'pudong/zhangjiang',
      role: 'supervisor',
    });
    const denied = await call(t.url, 'POST', '/v1/users', {
      auth: bearer(supervisor),
      json: { username: 'zj-new2', password: 'twelve chars!!', scope: LANE, role: 'viewer' },
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'CLOUD_ERR_FORBIDDEN');
  });

  it('a gateway credential is not an API token and vice versa', async () => {
    const secret = await enrollGateway(t.url, admin, 'gw-kinds', LANE);
    assert.equal((await call(t.url, 'GET', '/v1/gateways', { auth: bearer(secret) })).status, 401);
    assert.equal(
      (await call(t.url, 'POST', '/v1/gateway/credentials/rotate', { auth: bearer(admin) })).status,
      401,
    );
  });
});
