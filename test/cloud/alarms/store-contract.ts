/**
 * The one contract every AlarmCaseStore keeps, run against memory, SQLite and PostgreSQL
 * (store-*.test.ts). Each test gets a fresh, migrated store.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { AlarmCase } from '../../../cloud/alarms/contract.js';
import {
  ackCase,
  type CaseChange,
  closeCase,
  feedbackCase,
  planNewCase,
  planReoccurrence,
  planTransition,
  shelveCase,
} from '../../../cloud/alarms/model.js';
import type { AlarmCaseStore, TransitionPlanner } from '../../../cloud/alarms/store/port.js';
import type { StoreHandle } from '../../../cloud/store/port.js';
import type { AlarmTransition, DownlinkCommand } from '../../../protocol/index.js';
import { isDoorstepError } from '../../../protocol/index.js';
import { measureQueries } from '../store/query-cost.js';
import { duty, GARDEN, LANE, T0, transition } from './helpers.js';

export interface CaseStoreHarness {
  open(): Promise<AlarmCaseStore>;
  /** Closes and opens the same storage (a restart); undefined for memory. */
  reopen?: () => Promise<AlarmCaseStore>;
  /** The database the store runs on, to measure its queries (undefined for memory). */
  handle?: () => StoreHandle;
  dispose(): Promise<void>;
}

const planner = (t: AlarmTransition, site = LANE, now = T0 + 5000): TransitionPlanner => {
  const ctx = { site, offsetMs: 0, now };
  return {
    existing: (c) => planTransition(c, t, ctx),
    reoccur: (open) => planReoccurrence(open, t, ctx),
    create: (latest) => planNewCase(t, ctx, latest),
  };
};

const command = (id: string, alarm?: string): DownlinkCommand => ({
  id,
  kind: 'silence',
  device: 'smoke-1',
  by: 'duty.li',
  issuedAt: T0,
  ...(alarm ? { alarm } : {}),
});

