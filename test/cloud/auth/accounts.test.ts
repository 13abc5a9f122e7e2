/**
 * The account life cycle through the real HTTP service on every store (memory, a SQLite file, a
 * real PostgreSQL): list and revoke API tokens, disable and re-enable users, change and reset
 * passwords, end sessions, sign out with a bearer session, and the account audit trail. Every
 * "stops working" is checked with a real request right after the change; every refusal (another
 * town's admin, a lower role, a weak password) is checked to have changed nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import type { CloudStore } from '../../../cloud/store/port.js';
import { PostgresCloudStore } from '../../../cloud/store/postgres/store.js';
import { SqliteCloudStore } from '../../../cloud/store/sqlite/store.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { tempDir } from '../../support/tmp.js';
import {
  adminToken,
  basic,
  bearer,
  call,
  startTestCloud,
  type TestCloud,
  userToken,
} from '../http/harness.js';

let pg: PgCluster | undefined;
const dir = tempDir('doorstep-accounts-');
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

const GOOD = 'lantern orchard 7 river';

for (const [name, open] of stores) {
  describe(`account life cycle (${name})`, () => {
    let t: TestCloud;
    let admin: string;
    let zjAdmin: string;
    let hmAdmin: string;
    let zjSuper: string;
    before(async () => {
      t = await startTestCloud({}, { store: await open() });
      admin = await adminToken(t.url);
      zjAdmin = await userToken(t.url, admin, {
        username: 'zj-admin',
        scope: 'pudong/zhangjiang',
        role: 'admin',
      });
      hmAdmin = await userToken(t.url, admin, { username: 'hm-admin', scope: 'pudong/huamu', role: 'admin' });
      zjSuper = await userToken(t.url, admin, {
        username: 'zj-super',
        scope: 'pudong/zhangjiang',
        role: 'supervisor',
      });
    });
    after(() => t?.stop());

    /** Creates a duty user in Zhangjiang; returns its password. */
    const dutyUser = async (username: string) => {
      const password = `${username}-password-123`;
      const r = await call(t.url, 'POST', '/v1/users', {
        auth: bearer(zjAdmin),
        json: { username, password, scope: 'pudong/zhangjiang/lane-100', role: 'duty' },
      });
      assert.equal(r.status, 201);
      return password;
    };
    const mint = async (username: string, password: string, label?: string) => {
      const r = await call(t.url, 'POST', '/v1/api-tokens', {
        auth: basic(username, password),
        json: label ? { label } : {},
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body as { id: string; token: string };
    };
    /** A console sign-in; returns the session secret from the cookie. */
    const signIn = async (username: string, password: string) => {
      const r = await call(t.url, 'POST', '/console/api/session', {
        json: { username, password },
        headers: { origin: t.url },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const secret = /ds_session=(dss_[^;]+)/.exec(r.headers.get('set-cookie') ?? '')?.[1];
      assert.ok(secret);
      return secret;
    };
    const works = async (secret: string) =>
      (await call(t.url, 'GET', '/v1/sites', { auth: bearer(secret) })).status;

    it('lists a user’s tokens without secrets and revokes one at once', async () => {
      const password = await dutyUser('tok-duty');
      const a = await mint('tok-duty', password, '夜班脚本');
      const b = await mint('tok-duty', password);
      assert.equal(await works(a.token), 200);
      const list = await call(t.url, 'GET', '/v1/users/tok-duty/api-tokens', { auth: bearer(b.token) });
      assert.equal(list.status, 200);
      assert.equal(list.body.user, 'tok-duty');
      assert.deepEqual(list.body.items.map((x: { id: string }) => x.id).sort(), [a.id, b.id].sort());
      const listed = list.body.items.find((x: { id: string }) => x.id === a.id);
      assert.equal(listed.label, '夜班脚本');
      assert.equal(listed.state, 'active');
      assert.equal(listed.lastUsedAt, t.clock.now, 'last use recorded');
      assert.equal(listed.scope, 'pudong/zhangjiang/lane-100');
      assert.equal(listed.role, 'duty');
      assert.ok(listed.expiresAt > t.clock.now);
      assert.doesNotMatch(JSON.stringify(list.body), /dsa_|secret|hash/i, 'no secret, no hash');

      // Another town's admin, a supervisor, and an unknown name: refused alike, nothing changes.
      for (const [who, code] of [
        [hmAdmin, 'CLOUD_ERR_SCOPE'],
        [zjSuper, 'CLOUD_ERR_FORBIDDEN'],
      ] as const) {
        const l = await call(t.url, 'GET', '/v1/users/tok-duty/api-tokens', { auth: bearer(who) });
        assert.equal(l.status, 403);
        assert.equal(l.body.error.code, code);
        const r = await call(t.url, 'POST', `/v1/users/tok-duty/api-tokens/${a.id}/revoke`, {
          auth: bearer(who),
        });
        assert.equal(r.status, 403);
        assert.equal(r.body.error.code, code);
      }
      const unknown = await call(t.url, 'GET', '/v1/users/no-such-user/api-tokens', {
        auth: bearer(hmAdmin),
      });
      assert.equal(unknown.status, 403);
      assert.equal(unknown.body.error.code, 'CLOUD_ERR_SCOPE');
      assert.equal(await works(a.token), 200, 'refusals changed nothing');
      const foreign = await call(t.url, 'POST', `/v1/users/zj-admin/api-tokens/${a.id}/revoke`, {
        auth: bearer(zjAdmin),
      });
      assert.equal(foreign.status, 404, 'a token id of another user is not found under this one');

      const r = await call(t.url, 'POST', `/v1/users/tok-duty/api-tokens/${a.id}/revoke`, {
        auth: bearer(b.token),
      });
      assert.equal(r.status, 200);
      assert.equal(r.body.token.state, 'revoked');
      assert.equal(r.body.token.revokedAt, t.clock.now);
      const refused = await call(t.url, 'GET', '/v1/sites', { auth: bearer(a.token) });
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.code, 'CLOUD_ERR_AUTH');
      assert.equal(await works(b.token), 200, 'the other token still works');
      // An admin in scope revokes the other one.
      assert.equal(
        (await call(t.url, 'POST', `/v1/users/tok-duty/api-tokens/${b.id}/revoke`, { auth: bearer(zjAdmin) }))
          .status,
        200,
      );
      assert.equal(await works(b.token), 401);
    });

    it('a disabled user cannot sign in; its sessions and tokens stop at once; enabling restores tokens', async () => {
      const password = await dutyUser('off-duty');
      const token = await mint('off-duty', password);
      const session = await signIn('off-duty', password);
      assert.equal(await works(session), 200);

      const foreign = await call(t.url, 'POST', '/v1/users/off-duty/disable', { auth: bearer(hmAdmin) });
      assert.equal(foreign.status, 403);
      assert.equal(foreign.body.error.code, 'CLOUD_ERR_SCOPE');
      const lower = await call(t.url, 'POST', '/v1/users/off-duty/disable', { auth: bearer(zjSuper) });
      assert.equal(lower.status, 403);
      assert.equal(lower.body.error.code, 'CLOUD_ERR_FORBIDDEN');
      assert.equal(await works(session), 200, 'refusals changed nothing');

      const r = await call(t.url, 'POST', '/v1/users/off-duty/disable', { auth: bearer(zjAdmin) });
      assert.equal(r.status, 200);
      assert.equal(r.body.user.disabled, true);
      assert.equal(r.body.sessionsEnded, 1);
      assert.equal(await works(session), 401, 'the session stops at once');
      assert.equal(await works(token.token), 401, 'the token stops at once');
      const signIn2 = await call(t.url, 'POST', '/console/api/session', {
        json: { username: 'off-duty', password },
        headers: { origin: t.url },
      });
      assert.equal(signIn2.status, 401, 'no sign-in while disabled');
      const basicTry = await call(t.url, 'POST', '/v1/api-tokens', {
        auth: basic('off-duty', password),
        json: {},
      });
      assert.equal(basicTry.status, 401);

      const self = await call(t.url, 'POST', '/v1/users/zj-admin/disable', { auth: bearer(zjAdmin) });
      assert.equal(self.status, 400);
      assert.equal(self.body.error.code, 'CLOUD_ERR_ACCOUNT_SELF');

      const on = await call(t.url, 'POST', '/v1/users/off-duty/enable', { auth: bearer(zjAdmin) });
      assert.equal(on.status, 200);
      assert.equal(on.body.user.disabled, false);
      assert.equal(await works(token.token), 200, 'its token works again');
      assert.equal(await works(session), 401, 'its ended session stays ended');
      assert.equal(await works(await signIn('off-duty', password)), 200);
    });

    it('changing one’s own password needs the current one, follows the policy and ends the other sessions', async () => {
      const password = await dutyUser('pw-duty');
      const here = await signIn('pw-duty', password);
      const elsewhere = await signIn('pw-duty', password);
      const token = await mint('pw-duty', password);
      const change = (current: string, next: string, auth = here) =>
        call(t.url, 'POST', '/v1/me/password', { auth: bearer(auth), json: { current, password: next } });

      const wrong = await change('not my password', GOOD);
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.error.code, 'CLOUD_ERR_PASSWORD_CURRENT');
      for (const [weak, why] of [
        ['short one', /at least 12 characters/],
        ['aaaaaaaaaaaaaaaa', /different characters/],
        ['my pw-duty passphrase', /user name/],
        ['Password1234', /most common/],
      ] as const) {
        const r = await change(password, weak);
        assert.equal(r.status, 400, weak);
        assert.equal(r.body.error.code, 'CLOUD_ERR_PASSWORD_POLICY');
        assert.match(r.body.error.message, why);
      }
      assert.equal(await works(elsewhere), 200, 'refusals changed nothing');
      assert.equal(
        (await call(t.url, 'POST', '/v1/api-tokens', { auth: basic('pw-duty', password), json: {} })).status,
        201,
      );

      const ok = await change(password, GOOD);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.sessionsEnded, 1);
      assert.equal(await works(here), 200, 'the session that changed it stays');
      assert.equal(await works(elsewhere), 401, 'the other session ends at once');
      assert.equal(await works(token.token), 200, 'API tokens are not sessions');
      assert.equal(
        (await call(t.url, 'POST', '/v1/api-tokens', { auth: basic('pw-duty', password), json: {} })).status,
        401,
      );
      assert.equal(
        (await call(t.url, 'POST', '/v1/api-tokens', { auth: basic('pw-duty', GOOD), json: {} })).status,
        201,
      );
      // With an API token instead of a session, every session ends.
      const again = await change(GOOD, `${GOOD} again`, token.token);
      assert.equal(again.status, 200);
      assert.equal(again.body.sessionsEnded, 1);
      assert.equal(await works(here), 401);
    });

    it('an admin in scope resets a password, ending every session; others are refused', async () => {
      const password = await dutyUser('reset-duty');
      const s1 = await signIn('reset-duty', password);
      const s2 = await signIn('reset-duty', password);
      const reset = (auth: string, next: string, who = 'reset-duty') =>
        call(t.url, 'POST', `/v1/users/${who}/password`, { auth: bearer(auth), json: { password: next } });
      for (const [who, code] of [
        [hmAdmin, 'CLOUD_ERR_SCOPE'],
        [zjSuper, 'CLOUD_ERR_FORBIDDEN'],
      ] as const) {
        const r = await reset(who, GOOD);
        assert.equal(r.status, 403);
        assert.equal(r.body.error.code, code);
      }
      const weak = await reset(zjAdmin, 'reset-duty-123456');
      assert.equal(weak.status, 400);
      assert.equal(weak.body.error.code, 'CLOUD_ERR_PASSWORD_POLICY');
      assert.equal(await works(s1), 200, 'refusals changed nothing');
      const self = await reset(zjAdmin, GOOD, 'zj-admin');
      assert.equal(self.status, 400);
      assert.equal(self.body.error.code, 'CLOUD_ERR_ACCOUNT_SELF');

      const ok = await reset(zjAdmin, GOOD);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.sessionsEnded, 2);
      assert.equal(await works(s1), 401);
      assert.equal(await works(s2), 401);
      assert.equal(await works(await signIn('reset-duty', GOOD)), 200);
    });

    it('ends all sessions of a user, and sign-out with a bearer session revokes it', async () => {
      const password = await dutyUser('end-duty');
      const s1 = await signIn('end-duty', password);
      const s2 = await signIn('end-duty', password);
      const foreign = await call(t.url, 'POST', '/v1/users/end-duty/sessions/end', { auth: bearer(hmAdmin) });
      assert.equal(foreign.status, 403);
      assert.equal(await works(s1), 200);
      const r = await call(t.url, 'POST', '/v1/users/end-duty/sessions/end', { auth: bearer(zjAdmin) });
      assert.equal(r.status, 200);
      assert.equal(r.body.sessionsEnded, 2);
      assert.equal(await works(s1), 401);
      assert.equal(await works(s2), 401);

      const s3 = await signIn('end-duty', password);
      const out = await call(t.url, 'POST', '/console/api/session/end', {
        auth: bearer(s3),
        headers: { origin: t.url },
      });
      assert.equal(out.status, 200);
      assert.equal(await works(s3), 401, 'a bearer session is revoked by signing out with it');
    });

    it('lists users in scope and keeps an audit trail that only admins in scope read', async () => {
      const list = await call(t.url, 'GET', '/v1/users', { auth: bearer(zjAdmin) });
      assert.equal(list.status, 200);
      const names = list.body.items.map((u: { username: string }) => u.username);
      assert.ok(names.includes('off-duty') && names.includes('zj-admin'));
      assert.ok(!names.includes('hm-admin') && !names.includes('admin'), 'only the town’s users');
      const off = list.body.items.find((u: { username: string }) => u.username === 'off-duty');
      assert.equal(off.disabled, false);
      assert.equal(off.hasPassword, true);
      assert.doesNotMatch(JSON.stringify(list.body), /scrypt/);
      assert.equal(
        (await call(t.url, 'GET', '/v1/users?scope=pudong', { auth: bearer(zjAdmin) })).status,
        403,
      );
      assert.equal((await call(t.url, 'GET', '/v1/users', { auth: bearer(zjSuper) })).status, 403);

      const trail = await call(t.url, 'GET', '/v1/account-audit?user=off-duty', { auth: bearer(zjAdmin) });
      assert.equal(trail.status, 200);
      assert.deepEqual(
        trail.body.items.map((e: { action: string }) => e.action),
        ['user.enabled', 'user.disabled', 'token.created', 'user.created'],
      );
      const disabled = trail.body.items[1];
      assert.equal(disabled.actor, 'zj-admin');
      assert.equal(disabled.user, 'off-duty');
      assert.equal(disabled.scope, 'pudong/zhangjiang/lane-100');
      assert.equal(disabled.at, t.clock.now);
      assert.match(disabled.ip, /127\.0\.0\.1/);
      assert.deepEqual(disabled.detail, { sessionsEnded: 1 });
      const all = await call(t.url, 'GET', '/v1/account-audit', { auth: bearer(zjAdmin) });
      for (const action of ['token.revoked', 'password.changed', 'password.reset', 'sessions.ended'])
        assert.ok(
          all.body.items.some((e: { action: string }) => e.action === action),
          action,
        );
      const hm = await call(t.url, 'GET', '/v1/account-audit', { auth: bearer(hmAdmin) });
      assert.ok(
        hm.body.items.every((e: { scope: string }) => e.scope.startsWith('pudong/huamu')),
        'another town reads none of Zhangjiang’s trail',
      );
      assert.equal((await call(t.url, 'GET', '/v1/account-audit', { auth: bearer(zjSuper) })).status, 403);
    });
  });
}

