import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectivePolicies, Policy } from '../../../cloud/escalation/policy.js';
import { parseLocal } from '../../../common/time.js';
import { event, HOUR, MIN, makeCase, rig, T0 } from './support.js';

/** The default policies' timelines on a virtual clock: who is told when, and the stage moves. */
describe('escalation: default policy timelines', () => {
  it('critical (fire, gas high): community duty + town at once, town lead at 3 min, district 督办 at 30 min', async () => {
    const r = await rig();
    const c = makeCase({ id: 'fire-1' });
    await r.engine.onCaseEvent(event('raised', c, T0));
    await r.advanceTo(T0 + 3 * MIN - 500);
    // The first worker tick after T0 runs at T0 + 500 ms: both tiers at once, nothing more yet.
    assert.deepEqual(r.notifier.timeline(T0), [[0.5 / 60, 'warn', ['wang', 'zhou'], ['fire-1']]]);
    await r.advanceTo(T0 + 30 * MIN + 500);
    assert.deepEqual(
      r.notifier.timeline(T0).map((x) => [Math.round(x[0]), x[1], x[2]]),
      [
        [0, 'warn', ['wang', 'zhou']],
        [3, 'remind', ['chen']],
        [30, 'supervise', ['sun']],
      ],
    );
    assert.deepEqual(
      r.stages.moves.map((m) => [m.stage, (m.at - T0) / MIN]),
      // counted from the 预警's delivery at T0 + 500 ms
      [
        ['remind', 3 + 0.5 / 60],
        ['supervise', 30 + 0.5 / 60],
      ],
    );
    assert.deepEqual(
      r.notifier.sent.map((s) => s.request.id),
      ['fire-1:2:0:0', 'fire-1:2:1:0', 'fire-1:2:2:0'],
    );
    await r.stop();
  });

  it('major (fire door, lane, pressure): community duty, town at 10 min, district at 4 h', async () => {
    const r = await rig({ tickMs: 1000 });
    const c = makeCase({ id: 'door-1', type: 'door_held_open', severity: 'major' });
    await r.engine.onCaseEvent(event('raised', c, T0));
    await r.advanceTo(T0 + 4 * HOUR + 1000);
    assert.deepEqual(
      r.notifier.timeline(T0).map((x) => [Math.floor(x[0]), x[1], x[2]]),
      [
        [0, 'warn', ['wang']],
        [10, 'remind', ['zhou']],
        [240, 'supervise', ['sun']],
      ],
    );
    await r.stop();
  });

  it('minor (fault, offline, battery): maintenance in the daily digest, red light to town lead and village head after 7 idle days', async () => {
    const r = await rig({ tickMs: 60_000 });
    const c = makeCase({ id: 'bat-1', type: 'low_battery', severity: 'minor', latched: false });
    await r.engine.onCaseEvent(event('raised', c, T0));
    await r.advanceTo(T0 + 8 * 24 * HOUR);
    const digestAt = parseLocal('2025-06-03T08:30');
    assert.deepEqual(
      r.notifier.sent.map((s) => [
        s.at,
        s.request.stage,
        s.request.recipients.map((x) => x.id),
        s.request.reason.en,
      ]),
      [
        [digestAt, 'warn', ['ma'], 'daily digest'],
        [
          T0 + 7 * 24 * HOUR,
          'supervise',
          ['chen', 'xu'],
          'red light: 7 days without acknowledgement, feedback or progress',
        ],
      ],
    );
    await r.stop();
  });

  it('chattering points go to maintenance, never to duty staff', async () => {
    const r = await rig();
    await r.engine.onCaseEvent(
      event('raised', makeCase({ id: 'ch-1', type: 'chattering', severity: 'minor' }), T0),
    );
    await r.advanceTo(T0 + HOUR);
    assert.deepEqual(
      r.notifier.timeline(T0).map((x) => x[2]),
      [['ma']],
    );
    await r.stop();
  });

  it('test (walk-test) and info alarms are never escalated', async () => {
    const r = await rig();
    await r.engine.onCaseEvent(event('raised', makeCase({ test: true }), T0));
    await r.engine.onCaseEvent(event('raised', makeCase({ severity: 'info', type: 'maintenance' }), T0));
    await r.advanceTo(T0 + HOUR);
    assert.equal(r.notifier.sent.length, 0);
    assert.equal((await r.store.rows()).length, 0);
    await r.stop();
  });
});

