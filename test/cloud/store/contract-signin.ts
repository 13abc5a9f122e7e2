/** Contract part: sign-in attempts per (user name, source), counted atomically (cloud/auth/README.md). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractContext } from './contract.js';
import { T0 } from './fixtures.js';

const MIN = 60_000;
const QUIET = 15 * MIN;
const FORGET = 24 * 60 * MIN;

export function signInContract(ctx: ContractContext): void {
  describe('sign-in attempts', () => {
    const count = (username: string, source: string, now: number) =>
      ctx.store().countSignInAttempt({ username, source }, now, now - QUIET, now - FORGET);

    it('counts per user name and source, afresh after a quiet spell', async () => {
      assert.deepEqual(await count('admin', '10.0.0.1', T0), { attempt: 1, locks: 0 });
      assert.deepEqual(await count('admin', '10.0.0.1', T0 + 1), { attempt: 2, locks: 0 });
      assert.deepEqual(await count('admin', '10.0.0.2', T0 + 2), { attempt: 1, locks: 0 }, 'other source');
      assert.deepEqual(await count('Admin', '10.0.0.1', T0 + 3), { attempt: 1, locks: 0 }, 'other name');
      assert.deepEqual(await count('admin', '10.0.0.1', T0 + 1 + QUIET), { attempt: 3, locks: 0 });
      assert.deepEqual(await count('admin', '10.0.0.1', T0 + 3 + 2 * QUIET), { attempt: 1, locks: 0 });
    });

    it('gives every one of many concurrent attempts its own number', async () => {
      const numbers = await Promise.all(Array.from({ length: 40 }, () => count('root', '192.0.2.9', T0)));
      assert.deepEqual(
        numbers.map((n) => n.attempt).sort((a, b) => a - b),
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
    });

    it('locks, counts the locks, starts a new round when the lock ran out, forgets after a day', async () => {
      const s = ctx.store();
      const key = { username: 'duty-1', source: '198.51.100.7' };
      for (let i = 0; i < 5; i++) await count(key.username, key.source, T0);
      await s.lockSignIn(key, T0 + MIN);
      assert.deepEqual(await count(key.username, key.source, T0 + 1000), {
        attempt: 6,
        locks: 1,
        lockedUntil: T0 + MIN,
      });
      assert.deepEqual(await count(key.username, key.source, T0 + MIN), { attempt: 1, locks: 1 });
      await s.lockSignIn(key, T0 + 3 * MIN);
      assert.equal((await count(key.username, key.source, T0 + 2 * MIN)).locks, 2);
      assert.deepEqual(await count(key.username, key.source, T0 + 2 * MIN + FORGET + 1), {
        attempt: 1,
        locks: 0,
      });
    });

    it('forgets a key after a success only if no attempt was counted since', async () => {
      const s = ctx.store();
      const key = { username: 'wang', source: '203.0.113.5' };
      const mine = await count(key.username, key.source, T0);
      await count(key.username, key.source, T0);
      assert.equal(await s.clearSignIn(key, mine.attempt), false);
      assert.equal((await count(key.username, key.source, T0)).attempt, 3);
      assert.equal(await s.clearSignIn(key, 3), true);
      assert.equal((await count(key.username, key.source, T0)).attempt, 1);
    });

    it('purges keys untouched and unlocked since a time', async () => {
      const s = ctx.store();
      await count('a', 'x', T0);
      await count('b', 'x', T0);
      await s.lockSignIn({ username: 'b', source: 'x' }, T0 + 10 * FORGET);
      await count('c', 'x', T0 + FORGET);
      assert.equal(await s.purgeSignIns(T0 + 1), 1);
      assert.equal((await count('a', 'x', T0 + FORGET)).attempt, 1, 'a was purged');
      assert.equal((await count('b', 'x', T0 + FORGET)).lockedUntil, T0 + 10 * FORGET, 'b is still locked');
    });
  });
}
