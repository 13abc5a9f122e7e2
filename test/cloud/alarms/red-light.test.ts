/**
 * The lifecycle and the escalation engine wired together on a virtual clock (issue 12 item 7): a
 * device that fails and recovers every hour for 7 days, with nobody acting, stays one case with
 * the right count and is red-lit (红灯, 浦东i党建 — docs/standards.md) at day 7: 督办, to the town lead
 * and the village head. Before, each re-trigger made a new case and restarted the clock, so such a
 * device was never red-lit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { LifecycleService } from '../../../cloud/alarms/lifecycle.js';
import { MAX_OCCURRENCE_HISTORY } from '../../../cloud/alarms/model.js';
import { MemoryAlarmCaseStore } from '../../../cloud/alarms/store/memory.js';
import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import { HOUR, MIN, rig, T0, VirtualTime } from '../escalation/support.js';
import { duty, seedRegistry, transition } from './helpers.js';

const DAY = 24 * HOUR;

async function world() {
  const registry = new MemoryCloudStore();
  await seedRegistry(registry);
  const time = new VirtualTime(T0);
  const cases = new MemoryAlarmCaseStore();
  const svc = new LifecycleService({
    cases,
    store: registry,
    clock: time.clock,
    log: pino({ level: 'silent' }),
  });
  // The engine reads the case-event log the lifecycle appends to; read here after each change so
  // the virtual clock never runs ahead of the plan (the cloud rings it through onAppend).
  const r = await rig({ time, tickMs: 10 * MIN, lifecycle: svc, events: cases });
  const apply = async (ts: Parameters<LifecycleService['applyTransitions']>[0]) => {
    await svc.applyTransitions(ts);
    await r.engine.readLog();
  };
  return { svc, r, apply };
}

const fault = (id: string, state: 'raised' | 'cleared', ts: number) =>
  transition(id, state, ts, { type: 'device_fault', severity: 'minor', value: ts });

describe('red light through the lifecycle', () => {
  it('a device failing and recovering every hour for 7 days is one case, counted, red-lit at day 7', async () => {
    const { svc, r, apply } = await world();
    for (let h = 0; h < 7 * 24; h++) {
      const at = T0 + h * HOUR;
      await r.advanceTo(at);
      await apply([fault(`f-${h}`, 'raised', at)]);
      await r.advanceTo(at + 30 * MIN);
      await apply([fault(`f-${h}`, 'cleared', at + 30 * MIN)]);
    }
    const before = r.notifier.sent.filter((s) => s.request.stage === 'supervise');
    assert.deepEqual(before, [], 'nothing red-lit before day 7');
    await r.advanceTo(T0 + 7 * DAY + 10 * MIN);

    const open = await svc.list('pudong', { open: true });
    assert.equal(open.length, 1, 'one case, not one per failure');
    const c = open[0]!;
    assert.equal(c.id, 'f-0');
    assert.equal(c.occurrence, 168);
    assert.equal(c.stage, 'supervise', '督办');
    assert.equal(c.occurrences?.length, MAX_OCCURRENCE_HISTORY);
    assert.deepEqual(c.occurrences?.at(-1), {
      alarm: 'f-167',
      raisedAt: T0 + 167 * HOUR,
      receivedAt: T0 + 167 * HOUR,
      clearedAt: T0 + 167 * HOUR + 30 * MIN,
      value: T0 + 167 * HOUR,
    });
    assert.equal(
      (await svc.audit('f-0')).filter((e) => e.action === 'retriggered').length,
      167,
      'the audit trail keeps every occurrence',
    );

    const red = r.notifier.sent.filter((s) => s.request.stage === 'supervise');
    assert.deepEqual(
      red.map((s) => [s.request.cases.map((x) => x.id), s.at - T0, s.request.recipients.map((x) => x.id)]),
      [[['f-0'], 7 * DAY, ['chen', 'xu']]],
      'at day 7, to the town lead and the village head',
    );
    assert.match(red[0]!.request.reason.zh, /红灯/);
    const stage = (await svc.audit('f-0')).find((e) => e.action === 'stage');
    assert.match(String(stage?.detail?.['reason']), /red light/);
    await r.stop();
  });

  it('an acknowledgement is activity: the red light waits 7 days from it', async () => {
    const { svc, r, apply } = await world();
    await apply([fault('g-0', 'raised', T0)]);
    await r.advanceTo(T0 + 2 * DAY);
    await svc.ack('g-0', duty);
    await r.engine.readLog();
    for (let d = 3; d <= 8; d++) {
      await r.advanceTo(T0 + d * DAY);
      await apply([fault(`g-${d}`, 'raised', T0 + d * DAY)]);
    }
    await r.advanceTo(T0 + 10 * DAY);
    const red = r.notifier.sent.filter((s) => s.request.stage === 'supervise');
    assert.deepEqual(
      red.map((s) => (s.at - T0) / DAY),
      [9],
    );
    assert.equal((await svc.get('g-0'))?.occurrence, 7);
    await r.stop();
  });
});

describe('the loop through the case-event log', () => {
  it('a re-occurrence, a shelving that lapses and a return to service reach escalation as log entries', async () => {
    const { svc, r, apply } = await world();
    const smoke = (id: string, state: 'raised' | 'cleared', ts: number) =>
      transition(id, state, ts, { type: 'smoke', severity: 'critical' });
    await apply([smoke('s-0', 'raised', T0)]);
    await r.advanceTo(T0 + MIN);
    await apply([smoke('s-0', 'cleared', T0 + MIN)]);
    // The condition again while its case is open: that case, one count higher, told once more.
    await apply([smoke('s-1', 'raised', T0 + 2 * MIN)]);
    await r.advanceTo(T0 + 3 * MIN);
    const ids = () => r.notifier.sent.map((s) => s.request.id);
    assert.ok(ids().includes('s-0:2:again:2'), `an 'again' notice: ${ids()}`);
    assert.match(
      r.notifier.sent.find((s) => s.request.id === 's-0:2:again:2')?.request.reason.zh ?? '',
      /再次报警（第2次）/,
    );
    // Shelved for an hour, still active and unacknowledged: announced again when it lapses.
    await svc.shelve('s-0', duty, { reason: 'detector cleaning', until: r.time.now + HOUR });
    await r.engine.readLog();
    const runs = async () => (await r.store.getCase('s-0'))?.run;
    assert.equal(await runs(), 1);
    await r.advanceTo(T0 + 3 * MIN + HOUR + 10 * MIN);
    assert.equal(await runs(), 2, 'the lapse restarted the policy');
    // Out of service, then returned to service: a `returned_to_service` entry restarts it again.
    await svc.outOfService('s-0', duty, { reason: 'detector replaced' });
    await r.engine.readLog();
    await svc.returnToService('s-0', duty);
    await r.engine.readLog();
    assert.equal(await runs(), 3, 'return to service restarted the policy');
    await r.stop();
  });
});
