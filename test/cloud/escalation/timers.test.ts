import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { event, HOUR, MIN, makeCase, rig, T0 } from './support.js';

/** Ack timeout (PagerDuty), re-alarm (ISA-18.2) and escalation on delivery failure (EdgeX). */
describe('escalation: ack timeout, re-alarm, delivery failure', () => {
  it('acked but not closed after 30 min: notified again, every 30 min until closed', async () => {
    const r = await rig({ tickMs: 1000 });
    const c = makeCase({ id: 'at-1', type: 'fire_confirmed' });
    await r.engine.onCaseEvent(event('raised', c, T0));
    await r.advanceTo(T0 + MIN);
    const acked = {
      ...c,
      acked: true,
      ackedAt: T0 + MIN,
      ackedBy: { id: 'wang', name: 'wang' },
      condition: 'cleared' as const, // cleared: the re-alarm stays quiet, only the ack timeout fires
      updatedAt: T0 + MIN,
    };
    await r.engine.onCaseEvent(event('acked', acked, T0 + MIN));
    await r.advanceTo(T0 + 62 * MIN);
    const again = r.notifier.sent.filter((s) => s.request.id.includes(':ack:'));
    assert.deepEqual(
      again.map((s) => [s.request.id, (s.at - T0) / MIN, s.request.recipients.map((x) => x.id)]),
      [
        ['at-1:2:ack:1', 31, ['wang', 'zhou']],
        ['at-1:2:ack:2', 61, ['wang', 'zhou']],
      ],
    );
    assert.equal(again[0]?.request.reason.en, 'acknowledged but not closed after 30 min');
    await r.engine.onCaseEvent(
      event('closed', { ...acked, stage: 'closed', updatedAt: T0 + 62 * MIN }, T0 + 62 * MIN),
    );
    await r.advanceTo(T0 + 3 * HOUR);
    assert.equal(r.notifier.sent.filter((s) => s.request.id.includes(':ack:')).length, 2);
    await r.stop();
  });

  it('re-alarm: acked but still active after 10 min → 提醒 again; a cleared alarm is not re-alarmed', async () => {
    const r = await rig({ tickMs: 1000 });
    const c = makeCase({ id: 'ra-1', type: 'gas_high' });
    await r.engine.onCaseEvent(event('raised', c, T0));
    const acked = {
      ...c,
      acked: true,
      ackedAt: T0 + 2 * MIN,
      ackedBy: { id: 'wang', name: 'wang' },
      updatedAt: T0 + 2 * MIN,
    };
    await r.engine.onCaseEvent(event('acked', acked, T0 + 2 * MIN));
    await r.advanceTo(T0 + 25 * MIN);
    const realarms = r.notifier.sent.filter((s) => s.request.id.includes(':realarm:'));
    assert.deepEqual(
      realarms.map((s) => [s.request.id, (s.at - T0) / MIN, s.request.stage]),
      [
        ['ra-1:2:realarm:1', 12, 'remind'],
        ['ra-1:2:realarm:2', 22, 'remind'],
      ],
    );
    assert.deepEqual(
      r.stages.moves.map((m) => [m.stage, (m.at - T0) / MIN]),
      [['remind', 12]],
    );
    const cleared = {
      ...acked,
      condition: 'cleared' as const,
      clearedAt: T0 + 25 * MIN,
      updatedAt: T0 + 25 * MIN,
    };
    await r.engine.onCaseEvent(event('cleared', cleared, T0 + 25 * MIN));
    await r.advanceTo(T0 + 33 * MIN);
    assert.equal(r.notifier.sent.filter((s) => s.request.id.includes(':realarm:')).length, 2);
    assert.equal(
      (await r.store.rows('ra-1')).find((x) => x.id === 'ra-1:2:realarm:3')?.outcome,
      'skipped: cleared',
    );
    await r.stop();
  });

  it('after 2 failed sends the fallback targets are notified at once, once', async () => {
    const r = await rig();
    r.notifier.failing.add('wang');
    r.notifier.failing.add('zhou');
    const c = makeCase({ id: 'df-1' });
    await r.engine.onCaseEvent(event('raised', c, T0));
    await r.advanceTo(T0 + 2 * MIN);
    // Each notification the first time it went out (the 预警 that reached nobody is also tried
    // again every 10 s: delivery.test.ts).
    const firstSends = r.notifier.sent.filter(
      (s, i, all) => all.findIndex((x) => x.request.id === s.request.id) === i,
    );
    assert.deepEqual(
      firstSends.map((s) => [s.request.id, s.request.recipients.map((x) => x.id), s.at - T0]),
      [
        ['df-1:2:0:0', ['wang', 'zhou'], 500],
        ['df-1:2:fallback', ['chen', 'dd'], 1000],
      ],
    );
    // Another failure later (the town lead step to chen succeeds; nothing fails again) → no second fallback.
    r.notifier.failing.add('chen');
    await r.advanceTo(T0 + 10 * MIN);
    assert.equal(r.notifier.sent.filter((s) => s.request.id.includes('fallback')).length, 1);
    await r.stop();
  });

  it('one failed send stays below the threshold: no fallback', async () => {
    const r = await rig();
    r.notifier.failing.add('wang');
    await r.engine.onCaseEvent(event('raised', makeCase({ id: 'df-2' }), T0));
    await r.advanceTo(T0 + 2 * MIN);
    assert.equal(r.notifier.sent.filter((s) => s.request.id.includes('fallback')).length, 0);
    await r.stop();
  });
});
