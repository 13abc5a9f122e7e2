/**
 * One contract for every EscalationStore adapter (memory, SQLite, PostgreSQL), in the manner of
 * aedes-persistence's abstract test: the same calls, the same answers.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { effectivePolicies } from '../../../cloud/escalation/policy.js';
import type { EscalationStore, PlanRow } from '../../../cloud/escalation/store/port.js';
import type { StoreHandle } from '../../../cloud/store/port.js';
import { measureQueries } from '../store/query-cost.js';
import { makeCase, T0 } from './support.js';

export interface OpenedStore {
  store: EscalationStore;
  /** A second handle on the same database (another instance); the memory adapter returns itself. */
  other(): Promise<EscalationStore>;
  /** The database the store runs on, to measure its queries (undefined for memory). */
  handle?: StoreHandle;
  dispose(): Promise<void>;
}

const policy = effectivePolicies([]).find((p) => p.id === 'critical')!;
const row = (id: string, dueAt: number, over: Partial<PlanRow> = {}): PlanRow => ({
  id,
  caseId: 'c1',
  policyId: 'critical',
  policyVersion: 1,
  kind: 'step',
  step: 0,
  repeat: 0,
  run: 1,
  dueAt,
  ...over,
});
const state = (run = 1) => ({
  caseId: 'c1',
  snapshot: makeCase({ id: 'c1' }),
  policyId: 'critical',
  policyVersion: 1,
  run,
  triggeredAt: T0,
  failedSends: 0,
  updatedAt: T0,
});