describe('escalation: conditions, re-trigger, versions, windows, repeats', () => {
  it('not_acked steps are skipped after an ack; closing cancels the rest', async () => {
    const r = await rig();
    const c = makeCase({ id: 'gas-1', type: 'gas_high' });
    await r.engine.onCaseEvent(event('raised', c, T0));
    await r.advanceTo(T0 + MIN);
    const acked = {
      ...c,
      acked: true,
      ackedAt: T0 + MIN,
      ackedBy: { id: 'wang', name: 'wang' },
      updatedAt: T0 + MIN,
    };
    await r.engine.onCaseEvent(event('acked', acked, T0 + MIN));
    await r.advanceTo(T0 + 5 * MIN);
    assert.deepEqual(
      r.notifier.timeline(T0).map((x) => x[1]),
      ['warn'],
    );
    const rows = await r.store.rows('gas-1');
    assert.equal(rows.find((x) => x.id === 'gas-1:2:1:0')?.outcome, 'skipped: acked');
    const closed = { ...acked, stage: 'closed' as const, closedAt: T0 + 6 * MIN, updatedAt: T0 + 6 * MIN };
    await r.engine.onCaseEvent(event('closed', closed, T0 + 6 * MIN));
    await r.advanceTo(T0 + 2 * HOUR);
    assert.deepEqual(
      r.notifier.timeline(T0).map((x) => x[1]),
      ['warn'],
      'no 督办, no ack timeout after 办结',
    );
    assert.equal(
      (await r.store.rows('gas-1')).find((x) => x.id === 'gas-1:2:2:0')?.outcome,
      'cancelled: closed',
    );
    await r.stop();
  });

  it('shelved cases are not notified', async () => {
    const r = await rig();
    const c = makeCase({ id: 'sh-1' });
    await r.engine.onCaseEvent(event('raised', c, T0));
    await r.advanceTo(T0 + MIN);
    const shelved = {
      ...c,
      shelved: { until: T0 + HOUR, by: { id: 'zhou', name: 'zhou' }, reason: 'works' },
    };
    await r.engine.onCaseEvent(event('shelved', { ...shelved, updatedAt: T0 + MIN }, T0 + MIN));
    await r.advanceTo(T0 + 40 * MIN);
    assert.equal(r.notifier.sent.length, 1);
    assert.equal((await r.store.rows('sh-1')).find((x) => x.step === 1)?.outcome, 'skipped: shelved');
    await r.stop();
  });

  it('a re-triggered case stored before re-occurrences joined their case still restarts the policy on the new case', async () => {
    const r = await rig();
    const a = makeCase({ id: 'occ-1' });
    await r.engine.onCaseEvent(event('raised', a, T0));
    await r.advanceTo(T0 + 2 * MIN);
    const b = makeCase({
      id: 'occ-2',
      occurrence: 2,
      previousCase: 'occ-1',
      raisedAt: T0 + 2 * MIN,
      updatedAt: T0 + 2 * MIN,
    });
    await r.engine.onCaseEvent(event('retriggered', b, T0 + 2 * MIN));
    await r.engine.onCaseEvent(event('retriggered', b, T0 + 2 * MIN)); // a repeated event plans nothing twice
    await r.advanceTo(T0 + 6 * MIN);
    assert.deepEqual(
      r.notifier.sent.map((s) => [s.request.id, (s.at - T0) / MIN]),
      [
        ['occ-1:2:0:0', 0.5 / 60],
        ['occ-2:2:0:0', 2 + 0.5 / 60],
        // 提醒 counts from the delivered 预警 (the tick after the re-trigger), not from the raise
        ['occ-2:2:1:0', 5 + 0.5 / 60],
      ],
    );
    assert.match(
      (await r.store.rows('occ-1')).find((x) => x.step === 1)?.outcome ?? '',
      /cancelled: retriggered/,
    );
    await r.stop();
  });

  it('a case keeps the policy version it started with after a policy change', async () => {
    const v1 = Policy.parse({
      id: 'fire',
      version: 1,
      match: { severities: ['critical'] },
      steps: [
        { delayMs: 0, condition: 'always', stage: 'warn', targets: [{ kind: 'person', id: 'wang' }] },
        {
          delayMs: 5 * MIN,
          condition: 'not_acked',
          stage: 'remind',
          targets: [{ kind: 'person', id: 'chen' }],
        },
      ],
      deliveryFailure: { afterFailedSends: 2, fallback: [{ kind: 'person', id: 'dd' }] },
    });
    const v2 = Policy.parse({
      ...v1,
      version: 2,
      steps: [v1.steps[0], { ...v1.steps[1], delayMs: 2 * MIN, targets: [{ kind: 'person', id: 'sun' }] }],
    });
    const r = await rig({ policies: [v1] });
    await r.engine.onCaseEvent(event('raised', makeCase({ id: 'old' }), T0));
    await r.advanceTo(T0 + MIN);
    await r.engine.setPolicies([v2]);
    await r.engine.onCaseEvent(event('raised', makeCase({ id: 'new', raisedAt: T0 + MIN }), T0 + MIN));
    await assert.rejects(
      r.engine.setPolicies([{ ...v2, ackTimeoutMs: 1 }]),
      /CLOUD_ERR_ESCALATION_POLICY_CONFLICT|differs/,
    );
    await r.advanceTo(T0 + 10 * MIN);
    const reminders = r.notifier.sent.filter((s) => s.request.stage === 'remind');
    assert.deepEqual(
      reminders.map((s) => [s.request.id, s.request.recipients[0]?.id, (s.at - T0) / MIN]),
      [
        ['new:2:1:0', 'sun', 3 + 0.5 / 60],
        ['old:1:1:0', 'chen', 5 + 0.5 / 60],
      ],
    );
    await r.stop();
  });

  it('windows (Asia/Shanghai): skip outside, or defer to the opening', async () => {
    const step = (outside: 'skip' | 'defer') => ({
      delayMs: 0,
      condition: 'always' as const,
      stage: 'warn' as const,
      window: { from: '22:00', to: '06:00', outside },
      targets: [{ kind: 'person' as const, id: outside === 'skip' ? 'li' : 'zhou' }],
    });
    const policy = Policy.parse({
      id: 'night',
      version: 1,
      match: { severities: ['major'] },
      steps: [step('skip'), step('defer')],
      deliveryFailure: { afterFailedSends: 2, fallback: [{ kind: 'person', id: 'dd' }] },
    });
    const r = await rig({ policies: [policy], tickMs: 60_000 });
    await r.engine.onCaseEvent(
      event('raised', makeCase({ id: 'w-1', severity: 'major', type: 'pressure_low' }), T0),
    );
    await r.advanceTo(T0 + 24 * HOUR);
    assert.deepEqual(
      r.notifier.sent.map((s) => [s.request.recipients[0]?.id, s.at]),
      [['zhou', parseLocal('2025-06-02T22:00')]],
    );
    assert.equal((await r.store.rows('w-1'))[0]?.outcome, 'skipped: outside window');
    await r.stop();
  });

  it('repeats fire each time once, with their own ids', async () => {
    const policy = Policy.parse({
      ...effectivePolicies([]).find((p) => p.id === 'major'),
      id: 'repeating',
      steps: [
        {
          delayMs: 0,
          condition: 'not_acked',
          stage: 'warn',
          repeat: { times: 2, everyMs: 5 * MIN },
          targets: [{ kind: 'role', role: 'duty', tier: 'community' }],
        },
      ],
    });
    const r = await rig({ policies: [policy], config: { noise: { groupWindowMs: 0 } } });
    await r.engine.onCaseEvent(
      event('raised', makeCase({ id: 'rep', severity: 'major', type: 'gas_low' }), T0),
    );
    await r.advanceTo(T0 + HOUR);
    assert.deepEqual(
      r.notifier.sent.map((s) => [s.request.id, Math.round((s.at - T0) / MIN)]),
      [
        ['rep:2:0:0', 0],
        ['rep:2:0:1', 5],
        ['rep:2:0:2', 10],
      ],
    );
    await r.stop();
  });
});
