/** One contract for every NotificationStore adapter (memory, SQLite, PostgreSQL). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AttemptRecord, DeliveryKey, NotificationStore } from '../../../cloud/notify/store/port.js';

export interface Fixture {
  store: NotificationStore;
  dispose(): Promise<void>;
}

const key = (requestId = 'req-1', recipient = 'u-1', addressKey = 'wecom:0011223344556677'): DeliveryKey => ({
  requestId,
  recipient,
  addressKey,
});

function claimInput(owner: string, now: number, k = key(), caseIds = ['case-1']) {
  return {
    key: k,
    channel: 'wecom' as const,
    target: 'https://qyapi/send?key=***abcd',
    caseIds,
    owner,
    now,
    leaseUntil: now + 1_000,
  };
}

function attempt(n: number, extra: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    ...key(),
    channel: 'wecom',
    target: 'https://qyapi/send?key=***abcd',
    attempt: n,
    status: 'failed',
    latencyMs: 12,
    at: 1_000 + n,
    ...extra,
  };
}

export function notificationStoreContract(name: string, open: () => Promise<Fixture>): void {
  const withStore = (fn: (s: NotificationStore) => Promise<void>) => async () => {
    const f = await open();
    try {
      await f.store.migrate();
      await f.store.migrate(); // idempotent
      await fn(f.store);
    } finally {
      await f.dispose();
    }
  };

  describe(`NotificationStore contract: ${name}`, () => {
    it(
      'claims a delivery once; another owner sees it as being sent',
      withStore(async (s) => {
        assert.deepEqual(await s.claim(claimInput('a', 100)), { claimed: true, attemptsSoFar: 0 });
        assert.deepEqual(await s.claim(claimInput('b', 200)), {
          claimed: false,
          state: 'sending',
          attempts: 0,
        });
        const d = await s.delivery(key());
        assert.equal(d?.state, 'sending');
        assert.equal(d?.channel, 'wecom');
        assert.equal(d?.target, 'https://qyapi/send?key=***abcd');
        assert.equal(d?.createdAt, 100);
      }),
    );

    it(
      'a live sender renews its claim; a lapsed one is taken over and the old owner can no longer renew',
      withStore(async (s) => {
        await s.claim(claimInput('a', 100)); // lease until 1 100
        assert.equal(await s.renew(key(), 'intruder', 5_000), false, 'only the owner renews');
        assert.equal(await s.renew(key(), 'a', 2_100), true);
        assert.deepEqual(await s.claim(claimInput('b', 1_500)), {
          claimed: false,
          state: 'sending',
          attempts: 0,
        });
        assert.deepEqual(await s.claim(claimInput('b', 2_200)), { claimed: true, attemptsSoFar: 0 });
        assert.equal(await s.renew(key(), 'a', 9_000), false, 'the claim was taken over');
        assert.equal(await s.finish(key(), 'b', { ok: true, attempts: 1 }, 2_300), true);
        assert.equal(await s.renew(key(), 'b', 9_000), false, 'nothing to renew once delivered');
      }),
    );

    it(
      'a delivered one is never claimed again; only its owner may finish it',
      withStore(async (s) => {
        await s.claim(claimInput('a', 100));
        assert.equal(await s.finish(key(), 'intruder', { ok: true, attempts: 1 }, 150), false);
        assert.equal(await s.finish(key(), 'a', { ok: true, attempts: 1 }, 150), true);
        assert.equal(await s.finish(key(), 'a', { ok: true, attempts: 1 }, 151), false, 'not twice');
        assert.deepEqual(await s.claim(claimInput('b', 5_000)), {
          claimed: false,
          state: 'delivered',
          attempts: 1,
        });
        const d = await s.delivery(key());
        assert.deepEqual([d?.state, d?.attempts, d?.updatedAt, d?.error], ['delivered', 1, 150, undefined]);
      }),
    );

    it(
      'a failed one is claimed again with its attempt count; an expired lease is taken over',
      withStore(async (s) => {
        await s.claim(claimInput('a', 100));
        await s.finish(key(), 'a', { ok: false, attempts: 3, error: 'HTTP 500' }, 150);
        assert.equal((await s.delivery(key()))?.error, 'HTTP 500');
        assert.deepEqual(await s.claim(claimInput('b', 200)), { claimed: true, attemptsSoFar: 3 });
        // b's lease runs to 1200: c may take over only after it.
        assert.equal((await s.claim(claimInput('c', 1_199))).claimed, false);
        assert.deepEqual(await s.claim(claimInput('c', 1_200)), { claimed: true, attemptsSoFar: 3 });
        assert.equal(await s.finish(key(), 'b', { ok: true, attempts: 4 }, 1_300), false, 'b lost its claim');
        assert.equal(await s.finish(key(), 'c', { ok: true, attempts: 4 }, 1_300), true);
      }),
    );

    it(
      'lets exactly one of many concurrent claimants win',
      withStore(async (s) => {
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => s.claim(claimInput(`owner-${i}`, 100))),
        );
        assert.equal(results.filter((r) => r.claimed).length, 1);
      }),
    );

    it(
      'stores attempts with every field and returns them by request and by case',
      withStore(async (s) => {
        await s.claim(claimInput('a', 100, key(), ['case-1', 'case-2']));
        await s.claim(claimInput('a', 100, key('req-1', 'u-2', 'email:aa'), ['case-1', 'case-2']));
        await s.claim(claimInput('a', 100, key('req-2'), ['case-2']));
        await s.recordAttempt(attempt(2, { status: 'ok', httpStatus: 200, errcode: 0, latencyMs: 33.4 }));
        await s.recordAttempt(attempt(1, { status: 'timeout', error: 'timed out' }));
        await s.recordAttempt(
          attempt(1, { recipient: 'u-2', addressKey: 'email:aa', channel: 'email', target: 'mailto:x@y' }),
        );
        await s.recordAttempt(attempt(1, { requestId: 'req-2', status: 'failed', httpStatus: 503 }));
        const byRequest = await s.attemptsByRequest('req-1');
        assert.deepEqual(
          byRequest.map((a) => [a.recipient, a.attempt, a.status]),
          [
            ['u-1', 1, 'timeout'],
            ['u-1', 2, 'ok'],
            ['u-2', 1, 'failed'],
          ],
        );
        assert.deepEqual(byRequest[1], {
          ...key(),
          channel: 'wecom',
          target: 'https://qyapi/send?key=***abcd',
          attempt: 2,
          status: 'ok',
          httpStatus: 200,
          errcode: 0,
          latencyMs: 33,
          at: 1_002,
        });
        assert.deepEqual(byRequest[0]?.error, 'timed out');
        assert.equal('httpStatus' in (byRequest[0] ?? {}), false, 'absent fields stay absent');
        assert.equal((await s.attemptsByCase('case-1')).length, 3);
        assert.deepEqual(
          (await s.attemptsByCase('case-2')).map((a) => a.requestId),
          ['req-1', 'req-1', 'req-1', 'req-2'],
        );
        assert.deepEqual(await s.attemptsByCase('nope'), []);
        assert.deepEqual(
          (await s.deliveriesByRequest('req-1')).map((d) => d.recipient),
          ['u-1', 'u-2'],
        );
      }),
    );
  });
}
