/**
 * Contract part: the account life cycle's storage (migration 5) — users by scope, disabling,
 * password replacement, a user's tokens with label and last use, the account audit trail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UserRecord } from '../../../cloud/store/port.js';
import { isDoorstepError } from '../../../protocol/index.js';
import type { ContractContext } from './contract.js';
import { T0 } from './fixtures.js';

const user = (id: string, username: string, scope: string): UserRecord => ({
  id,
  username,
  passwordHash: `scrypt$1$1$1$${id}$x`,
  scope,
  role: 'duty',
  createdAt: T0,
  disabled: false,
  failedLogins: 0,
});

export function accountsContract(ctx: ContractContext): void {
  describe('accounts', () => {
    it('lists users by scope (the town’s own and below, never a sibling or a prefix twin)', async () => {
      const s = ctx.store();
      await s.createUser(user('u-d', 'district-admin', 'pudong'));
      await s.createUser(user('u-t', 'zj-admin', 'pudong/zhangjiang'));
      await s.createUser(user('u-c', 'lane-duty', 'pudong/zhangjiang/lane-100'));
      await s.createUser(user('u-x', 'twin', 'pudong/zhangjiang2'));
      await s.createUser(user('u-h', 'hm-duty', 'pudong/huamu'));
      assert.deepEqual(
        (await s.listUsers('pudong/zhangjiang')).map((u) => u.username),
        ['lane-duty', 'zj-admin'],
      );
      assert.deepEqual(
        (await s.listUsers('pudong')).map((u) => u.username),
        ['district-admin', 'hm-duty', 'lane-duty', 'twin', 'zj-admin'],
      );
      assert.deepEqual(await s.listUsers('xuhui'), []);
      await assert.rejects(s.listUsers('pudong/%'), (e) => isDoorstepError(e, 'CLOUD_ERR_STORE_SCOPE'));
    });

    it('disables, re-enables and re-keys a user; unknown ids are not found', async () => {
      const s = ctx.store();
      const u = user('u-1', 'wang', 'pudong');
      await s.createUser(u);
      await s.setUserDisabled('u-1', true);
      assert.deepEqual(await s.getUser('u-1'), { ...u, disabled: true });
      await s.setUserDisabled('u-1', false);
      await s.setUserPassword('u-1', 'scrypt$2$2$2$new$y');
      assert.deepEqual(await s.getUserByName('wang'), { ...u, passwordHash: 'scrypt$2$2$2$new$y' });
      await assert.rejects(s.setUserDisabled('nope', true), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_NOT_FOUND'),
      );
      await assert.rejects(s.setUserPassword('nope', 'h'), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_NOT_FOUND'),
      );
      if (ctx.reopen) {
        const again = await ctx.reopen(s);
        assert.equal((await again.getUser('u-1'))?.passwordHash, 'scrypt$2$2$2$new$y');
      }
    });

    it('lists a user’s tokens newest first with label and last use, revoked ones too', async () => {
      const s = ctx.store();
      const base = { user: 'u-1', scope: 'pudong', role: 'viewer' as const };
      await s.createApiToken({ ...base, id: 't-1', secretHash: 'h1', createdAt: T0, label: '夜班脚本' });
      await s.createApiToken({
        ...base,
        id: 't-2',
        secretHash: 'h2',
        createdAt: T0 + 10,
        expiresAt: T0 + 99,
      });
      await s.createApiToken({ ...base, id: 't-3', user: 'u-2', secretHash: 'h3', createdAt: T0 + 20 });
      await s.touchApiToken('t-1', T0 + 60_000);
      await s.touchApiToken('t-1', T0 + 30_000); // never backwards
      await s.touchApiToken('nope', T0); // an unknown token is no error
      await s.revokeApiToken('t-2', T0 + 50);
      assert.deepEqual(await s.listApiTokens('u-1'), [
        { ...base, id: 't-2', secretHash: 'h2', createdAt: T0 + 10, expiresAt: T0 + 99, revokedAt: T0 + 50 },
        { ...base, id: 't-1', secretHash: 'h1', createdAt: T0, label: '夜班脚本', lastUsedAt: T0 + 60_000 },
      ]);
      assert.equal((await s.findApiToken('h1', T0))?.lastUsedAt, T0 + 60_000);
      assert.deepEqual(await s.listApiTokens('nobody'), []);
    });

    it('keeps the account audit trail by the target’s scope, newest first', async () => {
      const s = ctx.store();
      const entry = {
        actorId: 'u-d',
        actor: 'district-admin',
        userId: 'u-c',
        username: 'lane-duty',
        scope: 'pudong/zhangjiang/lane-100',
      };
      await s.appendAccountAudit({ ...entry, at: T0, action: 'user.disabled', ip: '10.0.0.7' });
      await s.appendAccountAudit({
        ...entry,
        at: T0 + 1,
        action: 'password.reset',
        detail: { sessionsEnded: 2 },
      });
      await s.appendAccountAudit({
        at: T0 + 2,
        actor: 'zj-admin',
        action: 'user.enabled',
        userId: 'u-h',
        username: 'hm-duty',
        scope: 'pudong/huamu',
      });
      assert.deepEqual(
        (await s.listAccountAudit('pudong/zhangjiang')).map((e) => [e.action, e.at]),
        [
          ['password.reset', T0 + 1],
          ['user.disabled', T0],
        ],
      );
      const [newest, oldest] = await s.listAccountAudit('pudong', { userId: 'u-c' });
      assert.deepEqual(newest, {
        ...entry,
        at: T0 + 1,
        action: 'password.reset',
        detail: { sessionsEnded: 2 },
      });
      assert.deepEqual(oldest, { ...entry, at: T0, action: 'user.disabled', ip: '10.0.0.7' });
      assert.equal((await s.listAccountAudit('pudong', { limit: 1 })).length, 1);
      assert.deepEqual(
        (await s.listAccountAudit('pudong')).map((e) => e.username),
        ['hm-duty', 'lane-duty', 'lane-duty'],
      );
      await assert.rejects(s.listAccountAudit(''), (e) => isDoorstepError(e, 'CLOUD_ERR_STORE_SCOPE'));
    });
  });
}
