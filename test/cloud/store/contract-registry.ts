/** Contract part: site registry, gateways, devices, enrolment tokens, credentials, users, API tokens. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDoorstepError } from '../../../protocol/index.js';
import type { ContractContext } from './contract.js';
import { gateway, site, T0 } from './fixtures.js';

const A = site('pudong', 'zhangjiang', 'lane-100');
const B = site('pudong', 'huamu', 'lane-7');
const C = site('xuhui', 'tianping', 'lane-1');

export function registryContract(ctx: ContractContext): void {
  describe('registry', () => {
    it('upserts sites and lists them by scope', async () => {
      const s = ctx.store();
      await s.upsertSite({ path: 'pudong', level: 'district', name: 'Pudong' });
      await s.upsertSite({ path: 'pudong/zhangjiang', level: 'town', name: 'Zhangjiang' });
      await s.upsertSite({ path: 'pudong/zhangjiang/lane-100', level: 'community', name: 'Lane 100' });
      await s.upsertSite({ path: 'xuhui', level: 'district', name: 'Xuhui' });
      await s.upsertSite({ path: 'pudong/zhangjiang', level: 'town', name: 'Zhangjiang Town' });
      assert.deepEqual(
        (await s.listSites('pudong')).map((x) => [x.path, x.name]),
        [
          ['pudong', 'Pudong'],
          ['pudong/zhangjiang', 'Zhangjiang Town'],
          ['pudong/zhangjiang/lane-100', 'Lane 100'],
        ],
      );
      assert.deepEqual(
        (await s.listSites('pudong/zhangjiang')).map((x) => x.path),
        ['pudong/zhangjiang', 'pudong/zhangjiang/lane-100'],
      );
      assert.deepEqual(await s.listSites('pudong/huamu'), []);
      await assert.rejects(s.listSites(''), (e) => isDoorstepError(e, 'CLOUD_ERR_STORE_SCOPE'));
      await assert.rejects(s.listSites('pudong/%'), (e) => isDoorstepError(e, 'CLOUD_ERR_STORE_SCOPE'));
    });

    it('creates gateways once, lists them by scope and changes their status', async () => {
      const s = ctx.store();
      await s.createGateway({ ...gateway('gw-a', A), name: 'Lane 100 box' });
      await s.createGateway(gateway('gw-b', B));
      await s.createGateway(gateway('gw-c', C));
      await assert.rejects(s.createGateway(gateway('gw-a', B)), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_CONFLICT'),
      );
      assert.deepEqual(await s.getGateway('gw-a'), { ...gateway('gw-a', A), name: 'Lane 100 box' });
      assert.equal(await s.getGateway('nope'), undefined);
      assert.deepEqual(
        (await s.listGateways('pudong')).map((g) => g.id),
        ['gw-a', 'gw-b'],
      );
      assert.deepEqual(
        (await s.listGateways('pudong/huamu/lane-7')).map((g) => g.id),
        ['gw-b'],
      );
      await s.setGatewayStatus('gw-b', 'revoked');
      assert.equal((await s.getGateway('gw-b'))?.status, 'revoked');
      await assert.rejects(s.setGatewayStatus('nope', 'revoked'), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_NOT_FOUND'),
      );
    });

    it('upserts devices keeping fields a later upsert leaves out', async () => {
      const s = ctx.store();
      await s.upsertDevices([
        { gateway: 'gw-a', id: 'smoke-1', site: A, kind: 'smoke', profile: 'jtyj-gd', location: 'stair 2' },
        { gateway: 'gw-c', id: 'gas-1', site: C, kind: 'gas' },
      ]);
      await s.upsertDevices([{ gateway: 'gw-a', id: 'smoke-1', site: A, location: 'stair 3' }]);
      assert.deepEqual(await s.listDevices('pudong'), [
        { gateway: 'gw-a', id: 'smoke-1', site: A, kind: 'smoke', profile: 'jtyj-gd', location: 'stair 3' },
      ]);
      assert.deepEqual(
        (await s.listDevices('xuhui/tianping')).map((d) => d.id),
        ['gas-1'],
      );
    });
  });

  describe('credentials', () => {
    const token = {
      id: 'et-1',
      secretHash: 'h-et-1',
      scope: 'pudong/zhangjiang',
      createdBy: 'u-1',
      createdAt: T0,
    };

    it('consumes an enrolment token atomically until used up or expired', async () => {
      const s = ctx.store();
      await s.createEnrollmentToken({ ...token, expiresAt: T0 + 1000, usesLeft: 3 });
      await assert.rejects(s.createEnrollmentToken({ ...token, expiresAt: T0, usesLeft: 1 }), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_CONFLICT'),
      );
      const results = await Promise.all(
        Array.from({ length: 10 }, () => s.consumeEnrollmentToken('h-et-1', T0)),
      );
      const ok = results.filter((r) => r !== undefined);
      assert.equal(ok.length, 3);
      assert.deepEqual(ok.map((r) => r!.usesLeft).sort(), [0, 1, 2]);
      assert.equal(ok[0]?.scope, 'pudong/zhangjiang');
      assert.equal(await s.consumeEnrollmentToken('h-et-1', T0), undefined);
      assert.equal(await s.consumeEnrollmentToken('unknown', T0), undefined);

      await s.createEnrollmentToken({
        ...token,
        id: 'et-2',
        secretHash: 'h-et-2',
        expiresAt: T0 + 1000,
        usesLeft: 5,
      });
      assert.equal(await s.consumeEnrollmentToken('h-et-2', T0 + 1000), undefined, 'expired at expiresAt');
      assert.equal((await s.consumeEnrollmentToken('h-et-2', T0 + 999))?.usesLeft, 4);
      // Found whatever its state, so enrolment can say why a token was refused.
      assert.equal((await s.findEnrollmentToken('h-et-1'))?.usesLeft, 0);
      assert.equal((await s.findEnrollmentToken('h-et-2'))?.expiresAt, T0 + 1000);
      assert.equal(await s.findEnrollmentToken('unknown'), undefined);
    });

    it('rotates gateway credentials with a grace period and revokes them', async () => {
      const s = ctx.store();
      await s.addGatewayCredential({ id: 'c-1', gateway: 'gw-a', secretHash: 'h-1', createdAt: T0 });
      await s.addGatewayCredential({ id: 'c-x', gateway: 'gw-b', secretHash: 'h-x', createdAt: T0 });
      assert.equal((await s.findGatewayCredential('h-1', T0))?.id, 'c-1');
      await s.addGatewayCredential({ id: 'c-2', gateway: 'gw-a', secretHash: 'h-2', createdAt: T0 + 10 });
      await s.expireOtherCredentials('gw-a', 'c-2', T0 + 5000);
      assert.equal(
        (await s.findGatewayCredential('h-1', T0 + 4999))?.expiresAt,
        T0 + 5000,
        'old key in grace',
      );
      assert.equal(await s.findGatewayCredential('h-1', T0 + 5000), undefined, 'old key after grace');
      assert.equal((await s.findGatewayCredential('h-2', T0 + 999_999))?.id, 'c-2');
      // A second rotation never extends the first key's grace.
      await s.expireOtherCredentials('gw-a', 'c-2', T0 + 9000);
      assert.equal(await s.findGatewayCredential('h-1', T0 + 6000), undefined);
      assert.equal(
        (await s.findGatewayCredential('h-x', T0 + 6000))?.gateway,
        'gw-b',
        'other gateway untouched',
      );
      await assert.rejects(
        s.addGatewayCredential({ id: 'c-3', gateway: 'gw-a', secretHash: 'h-2', createdAt: T0 }),
        (e) => isDoorstepError(e, 'CLOUD_ERR_STORE_CONFLICT'),
      );

      assert.equal(await s.revokeGatewayCredentials('gw-a', T0 + 100), 2);
      assert.equal(await s.findGatewayCredential('h-2', T0 + 100), undefined);
      assert.equal(await s.revokeGatewayCredentials('gw-a', T0 + 200), 0);
      assert.equal((await s.findGatewayCredential('h-x', T0 + 100))?.id, 'c-x');
    });

    it('stores users, unique by name, and their login counters', async () => {
      const s = ctx.store();
      const user = {
        id: 'u-1',
        username: 'wang',
        passwordHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
        scope: 'pudong/zhangjiang',
        role: 'duty' as const,
        displayName: 'Wang Wei',
        createdAt: T0,
        disabled: false,
        failedLogins: 0,
      };
      await s.createUser(user);
      await s.createUser({
        id: 'u-2',
        username: 'api',
        scope: 'pudong',
        role: 'viewer',
        createdAt: T0,
        disabled: true,
        failedLogins: 0,
      });
      await assert.rejects(s.createUser({ ...user, id: 'u-3' }), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_CONFLICT'),
      );
      assert.deepEqual(await s.getUserByName('wang'), user);
      assert.deepEqual(await s.getUser('u-1'), user);
      assert.equal((await s.getUser('u-2'))?.passwordHash, undefined);
      assert.equal((await s.getUser('u-2'))?.disabled, true);
      assert.equal(await s.getUserByName('li'), undefined);
      await s.updateUserLogin('u-1', { failedLogins: 5, lockedUntil: T0 + 60_000 });
      assert.deepEqual(await s.getUser('u-1'), { ...user, failedLogins: 5, lockedUntil: T0 + 60_000 });
      await s.updateUserLogin('u-1', { failedLogins: 0, lockedUntil: undefined });
      assert.deepEqual(await s.getUser('u-1'), user);
      await assert.rejects(s.updateUserLogin('nope', { failedLogins: 1 }), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_NOT_FOUND'),
      );
    });

    it('finds API tokens until they expire or are revoked', async () => {
      const s = ctx.store();
      const t = {
        id: 't-1',
        user: 'u-1',
        secretHash: 'ht-1',
        scope: 'pudong',
        role: 'admin' as const,
        createdAt: T0,
      };
      await s.createApiToken(t);
      await s.createApiToken({ ...t, id: 't-2', secretHash: 'ht-2', expiresAt: T0 + 100 });
      assert.deepEqual(await s.findApiToken('ht-1', T0), t);
      assert.equal((await s.findApiToken('ht-2', T0 + 99))?.id, 't-2');
      assert.equal(await s.findApiToken('ht-2', T0 + 100), undefined);
      await s.revokeApiToken('t-1', T0 + 5);
      assert.equal(await s.findApiToken('ht-1', T0 + 6), undefined);
      assert.equal(await s.findApiToken('unknown', T0), undefined);
      await assert.rejects(s.revokeApiToken('nope', T0), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_NOT_FOUND'),
      );
    });
  });
}
