import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectivePolicies, Policy } from '../../../cloud/escalation/policy.js';
import { event, MIN, makeCase, rig, T0 } from './support.js';

// Noise control shapes reminders and minor alarms; first notices of major and critical cases are
// never held (their own tests below). A minor alarm told to duty at once shows the shaping.
const minor = (id: string, raisedAt = T0) =>
  makeCase({ id, type: 'tamper', severity: 'minor', latched: false, raisedAt, updatedAt: raisedAt });
const major = (id: string, raisedAt = T0, type = 'gas_low') =>
  makeCase({ id, type, severity: 'major', latched: false, raisedAt, updatedAt: raisedAt });
const MINOR_NOW = Policy.parse({
  id: 'minor-now',
  version: 1,
  match: { severities: ['minor'] },
  steps: [
    {
      delayMs: 0,
      condition: 'always',
      stage: 'warn',
      targets: [{ kind: 'role', role: 'duty', tier: 'community' }],
    },
  ],
  deliveryFailure: { afterFailedSends: 2, fallback: [{ kind: 'role', role: 'duty', tier: 'town' }] },
});
const noisy = (config: Parameters<typeof rig>[0] = {}) =>
  rig({ ...config, policies: [MINOR_NOW, ...effectivePolicies([])] });
const toWang = <T extends { request: { recipients: { id: string }[] } }>(sent: T[]): T[] =>
  sent.filter((s) => s.request.recipients.some((r) => r.id === 'wang'));

describe('escalation: noise control', () => {
  it('alarms of one community falling due together go out as one notification', async () => {
    const r = await noisy();
    await r.engine.onCaseEvent(event('raised', minor('g-a'), T0));
    await r.engine.onCaseEvent(event('raised', minor('g-b'), T0));
    await r.advanceTo(T0 + MIN);
    assert.deepEqual(r.notifier.timeline(T0), [[0.5 / 60, 'warn', ['wang'], ['g-a', 'g-b']]]);
    assert.equal((await r.store.rows('g-b'))[0]?.outcome, 'grouped into g-a:1:0:0');
    await r.stop();
  });

  it('another alarm of the community within 60 s is folded into one notification at the end of the window', async () => {
    const r = await noisy();
    await r.engine.onCaseEvent(event('raised', minor('f-a'), T0));
    await r.advanceTo(T0 + 20_000);
    await r.engine.onCaseEvent(event('raised', minor('f-b', T0 + 20_000), T0 + 20_000));
    await r.engine.onCaseEvent(event('raised', minor('f-c', T0 + 30_000), T0 + 30_000));
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
    const r = await noisy();
    for (let k = 0; k < 8; k++) {
      const at = T0 + k * 70_000; // beyond the 60 s grouping window
      await r.advanceTo(at);
      await r.engine.onCaseEvent(event('raised', minor(`rl-${k}`, at), at));
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
    const r = await noisy({ config: { noise: { groupWindowMs: 0, rateLimit: { max: 100 } } } });
    for (let k = 0; k < 11; k++) {
      const at = T0 + k * 30_000;
      await r.advanceTo(at);
      await r.engine.onCaseEvent(event('raised', minor(`fl-${k}`, at), at));
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
    const r = await noisy();
    await r.engine.onCaseEvent(event('raised', minor('ak-a'), T0));
    await r.advanceTo(T0 + 10_000);
    const b = minor('ak-b', T0 + 10_000);
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

  it('the first notice of a major gas_low is never held: not by grouping, the rate limit or a flood', async () => {
    const r = await rig();
    // 12 gas_low cases in one community, 20 s apart: inside the 60 s group window, over the rate
    // limit (6 per 10 min) and over the flood figure (10 in 10 min).
    const raised: number[] = [];
    for (let k = 0; k < 12; k++) {
      const at = T0 + k * 20_000;
      await r.advanceTo(at);
      await r.engine.onCaseEvent(event('raised', major(`gl-${k}`, at), at));
      raised.push(at);
    }
    await r.advanceTo(T0 + 12 * 20_000);
    const firsts = toWang(r.notifier.sent).filter((s) => s.request.stage === 'warn');
    assert.deepEqual(
      firsts.map((s) => [
        s.request.cases.map((c) => c.id),
        s.at - (raised[Number(s.request.cases[0]!.id.slice(3))] ?? 0),
      ]),
      Array.from({ length: 12 }, (_, k) => [[`gl-${k}`], 500]),
      'each first notice left on the next tick (≤ 2 s), alone',
    );
    assert.ok(
      (await r.store.rows()).every((row) => row.kind !== 'fold'),
      'no first notice was folded into a later message',
    );
    await r.stop();
  });

  it('major cases falling due in one tick travel in one message (the group-wait); a later one goes at once', async () => {
    const r = await rig();
    await r.engine.onCaseEvent(event('raised', major('gw-a', T0, 'door_held_open'), T0));
    await r.advanceTo(T0 + 200);
    await r.engine.onCaseEvent(event('raised', major('gw-b', T0 + 200, 'fire_lane_occupied'), T0 + 200));
    await r.advanceTo(T0 + 5_000);
    await r.engine.onCaseEvent(event('raised', major('gw-c', T0 + 5_000, 'pressure_low'), T0 + 5_000));
    await r.advanceTo(T0 + 10_000);
    assert.deepEqual(
      toWang(r.notifier.sent).map((s) => [s.at - T0, s.request.cases.map((c) => c.id)]),
      [
        [500, ['gw-a', 'gw-b']],
        [5_500, ['gw-c']],
      ],
    );
    await r.stop();
  });

  it('reminders of major cases are still shaped: the rate limit folds the excess', async () => {
    const r = await rig({ config: { noise: { rateLimit: { max: 2, perMs: 30 * MIN }, groupWindowMs: 0 } } });
    for (let k = 0; k < 4; k++) {
      const at = T0 + k * 1_000;
      await r.advanceTo(at);
      await r.engine.onCaseEvent(event('raised', major(`rm-${k}`, at), at));
    }
    await r.advanceTo(T0 + 11 * MIN);
    // The town is told 10 min after each 预警 (提醒): two at once, the other two folded.
    const town = r.notifier.sent.filter(
      (s) => s.request.stage === 'remind' || s.request.id.startsWith('fold:'),
    );
    assert.equal(town.filter((s) => s.request.id.startsWith('fold:')).length, 0, 'folded ones wait for room');
    assert.equal(town.length, 2);
    await r.advanceTo(T0 + 45 * MIN);
    const folded = r.notifier.sent.filter((s) => s.request.id.startsWith('fold:zhou'));
    assert.deepEqual(
      folded.map((s) => s.request.cases.map((c) => c.id)),
      [['rm-2', 'rm-3']],
    );
    await r.stop();
  });
});
