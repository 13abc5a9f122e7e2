import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { event, MIN, makeCase, rig, T0 } from './support.js';

const major = (id: string, raisedAt = T0) =>
  makeCase({ id, type: 'door_held_open', severity: 'major', latched: false, raisedAt, updatedAt: raisedAt });
const toWang = <T extends { request: { recipients: { id: string }[] } }>(sent: T[]): T[] =>
  sent.filter((s) => s.request.recipients.some((r) => r.id === 'wang'));

describe('escalation: noise control', () => {
  it('alarms of one community falling due together go out as one notification', async () => {
    const r = await rig();
    await r.engine.onCaseEvent(event('raised', major('g-a'), T0));
    await r.engine.onCaseEvent(event('raised', major('g-b'), T0));
    await r.advanceTo(T0 + MIN);
    assert.deepEqual(r.notifier.timeline(T0), [[0.5 / 60, 'warn', ['wang'], ['g-a', 'g-b']]]);
    assert.equal((await r.store.rows('g-b'))[0]?.outcome, 'grouped into g-a:1:0:0');
    await r.stop();
  });

  it('another alarm of the community within 60 s is folded into one notification at the end of the window', async () => {
    const r = await rig();
    await r.engine.onCaseEvent(event('raised', major('f-a'), T0));
    await r.advanceTo(T0 + 20_000);
    await r.engine.onCaseEvent(event('raised', major('f-b', T0 + 20_000), T0 + 20_000));
    await r.engine.onCaseEvent(event('raised', major('f-c', T0 + 30_000), T0 + 30_000));
    await r.advanceTo(T0 + 2 * MIN);
    assert.deepEqual(
      toWang(r.notifier.sent).map((s) => [s.at - T0, s.request.cases.map((c) => c.id), s.request.reason.en]),
      [
        [500, ['f-a'], 'new alarm'],
        [60_500, ['f-b', 'f-c'], 'several alarms in one community'],
      ],
    );
    await r.stop();
  });

  it('per-recipient rate limit: at most 6 in 10 min, the excess folded into the next one', async () => {
    const r = await rig();
    for (let k = 0; k < 8; k++) {
      const at = T0 + k * 70_000; // beyond the 60 s grouping window
      await r.advanceTo(at);
      await r.engine.onCaseEvent(event('raised', major(`rl-${k}`, at), at));
    }
    await r.advanceTo(T0 + 11 * MIN);
    const wang = toWang(r.notifier.sent).filter((s) => s.request.stage === 'warn');
    assert.deepEqual(
      wang.map((s) => s.request.cases.map((c) => c.id)),
      [['rl-0'], ['rl-1'], ['rl-2'], ['rl-3'], ['rl-4'], ['rl-5'], ['rl-6', 'rl-7']],
    );
    assert.equal(wang[6]?.at, T0 + 500 + 10 * MIN, 'when the first of the six leaves the window');
    await r.stop();
  });

  it('flood (≥ 10 new alarms in 10 min): one summary per site, and a fire still goes out at once', async () => {
    const r = await rig({ config: { noise: { groupWindowMs: 0, rateLimit: { max: 100 } } } });
    for (let k = 0; k < 11; k++) {
      const at = T0 + k * 30_000;
      await r.advanceTo(at);
      await r.engine.onCaseEvent(event('raised', major(`fl-${k}`, at), at));
    }
    const fireAt = T0 + 11 * 30_000;
    await r.advanceTo(fireAt);
    await r.engine.onCaseEvent(
      event('raised', makeCase({ id: 'fl-fire', raisedAt: fireAt, updatedAt: fireAt }), fireAt),
    );
    await r.advanceTo(fireAt + 1000);
    const firstTen = toWang(r.notifier.sent).map((s) => s.request.cases.map((c) => c.id).join('+'));
    assert.deepEqual(firstTen, [...Array.from({ length: 9 }, (_, k) => `fl-${k}`), 'fl-fire']);
    assert.equal(toWang(r.notifier.sent).at(-1)?.at, fireAt + 500, 'fire is never held back');
    await r.advanceTo(T0 + 9 * 30_000 + 500 + 5 * MIN);
    const summary = toWang(r.notifier.sent).at(-1);
    assert.deepEqual(
      summary?.request.cases.map((c) => c.id),
      ['fl-9', 'fl-10'],
    );
    assert.equal(summary?.request.reason.en, 'alarm flood: summary by site');
    assert.match(summary?.request.id ?? '', /^fold:wang:flood:pudong\/zhangjiang\/lane-100:/);
    await r.stop();
  });

  it('a folded alarm that was acknowledged meanwhile is left out of the folded notification', async () => {
    const r = await rig();
    await r.engine.onCaseEvent(event('raised', major('ak-a'), T0));
    await r.advanceTo(T0 + 10_000);
    const b = major('ak-b', T0 + 10_000);
    await r.engine.onCaseEvent(event('raised', b, T0 + 10_000));
    await r.advanceTo(T0 + 20_000);
    // ak-b's first step is 'always': it stays in the fold even when acked; ak-b closed → dropped.
    await r.engine.onCaseEvent(
      event('closed', { ...b, stage: 'closed', updatedAt: T0 + 20_000 }, T0 + 20_000),
    );
    await r.advanceTo(T0 + 2 * MIN);
    assert.deepEqual(
      toWang(r.notifier.sent).map((s) => s.request.cases.map((c) => c.id)),
      [['ak-a']],
    );
    await r.stop();
  });
});