export function caseStoreContract(
  name: string,
  makeHarness: () => Promise<CaseStoreHarness>,
  options: { persistent: boolean },
): void {
  describe(`AlarmCaseStore contract: ${name}`, () => {
    let harness: CaseStoreHarness;
    let store: AlarmCaseStore;
    beforeEach(async () => {
      harness = await makeHarness();
      store = await harness.open();
    });
    afterEach(async () => {
      await harness.dispose();
    });

    const apply = (t: AlarmTransition, site = LANE) => store.applyTransition(t, planner(t, site));

    it('migrate is idempotent', async () => {
      await store.migrate();
      await store.migrate();
    });

    it('applies a transition once per (gateway, alarm id, state); another gateway’s ids are its own', async () => {
      const first = await apply(transition('alarm-0001', 'raised', T0));
      assert.equal(first?.case.occurrence, 1);
      assert.deepEqual(first?.events, ['raised']);
      assert.equal(await apply(transition('alarm-0001', 'raised', T0)), undefined, 'claimed once');
      const cleared = await apply(transition('alarm-0001', 'cleared', T0 + 2000));
      assert.deepEqual(cleared?.events, ['cleared']);
      assert.equal((await store.get('alarm-0001'))?.condition, 'cleared');
      assert.equal(await apply(transition('alarm-0001', 'cleared', T0 + 2000)), undefined);
      // Another gateway's claim of the same id and state does not block (or count as) this one.
      const other = transition('alarm-0003', 'raised', T0, { gateway: 'gw-2' });
      assert.equal((await apply(other, GARDEN))?.case.occurrence, 1);
    });

    it('a new alarm id of a condition whose case is open is one more occurrence of that case', async () => {
      await apply(transition('alarm-0001', 'raised', T0, { value: 12 }));
      await apply(transition('alarm-0001', 'cleared', T0 + 1000));
      const again = await apply(transition('alarm-0002', 'raised', T0 + 60_000, { value: 30 }), LANE);
      assert.equal(again?.case.id, 'alarm-0001', 'the same case, not a new row');
      assert.deepEqual(again?.events, ['retriggered']);
      assert.equal(again?.case.occurrence, 2);
      assert.equal(again?.case.condition, 'active');
      assert.equal(again?.case.value, 30);
      assert.equal(await store.get('alarm-0002'), undefined, 'no case of its own');
      // The occurrence's own transitions find the case (also after the late clear of the first).
      const clear2 = await apply(transition('alarm-0002', 'cleared', T0 + 61_000));
      assert.deepEqual(clear2?.events, ['cleared']);
      const c = await store.get('alarm-0001');
      assert.equal(c?.condition, 'cleared');
      assert.deepEqual(
        c?.occurrences?.map((o) => [o.alarm, o.raisedAt, o.clearedAt, o.value]),
        [
          ['alarm-0001', T0, T0 + 1000, 12],
          ['alarm-0002', T0 + 60_000, T0 + 61_000, 30],
        ],
      );
      // A third while open: count 3; one row on the board, one case in the list.
      await apply(transition('alarm-0003', 'raised', T0 + 120_000));
      assert.equal((await store.get('alarm-0001'))?.occurrence, 3);
      assert.deepEqual(
        (await store.board('pudong', { perCommunity: 100, limit: 1000 })).items.map((x) => [
          x.id,
          x.occurrence,
        ]),
        [['alarm-0001', 3]],
      );
      assert.equal((await store.list('pudong', {})).length, 1);
      assert.deepEqual(
        (await store.audit('alarm-0001')).map((e) => e.action),
        ['raised', 'cleared', 'retriggered', 'cleared', 'retriggered'],
      );
      // Another device, or a walk test of the same device, is another condition.
      assert.equal(
        (await apply(transition('alarm-0004', 'raised', T0, { device: 'smoke-2' })))?.case.id,
        'alarm-0004',
      );
      const walk = await apply(transition('walk-0001', 'raised', T0 + 130_000, { test: true }));
      assert.equal(walk?.case.id, 'walk-0001', 'a walk test never joins (or hides in) a real case');
      assert.equal((await apply(transition('alarm-0005', 'raised', T0 + 140_000)))?.case.id, 'alarm-0001');
    });

    it('after the case closes, the condition starts a new case; its shelving still in force carries over', async () => {
      await apply(transition('alarm-0001', 'raised', T0));
      await apply(transition('alarm-0001', 'cleared', T0 + 1000));
      const until = T0 + 8 * 3600_000;
      await store.update('alarm-0001', (c) => shelveCase(c, duty, T0 + 2000, 'kitchen works', until));
      await store.update('alarm-0001', (c) => ackCase(c, duty, T0 + 3000, 'cmd-1'));
      await store.update('alarm-0001', (c) =>
        feedbackCase(c, duty, T0 + 4000, { cause: 'false_alarm', note: 'steam' }),
      );
      await store.update('alarm-0001', (c) => closeCase(c, duty, T0 + 5000));
      const next = await store.applyTransition(
        transition('alarm-0002', 'raised', T0 + 3600_000),
        planner(transition('alarm-0002', 'raised', T0 + 3600_000), LANE, T0 + 3600_000),
      );
      assert.equal(next?.case.id, 'alarm-0002', 'a new case after 办结');
      assert.equal(next?.case.occurrence, 1);
      assert.equal(next?.case.shelved?.until, until, 'shelving applies to the condition');
      assert.equal((await store.audit('alarm-0002'))[0]?.detail?.['from'], 'alarm-0001');
      const later = transition('alarm-0003', 'raised', until + 1000);
      await store.update('alarm-0002', (c) => ({ case: { ...c, stage: 'closed' }, audit: [], events: [] }));
      const lapsed = await store.applyTransition(later, planner(later, LANE, until + 1000));
      assert.equal(lapsed?.case.shelved, undefined, 'a lapsed shelving carries nothing');
    });

    it('update: unknown id is missing, a refusal writes nothing, a change is written with its audit', async () => {
      assert.equal(await store.update('nope', () => undefined), 'missing');
      await apply(transition('alarm-0001', 'raised', T0));
      const before = await store.audit('alarm-0001');
      await assert.rejects(
        store.update('alarm-0001', () => {
          throw new Error('refused');
        }),
        /refused/,
      );
      assert.deepEqual(await store.audit('alarm-0001'), before);
      const change = await store.update('alarm-0001', (c) => ackCase(c, duty, T0 + 9000, 'cmd-1'));
      assert.ok(change && change !== 'missing');
      const stored = await store.get('alarm-0001');
      assert.equal(stored?.acked, true);
      assert.deepEqual(stored?.ackedBy, { id: duty.id, name: duty.name });
      const audit = await store.audit('alarm-0001');
      assert.deepEqual(
        audit.map((e) => e.action),
        ['raised', 'ack'],
      );
      assert.deepEqual(audit[1]?.actor, duty);
      assert.deepEqual(audit[1]?.before, { acked: false });
      assert.equal(audit[1]?.after?.['acked'], true);
      assert.ok((audit[0]?.seq ?? 0) < (audit[1]?.seq ?? 0));
      // The ack's downlink command was queued in the same transaction.
      assert.deepEqual(
        (await store.pendingCommands('gw-1', 10)).map((c) => [c.id, c.kind, c.alarm]),
        [['cmd-1', 'ack', 'alarm-0001']],
      );
    });

    it('lists cases in scope only, newest first, with stage/open/time filters and a limit', async () => {
      for (let i = 1; i <= 4; i++)
        await apply(transition(`alarm-000${i}`, 'raised', T0 + i * 1000, { device: `d-${i}` }));
      await apply(transition('alarm-0009', 'raised', T0, { gateway: 'gw-2' }), GARDEN);
      await store.update(
        'alarm-0002',
        (c): CaseChange => ({ case: { ...c, stage: 'closed' }, audit: [], events: [] }),
      );
      const ids = (cases: AlarmCase[]) => cases.map((c) => c.id);
      assert.deepEqual(ids(await store.list('pudong/zhangjiang', {})), [
        'alarm-0004',
        'alarm-0003',
        'alarm-0002',
        'alarm-0001',
      ]);
      assert.deepEqual(ids(await store.list('pudong/huamu', {})), ['alarm-0009']);
      assert.deepEqual(ids(await store.list('pudong/zhang', {})), [], 'a prefix is not a scope');
      assert.equal((await store.list('pudong', {})).length, 5);
      assert.deepEqual(ids(await store.list('pudong/zhangjiang', { open: false })), ['alarm-0002']);
      assert.deepEqual(ids(await store.list('pudong/zhangjiang', { stage: 'warn', limit: 2 })), [
        'alarm-0004',
        'alarm-0003',
      ]);
      assert.deepEqual(
        ids(await store.list('pudong/zhangjiang', { from: T0 + 2000, to: T0 + 4000, open: true })),
        ['alarm-0003'],
      );
      await assert.rejects(store.list('not a scope', {}), (e) => isDoorstepError(e, 'CLOUD_ERR_STORE_SCOPE'));
    });

    it('board: one community’s flood never hides another’s fire; what is left out is counted', async () => {
      const YEAR = 365.25 * 86_400_000;
      // 150 critical latched alarms in LANE, raised "10 years ahead" by a broken gateway clock
      // (or simply newer than the fire): the newest-first list would show only them.
      for (let i = 0; i < 150; i++)
        await store.applyTransition(
          transition(`flood-${String(i).padStart(4, '0')}`, 'raised', T0 + 10 * YEAR + i, {
            device: `d-${i}`,
            latched: true,
          }),
          {
            existing: () => undefined,
            reoccur: () => undefined,
            create: (latest) =>
              planNewCase(
                transition(`flood-${String(i).padStart(4, '0')}`, 'raised', T0 + 10 * YEAR + i, {
                  device: `d-${i}`,
                  latched: true,
                }),
                { site: LANE, offsetMs: 0, now: T0 + 10_000 + i },
                latest,
              ),
          },
        );
      const fire = transition('fire-0001', 'raised', T0, { gateway: 'gw-2', type: 'fire_confirmed' });
      await store.applyTransition(fire, {
        existing: () => undefined,
        reoccur: () => undefined,
        create: (latest) => planNewCase(fire, { site: GARDEN, offsetMs: 0, now: T0 + 1000 }, latest),
      });
      const minor = transition('fault-0001', 'raised', T0 + 20 * YEAR, {
        gateway: 'gw-2',
        type: 'device_fault',
        severity: 'minor',
        device: 'smoke-9',
      });
      await store.applyTransition(minor, {
        existing: () => undefined,
        reoccur: () => undefined,
        create: (latest) => planNewCase(minor, { site: GARDEN, offsetMs: 0, now: T0 + 2000 }, latest),
      });
      assert.equal(
        (await store.list('pudong', { open: true, limit: 100 })).some((c) => c.id === 'fire-0001'),
        false,
        'the newest-raise list alone would have hidden the fire',
      );
      const board = await store.board('pudong', { perCommunity: 100, limit: 1000 });
      const ids = board.items.map((c) => c.id);
      assert.equal(board.items.length, 102);
      assert.ok(ids.includes('fire-0001'), 'the other community’s fire is on the board');
      assert.deepEqual(board.truncated, { 'pudong/zhangjiang/lane-100': 50 });
      // Most severe first, then the newest receipt (not the gateway’s raise time): the minor
      // fault raised “20 years ahead” comes last, the fire before the flood it was received before.
      assert.equal(ids.at(-1), 'fault-0001');
      assert.equal(ids[0], 'flood-0149');
      assert.equal(ids.indexOf('fire-0001'), 100);
      // A limit smaller than the communities’ share still counts everything left out.
      const small = await store.board('pudong', { perCommunity: 10, limit: 5 });
      assert.equal(small.items.length, 5);
      assert.deepEqual(small.truncated, { 'pudong/zhangjiang/lane-100': 145, 'pudong/huamu/garden-1': 2 });
      // Scoped like list(): the garden's board has only the garden's cases, nothing truncated.
      const garden = await store.board('pudong/huamu', { perCommunity: 100, limit: 1000 });
      assert.deepEqual(
        garden.items.map((c) => c.id),
        ['fire-0001', 'fault-0001'],
      );
      assert.deepEqual(garden.truncated, {});
      // Closed cases leave the board.
      await store.update(
        'fire-0001',
        (c): CaseChange => ({ case: { ...c, stage: 'closed' }, audit: [], events: [] }),
      );
      assert.equal((await store.board('pudong/huamu', { perCommunity: 100, limit: 1000 })).items.length, 1);
      await assert.rejects(store.board('nope nope', { perCommunity: 1, limit: 1 }), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_SCOPE'),
      );
    });

    it('list over a time range costs what it returns, whatever the span of raise times', async () => {
      const YEAR = 365.25 * 86_400_000;
      for (let i = 0; i < 20; i++)
        await apply(transition(`near-${String(i).padStart(4, '0')}`, 'raised', T0 + i, { device: `d-${i}` }));
      await apply(transition('far-0001', 'raised', T0 + 30 * YEAR, { device: 'd-far' }));
      // The database's own account of the work (test/cloud/store/query-cost.ts), not a clock.
      const measured = async (range: { from: number; to?: number }) => {
        const target = harness.handle?.();
        const list = () => store.list('pudong', { ...range, limit: 1000 });
        if (!target) return list();
        const { result, costs } = await measureQueries(target, list);
        assert.ok(costs?.length, 'the list ran at least one query');
        for (const cost of costs ?? []) {
          if (cost.work !== undefined)
            assert.ok(cost.work <= 8 * result.length + 1000, `${cost.work} rows of work\n${cost.sql}`);
          for (const line of cost.plan ?? [])
            assert.doesNotMatch(line, /^SCAN alarm_cases\b/, cost.plan?.join('\n'));
        }
        return result;
      };
      const day = await measured({ from: T0, to: T0 + 86_400_000 });
      const ahead = await measured({ from: T0 + 86_400_000 });
      assert.equal(day.length, 20);
      assert.deepEqual(
        ahead.map((c) => c.id),
        ['far-0001'],
      );
    });

    it('keeps the feedback photo apart from the case', async () => {
      await apply(transition('alarm-0001', 'raised', T0));
      assert.equal(await store.photo('alarm-0001'), undefined);
      await store.update('alarm-0001', (c) => ({
        case: c,
        audit: [],
        events: [],
        photo: 'data:image/png;base64,AA==',
      }));
      assert.equal(await store.photo('alarm-0001'), 'data:image/png;base64,AA==');
    });

    it('queues commands per gateway, oldest first, once per id; settles only its own, auditing once', async () => {
      await apply(transition('alarm-0001', 'raised', T0));
      await store.enqueueCommand('gw-1', command('c-1', 'alarm-0001'), T0);
      await store.enqueueCommand('gw-1', command('c-2'), T0);
      await store.enqueueCommand('gw-1', command('c-1', 'alarm-0001'), T0 + 1);
      await store.enqueueCommand('gw-2', command('c-9'), T0);
      assert.deepEqual(
        (await store.pendingCommands('gw-1', 10)).map((c) => c.id),
        ['c-1', 'c-2'],
      );
      assert.deepEqual(
        (await store.pendingCommands('gw-1', 1)).map((c) => c.id),
        ['c-1'],
      );
      assert.deepEqual(await store.settleCommands('gw-2', [{ id: 'c-1' }], T0), [], "not another gateway's");
      assert.deepEqual(
        await store.settleCommands(
          'gw-1',
          [{ id: 'c-1', ok: false, error: 'no siren' }, { id: 'c-x' }],
          T0 + 7,
        ),
        [{ id: 'c-1', caseId: 'alarm-0001' }],
      );
      assert.deepEqual(await store.settleCommands('gw-1', [{ id: 'c-1', ok: true }], T0 + 8), [], 'once');
      assert.deepEqual(
        (await store.pendingCommands('gw-1', 10)).map((c) => c.id),
        ['c-2'],
      );
      const trail = (await store.audit('alarm-0001')).filter((e) => e.action === 'command_result');
      assert.equal(trail.length, 1);
      assert.deepEqual(trail[0]?.detail, { command: 'c-1', kind: 'silence', ok: false, error: 'no siren' });
      assert.equal(trail[0]?.actor.kind, 'gateway');
    });

    it('case-event log: each change appends its events in the same write, numbered in order; refusals and replays append nothing', async () => {
      assert.equal(await store.lastEventSeq(), 0);
      assert.deepEqual(await store.readEvents(0, 10), []);
      await apply(transition('alarm-0001', 'raised', T0));
      await apply(transition('alarm-0001', 'raised', T0)); // a replay: claimed before, nothing new
      await apply(transition('alarm-0001', 'cleared', T0 + 1000));
      // The condition occurring again while its case is open: an entry of that case, one count higher.
      await apply(transition('alarm-0002', 'raised', T0 + 2000));
      await assert.rejects(
        store.update('alarm-0001', () => {
          throw new Error('refused');
        }),
        /refused/,
      );
      await store.update('alarm-0001', (c) => ackCase(c, duty, T0 + 9000, 'cmd-1'));
      // A change with no event (a pure audit, e.g. a queued command) appends nothing.
      await store.update(
        'alarm-0001',
        (c): CaseChange => ({ case: { ...c, updatedAt: T0 + 9500 }, audit: [], events: [] }),
      );
      const log = await store.readEvents(0, 100);
      assert.deepEqual(
        log.map((e) => [e.caseId, e.kind]),
        [
          ['alarm-0001', 'raised'],
          ['alarm-0001', 'cleared'],
          ['alarm-0001', 'retriggered'],
          ['alarm-0001', 'acked'],
        ],
      );
      assert.equal(log[2]?.case.occurrence, 2);
      assert.equal(log[2]?.case.occurrences?.at(-1)?.alarm, 'alarm-0002');
      for (let i = 1; i < log.length; i++) assert.ok(log[i]!.seq > log[i - 1]!.seq, 'seq grows');
      assert.equal(await store.lastEventSeq(), log.at(-1)!.seq);
      // Each entry carries the case as that change left it, the time and who did it.
      assert.equal(log[1]?.case.condition, 'cleared');
      assert.equal(log[3]?.case.acked, true);
      assert.equal(log[3]?.at, T0 + 9000);
      assert.deepEqual(log[3]?.by, { id: duty.id, name: duty.name });
      assert.equal(log[0]?.by, undefined, "a gateway's transition names no person");
      assert.deepEqual(log[2]?.case.site, LANE);
      // Paging after a position, oldest first.
      assert.deepEqual(
        (await store.readEvents(log[0]!.seq, 2)).map((e) => e.seq),
        [log[1]!.seq, log[2]!.seq],
      );
      assert.deepEqual(await store.readEvents(log.at(-1)!.seq, 10), []);
    });

    it('log cursors: one live holder per consumer, taken over when its lease lapses, never moved back', async () => {
      const lease = 6_000;
      assert.deepEqual(await store.leaseCursor('escalation', 'a', T0, lease), { seq: 0 });
      assert.equal(await store.leaseCursor('escalation', 'b', T0 + 1000, lease), undefined, 'a holds it');
      assert.deepEqual(await store.leaseCursor('feed', 'b', T0, lease, 7), { seq: 7 }, 'another consumer');
      assert.equal(await store.advanceCursor('escalation', 'b', 5, T0 + 1000), false, 'not the holder');
      assert.equal(await store.advanceCursor('escalation', 'a', 5, T0 + 1000), true);
      assert.equal(await store.advanceCursor('escalation', 'a', 3, T0 + 1000), true);
      // Renewed by its holder: still a's at T0 + 6 500.
      assert.deepEqual(
        await store.leaseCursor('escalation', 'a', T0 + 2000, lease),
        { seq: 5 },
        'never back',
      );
      assert.equal(await store.leaseCursor('escalation', 'b', T0 + 6500, lease), undefined);
      // a died: its lease lapses and b continues from the stored position.
      assert.deepEqual(await store.leaseCursor('escalation', 'b', T0 + 8001, lease), { seq: 5 });
      assert.equal(await store.advanceCursor('escalation', 'a', 9, T0 + 8002), false, 'a lost it');
      // A clean stop hands over at once.
      await store.releaseCursor('escalation', 'b');
      assert.deepEqual(await store.leaseCursor('escalation', 'a', T0 + 8003, lease), { seq: 5 });
    });

    // Only adapters with storage that outlives the instance (memory has nothing to reopen).
    if (!options.persistent) return;
    it('the case-event log and its cursors survive a restart', async () => {
      await apply(transition('alarm-0001', 'raised', T0));
      await store.leaseCursor('escalation', 'a', T0, 6_000);
      const seq = (await store.readEvents(0, 10))[0]!.seq;
      await store.advanceCursor('escalation', 'a', seq, T0);
      store = await harness.reopen!();
      assert.deepEqual(
        (await store.readEvents(0, 10)).map((e) => [e.seq, e.kind]),
        [[seq, 'raised']],
      );
      assert.deepEqual(await store.leaseCursor('escalation', 'a', T0 + 1, 6_000), { seq });
      await apply(transition('alarm-0001', 'cleared', T0 + 1));
      assert.ok((await store.readEvents(seq, 10))[0]!.seq > seq, 'numbering continues after a restart');
    });
    it('cases, audit and pending commands survive a restart', async () => {
      assert.ok(harness.reopen, 'a persistent harness reopens');
      await apply(transition('alarm-0001', 'raised', T0));
      await store.enqueueCommand('gw-1', command('c-1', 'alarm-0001'), T0);
      store = await harness.reopen!();
      assert.equal((await store.get('alarm-0001'))?.stage, 'warn');
      assert.equal((await store.audit('alarm-0001')).length, 1);
      assert.deepEqual(
        (await store.pendingCommands('gw-1', 10)).map((c) => c.id),
        ['c-1'],
      );
      assert.equal(await apply(transition('alarm-0001', 'raised', T0)), undefined, 'claims persist too');
      await apply(transition('alarm-0002', 'raised', T0 + 1000));
      store = await harness.reopen!();
      const cleared = await apply(transition('alarm-0002', 'cleared', T0 + 2000));
      assert.equal(cleared?.case.id, 'alarm-0001', 'an occurrence finds its case after a restart');
    });
  });
}
