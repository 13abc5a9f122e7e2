/**
 * The closed loop's semantics in the escalation engine (issue 12 item 7), on a virtual clock:
 * a re-occurrence keeps its case's run (the clocks go on, the first step's people are told once
 * more); the red light (浦东i党建, docs/standards.md) is 7 days without activity and goes to the town
 * lead and the village head; shelving and out of service re-announce what is still active when
 * they end.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlarmCase } from '../../../cloud/alarms/contract.js';
import { event, HOUR, MIN, makeCase, rig, T0 } from './support.js';

const DAY = 24 * HOUR;
const duty = { id: 'zhou', name: 'zhou' };

describe('escalation: the loop (re-occurrence, red light, shelving lapse, return to service)', () => {
  it('a re-occurrence of an open case keeps its run: the first step is told once more, 提醒 is not put off', async () => {
    const r = await rig();
    const c = makeCase({ id: 'again-1' });
    await r.engine.onCaseEvent(event('raised', c, T0));
    await r.advanceTo(T0 + 2 * MIN);
    const again: AlarmCase = { ...c, occurrence: 2, updatedAt: T0 + 2 * MIN };
    await r.engine.onCaseEvent(event('retriggered', again, T0 + 2 * MIN));
    await r.engine.onCaseEvent(event('retriggered', again, T0 + 2 * MIN)); // a repeated event: once
    await r.advanceTo(T0 + 4 * MIN);
    assert.deepEqual(
      r.notifier.sent.map((s) => [s.request.id, s.request.reason.zh, s.request.recipients.map((x) => x.id)]),
      [
        ['again-1:2:0:0', '新警情', ['wang', 'zhou']],
        ['again-1:2:again:2', '再次报警（第2次）', ['wang', 'zhou']],
        // counted from the first 预警 (T0 + 0.5 s), not from the re-occurrence
        ['again-1:2:1:0', '未在3分钟内确认', ['chen']],
      ],
    );
    assert.equal(Math.round((r.notifier.sent[2]!.at - T0) / 1000), 181);
    assert.equal((await r.store.getCase('again-1'))?.run, 1, 'the run was not restarted');
    await r.stop();
  });

  it('red light: 7 idle days → town lead and village head, 督办; an ack puts it off, re-occurrences do not', async () => {
    const r = await rig({ tickMs: 10 * MIN });
    const idle = makeCase({ id: 'idle-1', type: 'device_fault', severity: 'minor', latched: false });
    const busy = makeCase({ id: 'busy-1', type: 'device_fault', severity: 'minor', latched: false });
    await r.engine.onCaseEvent(event('raised', idle, T0));
    await r.engine.onCaseEvent(event('raised', busy, T0));
    // Both keep occurring again every day; only `busy` is acknowledged, on day 3.
    for (let d = 1; d <= 9; d++) {
      await r.advanceTo(T0 + d * DAY);
      const at = T0 + d * DAY;
      await r.engine.onCaseEvent(event('retriggered', { ...idle, occurrence: d + 1, updatedAt: at }, at));
      const acked = d >= 3 ? { lastActivityAt: T0 + 3 * DAY } : {};
      await r.engine.onCaseEvent(
        event('retriggered', { ...busy, occurrence: d + 1, updatedAt: at, ...acked }, at),
      );
      if (d === 3)
        await r.engine.onCaseEvent(
          event(
            'acked',
            { ...busy, acked: true, ackedBy: duty, ackedAt: at, lastActivityAt: at, updatedAt: at + 1 },
            at,
          ),
        );
    }
    await r.advanceTo(T0 + 11 * DAY);
    const red = r.notifier.sent.filter((s) => s.request.stage === 'supervise');
    assert.deepEqual(
      red.map((s) => [s.request.cases[0]?.id, (s.at - T0) / DAY, s.request.recipients.map((x) => x.id)]),
      [
        ['idle-1', 7, ['chen', 'xu']],
        ['busy-1', 10, ['chen', 'xu']],
      ],
    );
    assert.match(red[0]!.request.reason.zh, /红灯/);
    // Unshelved on day 10.5 (a restart): red-lit once since the last activity is enough.
    const t = T0 + 10.5 * DAY;
    await r.engine.onCaseEvent(event('unshelved', { ...idle, occurrence: 10, updatedAt: t }, t));
    await r.advanceTo(T0 + 11.5 * DAY);
    assert.equal(r.notifier.sent.filter((s) => s.request.stage === 'supervise').length, 2);
    assert.match(
      (await r.store.rows('idle-1')).find((x) => x.id === 'idle-1:2:1:0:r2')?.outcome ?? '',
      /red-lit already/,
    );
    assert.deepEqual(
      r.stages.moves.map((m) => [m.caseId, m.stage, (m.at - T0) / DAY]),
      [
        ['idle-1', 'supervise', 7],
        ['busy-1', 'supervise', 10],
      ],
    );
    await r.stop();
  });

  it('shelving that lapses re-announces a still-active case; a re-shelved or settled one stays quiet', async () => {
    const r = await rig();
    const shelf = (_c: AlarmCase, until: number) => ({ until, by: duty, reason: 'works' });
    const active = makeCase({ id: 'sh-active' });
    const settled = makeCase({ id: 'sh-settled', community: 'lane-200' });
    const again = makeCase({ id: 'sh-again', severity: 'major', type: 'door_held_open' });
    for (const c of [active, settled, again]) await r.engine.onCaseEvent(event('raised', c, T0));
    await r.advanceTo(T0 + MIN);
    const sent = r.notifier.sent.length;
    const at = T0 + MIN;
    await r.engine.onCaseEvent(
      event('shelved', { ...active, shelved: shelf(active, T0 + HOUR), updatedAt: at }, at),
    );
    await r.engine.onCaseEvent(
      event('shelved', { ...settled, shelved: shelf(settled, T0 + HOUR), updatedAt: at }, at),
    );
    await r.engine.onCaseEvent(
      event('shelved', { ...again, shelved: shelf(again, T0 + HOUR), updatedAt: at }, at),
    );
    // Meanwhile: `settled` cleared and acknowledged; `again` shelved once more, to 2 h.
    const t = T0 + 30 * MIN;
    await r.engine.onCaseEvent(
      event(
        'acked',
        { ...settled, condition: 'cleared', acked: true, shelved: shelf(settled, T0 + HOUR), updatedAt: t },
        t,
      ),
    );
    await r.engine.onCaseEvent(
      event('shelved', { ...again, shelved: shelf(again, T0 + 2 * HOUR), updatedAt: t }, t),
    );
    await r.advanceTo(T0 + HOUR + MIN);
    // The engine reads the case as it is now through its snapshot: lapsed at its `until`. (The
    // settled case's acknowledged-but-not-closed reminder is its ack timeout, not an announcement.)
    assert.deepEqual(
      r.notifier.sent
        .slice(sent)
        .filter((s) => s.request.stage === 'warn')
        .map((s) => [s.request.id, Math.round((s.at - T0) / MIN)]),
      [['sh-active:2:0:0:r2', 60]],
    );
    const rows = await r.store.rows('sh-settled');
    assert.equal(rows.find((x) => x.kind === 'lapse')?.outcome, 'skipped: nothing active');
    assert.equal(
      (await r.store.rows('sh-again')).find((x) => x.id.includes(`lapse:${T0 + HOUR}`))?.outcome,
      'skipped: shelved',
    );
    await r.advanceTo(T0 + 2 * HOUR + MIN);
    assert.ok(
      r.notifier.sent.some((s) => s.request.id === 'sh-again:2:0:0:r2'),
      'announced again when its second shelving lapsed',
    );
    await r.stop();
  });

  it('return to service announces a still-active case again (a new run)', async () => {
    const r = await rig();
    const c = makeCase({ id: 'oos-1' });
    await r.engine.onCaseEvent(event('raised', c, T0));
    await r.advanceTo(T0 + MIN);
    const out = { ...c, outOfService: { by: duty, reason: 'detector replaced' }, updatedAt: T0 + MIN };
    await r.engine.onCaseEvent(event('out_of_service', out, T0 + MIN));
    await r.advanceTo(T0 + 10 * MIN);
    assert.equal(
      r.notifier.sent.filter((s) => s.request.stage === 'remind').length,
      0,
      'no 提醒 while out of service',
    );
    const back = event('returned_to_service', { ...c, updatedAt: T0 + 10 * MIN }, T0 + 10 * MIN);
    await r.engine.onCaseEvent(back);
    // The case-event log is read at least once: the same entry read again starts no further run.
    await r.engine.onCaseEvent(back);
    await r.advanceTo(T0 + 11 * MIN);
    assert.equal((await r.store.getCase('oos-1'))?.run, 2);
    assert.deepEqual(
      r.notifier.sent.map((s) => s.request.id),
      ['oos-1:2:0:0', 'oos-1:2:0:0:r2'],
    );
    await r.stop();
  });
});
