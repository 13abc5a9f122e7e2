import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { MemoryAlarmCaseStore } from '../../../cloud/alarms/store/memory.js';
import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import { isDoorstepError } from '../../../protocol/index.js';
import {
  duty,
  GARDEN,
  LANE,
  type LogView,
  lifecycle,
  PNG_1PX,
  seedRegistry,
  T0,
  transition,
} from './helpers.js';

describe('alarm lifecycle: transitions → cases', () => {
  let cases: MemoryAlarmCaseStore;
  let clock: { now: number };
  let svc: ReturnType<typeof lifecycle>['service'];
  let sink: LogView;
  beforeEach(async () => {
    const store = new MemoryCloudStore();
    await seedRegistry(store);
    cases = new MemoryAlarmCaseStore();
    clock = { now: T0 + 60_000 };
    ({ service: svc, sink } = lifecycle(cases, store, clock));
  });

  it('raise opens a case at 预警 with cloud time, site and location; clear and reset follow', async () => {
    await svc.applyTransitions([transition('alarm-0001', 'raised', T0 + 1500, { value: 7.5 })], {
      offsetMs: 1500,
    });
    const c = await svc.get('alarm-0001');
    assert.ok(c);
    assert.equal(c.stage, 'warn');
    assert.equal(c.condition, 'active');
    assert.equal(c.raisedAt, T0, 'gateway ts − applied offset');
    assert.deepEqual(c.site, LANE, 'from the registry when ingest gives no site');
    assert.equal(c.location, '3号楼2单元 楼道');
    assert.equal(c.dedupKey, 'gw-1/smoke-1/smoke');
    assert.equal(c.occurrence, 1);
    assert.equal(c.value, 7.5);
    await svc.applyTransitions([transition('alarm-0001', 'cleared', T0 + 9000)]);
    assert.equal((await svc.get('alarm-0001'))?.condition, 'cleared');
    assert.equal((await svc.get('alarm-0001'))?.clearedAt, T0 + 9000);
    assert.deepEqual(await sink.kinds(), ['raised', 'cleared']);
  });

  it('a latched alarm stays latched after it clears until the reset transition', async () => {
    const latched = { latched: true, type: 'gas_high', device: 'gas-1' };
    await svc.applyTransitions([
      transition('alarm-0002', 'raised', T0, latched),
      transition('alarm-0002', 'cleared', T0 + 1000, latched),
    ]);
    assert.equal((await svc.get('alarm-0002'))?.condition, 'latched');
    await svc.applyTransitions([transition('alarm-0002', 'reset', T0 + 2000, latched)]);
    const c = await svc.get('alarm-0002');
    assert.equal(c?.condition, 'cleared');
    assert.equal(c?.resetAt, T0 + 2000);
    assert.deepEqual(await sink.kinds(), ['raised', 'latched', 'reset']);
  });

  it('a new occurrence while the case is open is the same case, one count higher, unacknowledged again', async () => {
    await svc.applyTransitions([
      transition('alarm-0001', 'raised', T0),
      transition('alarm-0001', 'cleared', T0 + 1),
    ]);
    await svc.ack('alarm-0001', duty);
    await svc.applyTransitions([transition('alarm-0003', 'raised', T0 + 5000)]);
    assert.equal(await svc.get('alarm-0003'), undefined, 'no new row');
    const again = await svc.get('alarm-0001');
    assert.equal(again?.occurrence, 2);
    assert.equal(again?.condition, 'active');
    assert.equal(again?.acked, false, 'ISA-18.2: a new activation needs acknowledging');
    assert.equal(again?.lastActivityAt, clock.now, 'the earlier acknowledgement still counts as activity');
    assert.equal(again?.stage, 'warn');
    assert.deepEqual(await sink.kinds('alarm-0001'), ['raised', 'cleared', 'acked', 'retriggered']);
    await svc.applyTransitions([transition('alarm-0003', 'cleared', T0 + 6000)]);
    assert.equal((await svc.get('alarm-0001'))?.condition, 'cleared');
  });

  it('is idempotent by (alarm id, state): replays and duplicates change nothing and emit nothing', async () => {
    const raise = transition('alarm-0001', 'raised', T0);
    const clear = transition('alarm-0001', 'cleared', T0 + 1000);
    assert.equal((await svc.applyTransitions([raise, raise, clear])).length, 2);
    assert.equal((await svc.applyTransitions([raise, clear])).length, 0);
    assert.deepEqual(await sink.kinds(), ['raised', 'cleared']);
    assert.equal((await svc.audit('alarm-0001')).length, 2);
  });

  it('a clear that overtakes its raise still makes the case; the late raise only fixes the time', async () => {
    await svc.applyTransitions([transition('alarm-0004', 'cleared', T0 + 1000)]);
    assert.equal((await svc.get('alarm-0004'))?.condition, 'cleared');
    await svc.applyTransitions([transition('alarm-0004', 'raised', T0)]);
    const c = await svc.get('alarm-0004');
    assert.equal(c?.condition, 'cleared');
    assert.equal(c?.raisedAt, T0);
    assert.equal(c?.occurrence, 1);
  });

  it('walk-test alarms are suppressed: logged (the board shows them) as suppressed, never staged', async () => {
    await svc.applyTransitions([transition('alarm-0005', 'raised', T0, { test: true })]);
    assert.equal((await svc.get('alarm-0005'))?.suppressed, true);
    await svc.setStage('alarm-0005', 'remind', 'not acked in 3 min', T0 + 180_000);
    assert.equal((await svc.get('alarm-0005'))?.stage, 'warn');
    const events = await sink.events();
    assert.deepEqual(
      events.map((e) => [e.kind, e.case.suppressed]),
      [['raised', true]],
      'the escalation reader skips suppressed entries',
    );
  });

  it("ignores a gateway's transition for another gateway's case and unknown gateways", async () => {
    await svc.applyTransitions([transition('alarm-0001', 'raised', T0)]);
    await svc.applyTransitions([transition('alarm-0001', 'cleared', T0 + 1, { gateway: 'gw-2' })], {
      site: GARDEN,
    });
    assert.equal((await svc.get('alarm-0001'))?.condition, 'active');
    await svc.applyTransitions([transition('alarm-0099', 'raised', T0, { gateway: 'gw-unknown' })]);
    assert.equal(await svc.get('alarm-0099'), undefined);
  });

  it('setStage moves forward only, never reopens, and is audited as system', async () => {
    await svc.applyTransitions([transition('alarm-0001', 'raised', T0)]);
    await svc.setStage('alarm-0001', 'supervise', 'not acked in 10 min', T0 + 600_000);
    await svc.setStage('alarm-0001', 'remind', 'late timer', T0 + 600_001);
    assert.equal((await svc.get('alarm-0001'))?.stage, 'supervise');
    const audit = await svc.audit('alarm-0001');
    assert.deepEqual(audit.at(-1)?.actor, { kind: 'system', id: 'system', name: 'system' });
    assert.deepEqual(audit.at(-1)?.before, { stage: 'warn' });
    assert.deepEqual(audit.at(-1)?.after, { stage: 'supervise' });
    assert.equal(audit.at(-1)?.detail?.['reason'], 'not acked in 10 min');
    assert.deepEqual(await sink.kinds(), ['raised', 'stage']);
    await assert.rejects(svc.setStage('nope', 'remind', 'x', T0), (e) =>
      isDoorstepError(e, 'CLOUD_ERR_NOT_FOUND'),
    );
  });

  it('shelved and out-of-service cases do not escalate; shelving lapses at its end', async () => {
    await svc.applyTransitions([transition('alarm-0001', 'raised', T0)]);
    await svc.shelve('alarm-0001', duty, { reason: 'contractor on site', until: clock.now + 3600_000 });
    await svc.setStage('alarm-0001', 'remind', 'timer', clock.now + 1);
    assert.equal((await svc.get('alarm-0001'))?.stage, 'warn');
    clock.now += 3600_000;
    assert.equal((await svc.get('alarm-0001'))?.shelved, undefined, 'lapsed');
    await svc.setStage('alarm-0001', 'remind', 'timer', clock.now);
    assert.equal((await svc.get('alarm-0001'))?.stage, 'remind');
    await svc.outOfService('alarm-0001', duty, { reason: 'detector replaced' });
    await svc.setStage('alarm-0001', 'supervise', 'timer', clock.now);
    assert.equal((await svc.get('alarm-0001'))?.stage, 'remind');
    // ISA-18.2 return to service: escalates again, audited, told to the escalation engine.
    const back = await svc.returnToService('alarm-0001', duty);
    assert.equal(back.outOfService, undefined);
    assert.equal((await sink.kinds('alarm-0001')).at(-1), 'returned_to_service');
    assert.equal((await svc.audit('alarm-0001')).at(-1)?.action, 'return_to_service');
    await assert.rejects(svc.returnToService('alarm-0001', duty), (e) =>
      isDoorstepError(e, 'CLOUD_ERR_CASE_STATE'),
    );
    await svc.setStage('alarm-0001', 'supervise', 'timer', clock.now);
    assert.equal((await svc.get('alarm-0001'))?.stage, 'supervise');
  });
});

