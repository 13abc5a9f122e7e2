/**
 * Escalation as a reader of the case-event log: the lifecycle only writes cases (and their log
 * entries, in the same transaction); the engine reads the log after its durable cursor. A plan
 * write that fails, a reader that dies holding the cursor, a cursor that could not be advanced —
 * none of them leaves a case without its plan, and none notifies twice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { LifecycleService } from '../../../cloud/alarms/lifecycle.js';
import { MemoryAlarmCaseStore } from '../../../cloud/alarms/store/memory.js';
import { MemoryEscalationStore } from '../../../cloud/escalation/store/memory.js';
import type { CaseState, PlanRow } from '../../../cloud/escalation/store/port.js';
import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import { seedRegistry, transition } from '../alarms/helpers.js';
import { RecordingNotifier, rig, T0, VirtualTime } from './support.js';

/** A plan store whose first `failures` plan writes fail, as a lost connection would. */
class FailingPlans extends MemoryEscalationStore {
  attempts = 0;
  constructor(private failures: number) {
    super();
  }
  override async plan(state: CaseState, rows: readonly PlanRow[], cancelOutcome?: string): Promise<void> {
    this.attempts++;
    if (this.failures-- > 0) throw new Error('injected: plan write failed');
    return super.plan(state, rows, cancelOutcome);
  }
}

async function world(time: VirtualTime) {
  const registry = new MemoryCloudStore();
  await seedRegistry(registry);
  const cases = new MemoryAlarmCaseStore();
  const lifecycle = new LifecycleService({
    cases,
    store: registry,
    clock: time.clock,
    log: pino({ level: 'silent' }),
  });
  return { cases, lifecycle };
}

/** Lets the reader's first (empty) round, started by engine.start(), finish. */
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('escalation reads the case-event log', () => {
  it('a failed plan write stops the cursor before the entry; the plan is made on the next read', async () => {
    const time = new VirtualTime(T0);
    const { cases, lifecycle } = await world(time);
    const store = new FailingPlans(1);
    const r = await rig({ time, store, events: cases });
    await settle();
    try {
      await lifecycle.applyTransitions([transition('smoke-a', 'raised', T0)]);
      await assert.rejects(r.engine.readLog(), /injected: plan write failed/);
      assert.deepEqual(await store.rows('smoke-a'), [], 'no plan yet');
      // The cursor stayed before the entry (a takeover would start there too).
      assert.equal((await cases.leaseCursor('escalation', r.engine.workerId, time.now, 6_000))?.seq, 0);
      assert.equal(await r.engine.readLog(), 1);
      assert.equal(store.attempts, 2);
      assert.ok((await store.rows('smoke-a')).length > 0, 'the plan exists');
      await r.advanceTo(T0 + 1_000);
      assert.deepEqual(
        r.notifier.sent.map((s) => [s.request.stage, s.request.cases.map((c) => c.id)]),
        [['warn', ['smoke-a']]],
      );
    } finally {
      await r.stop();
    }
  });

  it("a dead reader's cursor is taken over when its lease lapses; the case it left is planned once", async () => {
    const time = new VirtualTime(T0);
    const { cases, lifecycle } = await world(time);
    const store = new MemoryEscalationStore();
    const notifier = new RecordingNotifier(time.clock);
    const a = await rig({ time, store, notifier, events: cases, workerId: 'a' });
    const b = await rig({ time, store, notifier, events: cases, workerId: 'b' });
    await settle();
    try {
      // Whoever took the cursor first, a holds it from here (b's rounds are refused while a lives).
      await a.engine.stop();
      await a.engine.start();
      await settle();
      assert.ok(await cases.leaseCursor('escalation', 'a', time.now, 6_000), 'a holds the cursor');
      await lifecycle.applyTransitions([transition('smoke-b', 'raised', T0)]);
      // a dies here: it never reads again (its loop is parked, nothing stops it cleanly).
      assert.equal(await b.engine.readLog(), 0, 'b waits while the lease lives');
      time.now += 6_500;
      assert.equal(await b.engine.readLog(), 1, 'b continues from the cursor a left');
      await b.advanceTo(time.now + 1_000);
      assert.deepEqual(
        notifier.sent.map((s) => s.request.cases.map((c) => c.id)),
        [['smoke-b']],
      );
    } finally {
      await b.stop();
    }
  });

  it('an entry handled but not yet acknowledged (cursor write failed) is read again without a second plan or notice', async () => {
    const time = new VirtualTime(T0);
    const { cases, lifecycle } = await world(time);
    let failAdvance = 1;
    const flaky = new Proxy(cases, {
      get(target, prop) {
        if (prop === 'advanceCursor')
          return async (...args: Parameters<MemoryAlarmCaseStore['advanceCursor']>) => {
            if (failAdvance-- > 0) throw new Error('injected: cursor write failed');
            return target.advanceCursor(...args);
          };
        const value = (target as unknown as Record<PropertyKey, unknown>)[prop];
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const store = new MemoryEscalationStore();
    const r = await rig({ time, store, events: flaky });
    await settle();
    try {
      await lifecycle.applyTransitions([transition('smoke-c', 'raised', T0)]);
      await assert.rejects(r.engine.readLog(), /cursor write failed/);
      const plan = async () => (await store.rows('smoke-c')).map((x) => [x.id, x.dueAt, x.run]);
      const planned = await plan();
      assert.ok(planned.length > 0, 'the plan was made before the cursor write failed');
      assert.equal(await r.engine.readLog(), 1, 'read again');
      assert.deepEqual(await plan(), planned, 'the same plan, nothing added');
      await r.advanceTo(T0 + 5_000);
      assert.equal(r.notifier.sent.length, 1, 'one notice');
    } finally {
      await r.stop();
    }
  });

  it('walk-test cases are in the log but never planned', async () => {
    const time = new VirtualTime(T0);
    const { cases, lifecycle } = await world(time);
    const store = new MemoryEscalationStore();
    const r = await rig({ time, store, events: cases });
    await settle();
    try {
      await lifecycle.applyTransitions([transition('walk-1', 'raised', T0, { test: true })]);
      assert.equal(await r.engine.readLog(), 1);
      assert.deepEqual(await store.rows('walk-1'), []);
    } finally {
      await r.stop();
    }
  });
});