export function escalationStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`escalation store contract: ${name}`, () => {
    const opened: OpenedStore[] = [];
    const fresh = async () => {
      const o = await open();
      opened.push(o);
      await o.store.migrate();
      await o.store.migrate(); // idempotent
      return o;
    };
    after(async () => {
      for (const o of opened) await o.dispose();
    });

    it('stores policy versions; a changed body under a version is a conflict', async () => {
      const { store } = await fresh();
      assert.equal(await store.savePolicy(policy, T0), 'inserted');
      assert.equal(await store.savePolicy(policy, T0), 'unchanged');
      assert.equal(await store.savePolicy({ ...policy, realarmMs: 1 }, T0), 'conflict');
      assert.deepEqual(await store.getPolicy('critical', policy.version), policy);
      assert.equal(await store.getPolicy('critical', policy.version + 1), undefined);
    });

    it('plans each row id once; a re-plan cancels open rows; snapshots never go back in time', async () => {
      const { store } = await fresh();
      await store.plan(state(), [row('a', T0), row('b', T0 + 10)]);
      await store.plan(state(), [row('a', T0 + 999)]);
      assert.deepEqual(
        (await store.rows('c1')).map((r) => [r.id, r.dueAt]),
        [
          ['a', T0],
          ['b', T0 + 10],
        ],
      );
      await store.plan(state(2), [row('a2', T0 + 20, { run: 2 })], 'cancelled: restarted');
      assert.deepEqual(
        (await store.rows('c1')).map((r) => [r.id, r.outcome ?? null]),
        [
          ['a', 'cancelled: restarted'],
          ['b', 'cancelled: restarted'],
          ['a2', null],
        ],
      );
      await store.saveSnapshot({ ...makeCase({ id: 'c1' }), acked: true, updatedAt: T0 + 5 }, T0 + 5);
      await store.saveSnapshot({ ...makeCase({ id: 'c1' }), acked: false, updatedAt: T0 + 1 }, T0 + 6);
      const s = await store.getCase('c1');
      assert.deepEqual([s?.snapshot.acked, s?.run, s?.policyVersion], [true, 2, 1]);
      assert.equal(await store.addFailedSends('c1', 2), 2);
      assert.equal(await store.addFailedSends('c1', 1), 3);
    });

    it('claims first notices before overdue reminders, then by due time', async () => {
      const o = await fresh();
      await o.store.insert([
        row('remind-old', T0 - 120_000, { step: 1 }),
        row('repeat-old', T0 - 90_000, { repeat: 1 }),
        row('ack-old', T0 - 60_000, { kind: 'ack_timeout', step: 1 }),
        row('first-new', T0),
        row('first-older', T0 - 1_000, { caseId: 'c2' }),
      ]);
      assert.deepEqual(
        (await o.store.claimDue('w1', T0, 6_000, 3)).map((r) => r.id),
        ['first-older', 'first-new', 'remind-old'],
      );
    });

    it('claims are exclusive across instances; a dead claimer is taken over after the lease', async () => {
      const o = await fresh();
      const other = await o.other();
      await o.store.insert([row('x', T0), row('y', T0 + 1), row('z', T0 + 60_000)]);
      const [a, b] = await Promise.all([
        o.store.claimDue('w1', T0 + 1, 30_000, 1),
        other.claimDue('w2', T0 + 1, 30_000, 10),
      ]);
      const ids = [...a, ...b].map((r) => r.id).sort();
      assert.deepEqual(ids, ['x', 'y'], 'each due row to exactly one claimer, nothing not yet due');
      assert.equal((await o.store.claimDue('w3', T0 + 2, 30_000, 10)).length, 0);
      assert.equal(
        await o.store.complete('x', 'someone-else', 'sent', T0 + 2),
        false,
        'only the holder completes',
      );
      // Both claimers die holding their rows: after the lease they are claimed again (their ids keep delivery once).
      assert.equal((await o.store.claimDue('w3', T0 + 30_000, 30_000, 10)).length, 0, 'lease not over yet');
      const retaken = await o.store.claimDue('w3', T0 + 40_000, 30_000, 10);
      assert.deepEqual(
        retaken.map((r) => r.id),
        ['x', 'y'],
      );
      assert.equal(
        await o.store.complete('x', 'w3', 'sent', T0 + 40_000, [row('f', T0 + 40_000, { kind: 'fallback' })]),
        true,
      );
      assert.equal(await o.store.complete('x', 'w3', 'sent', T0 + 40_000), false, 'done once');
      const f = (await o.store.rows('c1')).find((r) => r.id === 'f');
      assert.deepEqual([f?.claimedBy, f?.doneAt], [undefined, undefined]);
    });

    it('a live holder renews its claims; it can give a row back; open rows move to new due times', async () => {
      const o = await fresh();
      const other = await o.other();
      await o.store.insert([row('r1', T0), row('r2', T0), row('r3', T0 + 60_000, { step: 1 })]);
      assert.equal((await o.store.claimDue('w1', T0, 6_000, 10)).length, 2);
      // w1 renews r1 only (its delivery is still running); r2's claimer went quiet.
      await o.store.renew(['r1'], 'w1', T0 + 5_000);
      await other.renew(['r2'], 'not-the-holder', T0 + 5_000);
      const taken = await other.claimDue('w2', T0 + 7_000, 6_000, 10);
      assert.deepEqual(
        taken.map((r) => r.id),
        ['r2'],
        'the renewed claim holds, the stale one is taken over',
      );
      assert.equal(await o.store.release('r2', 'w1', T0 + 9_000), false, 'only the holder gives it back');
      assert.equal(await other.release('r2', 'w2', T0 + 9_000), true);
      assert.equal((await o.store.claimDue('w3', T0 + 8_000, 6_000, 10)).length, 0, 'released: due later');
      await o.store.retime([
        { id: 'r3', dueAt: T0 + 70_000 },
        { id: 'r1', dueAt: T0 + 99_000 },
      ]);
      const rows = new Map((await other.rows('c1')).map((r) => [r.id, r]));
      assert.deepEqual([rows.get('r2')?.claimedBy, rows.get('r2')?.dueAt], [undefined, T0 + 9_000]);
      assert.equal(rows.get('r3')?.dueAt, T0 + 70_000, 'an open, unclaimed row moves');
      assert.deepEqual(
        [rows.get('r1')?.dueAt, rows.get('r1')?.claimedBy],
        [T0, 'w1'],
        'a claimed row is left to its holder',
      );
    });

    it('cancel leaves claimed and fold rows alone', async () => {
      const { store } = await fresh();
      await store.insert([row('p', T0), row('q', T0 + 5)]);
      await store.claimDue('w', T0, 1000, 1);
      await store.fold(
        'wang',
        'group:x',
        T0 + 9,
        { rowId: 'q', caseId: 'c1', stage: 'warn', condition: 'always', reason: { zh: 'a', en: 'a' } },
        policy,
      );
      assert.equal(await store.cancel('c1', 'cancelled: closed', T0 + 1), 1);
      assert.deepEqual(
        (await store.rows('c1')).map((r) => [r.id.split(':')[0], r.outcome ?? null]),
        [
          ['p', null],
          ['q', 'cancelled: closed'],
          ['fold', null],
        ],
      );
    });

    it('folds append to the open fold; once it is claimed a new one opens', async () => {
      const o = await fresh();
      const other = await o.other();
      const entry = (caseId: string) => ({
        rowId: `${caseId}:1:0:0`,
        caseId,
        stage: 'warn' as const,
        condition: 'always' as const,
        reason: { zh: 'x', en: 'x' },
      });
      const id1 = await o.store.fold('wang', 'rate', T0 + 100, entry('c1'), policy);
      const id2 = await other.fold('wang', 'rate', T0 + 200, entry('c2'), policy);
      assert.equal(id1, id2);
      assert.equal(id1, `fold:wang:rate:${T0 + 100}`);
      const [claimed] = await o.store.claimDue('w', T0 + 100, 1000, 10);
      assert.deepEqual(
        JSON.parse(claimed?.payload ?? '[]').map((e: { caseId: string }) => e.caseId),
        ['c1', 'c2'],
      );
      const id3 = await o.store.fold('wang', 'rate', T0 + 300, entry('c3'), policy);
      assert.notEqual(id3, id1);
    });

    it('keeps a per-recipient log and prunes old entries and done rows', async () => {
      const { store } = await fresh();
      await store.logRecipient([
        { recipient: 'wang', kind: 'arrival', caseId: 'c1', community: 'p/z/l', at: T0 },
        { recipient: 'wang', kind: 'send', caseId: 'c1', community: 'p/z/l', at: T0 + 10 },
        { recipient: 'zhou', kind: 'send', caseId: 'c1', community: 'p/z/l', at: T0 + 10 },
      ]);
      assert.deepEqual(
        (await store.recipientLog('wang', T0 + 5)).map((e) => [e.kind, e.at]),
        [['send', T0 + 10]],
      );
      await store.insert([row('old', T0)]);
      await store.claimDue('w', T0, 1000, 10);
      await store.complete('old', 'w', 'sent', T0);
      await store.prune(T0 + 1);
      assert.equal((await store.rows()).length, 0);
      assert.equal((await store.recipientLog('wang', 0)).length, 1);
    });

    it('the recipient log since a time costs what it returns, whatever the span of its times', async () => {
      const o = await fresh();
      const YEAR = 365.25 * 86_400_000;
      const near = Array.from({ length: 50 }, (_, i) => ({
        recipient: i % 2 ? 'wang' : 'zhou',
        kind: 'send' as const,
        caseId: `c${i}`,
        community: 'p/z/l',
        at: T0 + i * 1000,
      }));
      await o.store.logRecipient([
        ...near,
        { recipient: 'wang', kind: 'send', caseId: 'far', community: 'p/z/l', at: T0 + 30 * YEAR },
      ]);
      const since = T0 + 40_000;
      const run = () => o.store.recipientLog('wang', since);
      const { result, costs } = o.handle
        ? await measureQueries(o.handle, run)
        : { result: await run(), costs: [] };
      assert.deepEqual(
        result.map((e) => e.caseId),
        ['c41', 'c43', 'c45', 'c47', 'c49', 'far'],
      );
      if (o.handle) assert.ok(costs?.length, 'queries seen');
      for (const cost of costs ?? []) {
        // The (recipient, at) index: the work is the rows returned, not the log or the years.
        if (cost.work !== undefined)
          assert.ok(cost.work <= 4 * result.length + 10, `${cost.work}\n${cost.sql}`);
        for (const line of cost.plan ?? []) assert.doesNotMatch(line, /^SCAN esc_recipient_log\b/, line);
      }
    });
  });
}