describe('alarm lifecycle: actions and the close preconditions', () => {
  let svc: ReturnType<typeof lifecycle>['service'];
  let cases: MemoryAlarmCaseStore;
  let clock: { now: number };
  beforeEach(async () => {
    const store = new MemoryCloudStore();
    await seedRegistry(store);
    cases = new MemoryAlarmCaseStore();
    clock = { now: T0 + 60_000 };
    ({ service: svc } = lifecycle(cases, store, clock));
    await svc.applyTransitions([transition('alarm-0001', 'raised', T0, { latched: true })]);
  });

  const refusal = (unmet: string) => (e: unknown) => {
    assert.ok(isDoorstepError(e, 'CLOUD_ERR_CASE_STATE'), String(e));
    assert.equal(e.details['unmet'], unmet);
    return true;
  };

  it('refuses each unmet precondition by name, then closes', async () => {
    await assert.rejects(
      svc.close('alarm-0001', duty),
      refusal('condition_active,not_acknowledged,no_feedback'),
    );
    await svc.applyTransitions([transition('alarm-0001', 'cleared', T0 + 1000, { latched: true })]);
    await assert.rejects(svc.close('alarm-0001', duty), /latched: reset it first/);
    await svc.applyTransitions([transition('alarm-0001', 'reset', T0 + 2000, { latched: true })]);
    await assert.rejects(svc.close('alarm-0001', duty), refusal('not_acknowledged,no_feedback'));
    await svc.ack('alarm-0001', duty);
    await assert.rejects(svc.close('alarm-0001', duty), refusal('no_feedback'));
    await svc.feedback('alarm-0001', duty, {
      cause: 'false_alarm',
      note: 'steam from the kitchen',
      photo: PNG_1PX,
    });
    const closed = await svc.close('alarm-0001', duty);
    assert.equal(closed.stage, 'closed');
    assert.deepEqual(closed.closedBy, { id: duty.id, name: duty.name });
    await assert.rejects(svc.close('alarm-0001', duty), refusal('closed'));
    await assert.rejects(svc.ack('alarm-0001', duty), /closed/);
    await svc.setStage('alarm-0001', 'supervise', 'late timer', clock.now);
    assert.equal((await svc.get('alarm-0001'))?.stage, 'closed', 'never reopened');
  });

  it('records who, when, from where and what changed for every action', async () => {
    clock.now = T0 + 90_000;
    await svc.ack('alarm-0001', duty);
    await svc.feedback('alarm-0001', duty, { cause: 'real', note: 'pan fire, put out', photo: PNG_1PX });
    const audit = await svc.audit('alarm-0001');
    const ack = audit.find((e) => e.action === 'ack');
    assert.deepEqual(ack?.actor, duty);
    assert.equal(ack?.at, T0 + 90_000);
    assert.deepEqual(ack?.before, { acked: false });
    assert.deepEqual(ack?.after, {
      acked: true,
      ackedBy: { id: 'u-duty', name: 'duty.li' },
      ackedAt: T0 + 90_000,
      lastActivityAt: T0 + 90_000,
    });
    const fb = audit.find((e) => e.action === 'feedback');
    assert.deepEqual(fb?.before, { stage: 'warn' });
    assert.equal(fb?.after?.['stage'], 'feedback');
    assert.equal((fb?.after?.['feedback'] as { note?: string } | undefined)?.note, 'pan fire, put out');
    assert.equal(await svc.photo('alarm-0001'), PNG_1PX);
    assert.equal((await svc.get('alarm-0001'))?.feedback?.photo, '/v1/cases/alarm-0001/photo');
  });

  it('ack, reset and silence queue downlink commands; reset needs a latched, not yet reset alarm', async () => {
    await svc.ack('alarm-0001', duty);
    await assert.rejects(svc.ack('alarm-0001', duty), /already acknowledged by duty.li/);
    await svc.reset('alarm-0001', duty);
    await svc.silence('alarm-0001', duty);
    const queued = await cases.pendingCommands('gw-1', 10);
    assert.deepEqual(
      queued.map((c) => [c.kind, c.device, c.type, c.alarm, c.by]),
      [
        ['ack', 'smoke-1', 'smoke', 'alarm-0001', 'duty.li'],
        ['reset', 'smoke-1', 'smoke', 'alarm-0001', 'duty.li'],
        ['silence', 'smoke-1', 'smoke', 'alarm-0001', 'duty.li'],
      ],
    );
    assert.equal((await svc.get('alarm-0001'))?.condition, 'active', 'the case waits for the edge');
    await svc.recordCommandResults('gw-1', [{ id: queued[1]!.id, ok: true, command: 'reset' }]);
    const trail = (await svc.audit('alarm-0001')).filter((e) => e.action === 'command_result');
    assert.deepEqual(trail[0]?.detail, { command: queued[1]!.id, kind: 'reset', ok: true });
    await svc.applyTransitions([
      transition('alarm-0002', 'raised', T0, { device: 'door-1', type: 'door_open' }),
    ]);
    await assert.rejects(svc.reset('alarm-0002', duty), /not a latched alarm/);
  });

  it('shelving is time-limited to 24 h with a reason; unshelve needs a shelved case', async () => {
    const limit = (e: unknown) =>
      isDoorstepError(e, 'CLOUD_ERR_VALIDATION') && e.details['field'] === 'until';
    await assert.rejects(
      svc.shelve('alarm-0001', duty, { reason: 'x', until: clock.now + 24 * 3600_000 + 1 }),
      limit,
    );
    await assert.rejects(svc.shelve('alarm-0001', duty, { reason: 'x', until: clock.now }), limit);
    await assert.rejects(svc.unshelve('alarm-0001', duty), /not shelved/);
    const shelved = await svc.shelve('alarm-0001', duty, {
      reason: 'drill',
      until: clock.now + 24 * 3600_000,
    });
    assert.equal(shelved.shelved?.reason, 'drill');
    await assert.rejects(
      svc.shelve('alarm-0001', duty, { reason: 'x', until: clock.now + 1000 }),
      /already shelved/,
    );
    assert.equal((await svc.unshelve('alarm-0001', duty)).shelved, undefined);
  });

  it('unknown cases are 404s', async () => {
    await assert.rejects(svc.ack('nope', duty), (e) => isDoorstepError(e, 'CLOUD_ERR_NOT_FOUND'));
  });
});