describe('account life cycle: live console streams and hostile input', () => {
  let t: TestCloud;
  let zjAdmin: string;
  before(async () => {
    t = await startTestCloud();
    const admin = await adminToken(t.url);
    zjAdmin = await userToken(t.url, admin, {
      username: 'zj-admin',
      scope: 'pudong/zhangjiang',
      role: 'admin',
    });
    await userToken(t.url, admin, { username: 'zj-live', scope: 'pudong/zhangjiang', role: 'duty' });
  });
  after(() => t?.stop());

  it('disabling a user closes its open board stream at once, not at the next ping', async (ctx) => {
    const signIn = await call(t.url, 'POST', '/console/api/session', {
      json: { username: 'zj-live', password: 'zj-live-password-123' },
      headers: { origin: t.url },
    });
    const secret = /ds_session=(dss_[^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[1];
    assert.ok(secret);
    // The stream's 15 s ping (which re-checks the session) never fires: only the account
    // service's notice can end the stream, so without it this test hangs and fails.
    ctx.mock.timers.enable({ apis: ['setInterval'] });
    const res = await fetch(`${t.url}/console/api/events`, { headers: { authorization: bearer(secret) } });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('event: snapshot')) text += decoder.decode((await reader.read()).value);
    const off = await call(t.url, 'POST', '/v1/users/zj-live/disable', { auth: bearer(zjAdmin) });
    assert.equal(off.status, 200);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    assert.doesNotMatch(text, /: ping/, 'ended by the disable, not by a ping');
  });

  it('refuses malformed names, extra fields and oversized values, naming them and changing nothing', async () => {
    const before = await call(t.url, 'GET', '/v1/account-audit', { auth: bearer(zjAdmin) });
    for (const [path, body, field] of [
      ['/v1/users/ZJ-LIVE/enable', undefined, 'username'],
      ['/v1/users/zj%2Flive/enable', undefined, 'username'],
      ['/v1/users/zj-live/password', { password: 'lantern orchard 7 river', role: 'admin' }, ''],
      ['/v1/users/zj-live/password', { password: 'x'.repeat(5000) }, 'password'],
      ['/v1/me/password', { current: 'zj-admin-password-123' }, 'password'],
      [`/v1/users/zj-live/api-tokens/${'t'.repeat(65)}/revoke`, undefined, 'id'],
    ] as const) {
      const r = await call(t.url, 'POST', path, { auth: bearer(zjAdmin), ...(body ? { json: body } : {}) });
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'CLOUD_ERR_VALIDATION', path);
      if (field) assert.equal(r.body.error.field, field, path);
    }
    const limit = await call(t.url, 'GET', '/v1/account-audit?limit=0', { auth: bearer(zjAdmin) });
    assert.equal(limit.status, 400);
    assert.equal(limit.body.error.field, 'limit');
    const after = await call(t.url, 'GET', '/v1/account-audit', { auth: bearer(zjAdmin) });
    assert.deepEqual(after.body, before.body, 'nothing was changed or audited');
    assert.equal((await t.store.getUserByName('zj-live'))?.disabled, true, 'still as it was');
  });
});
