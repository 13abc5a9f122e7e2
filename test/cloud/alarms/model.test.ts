/**
 * The loop's rules as pure functions (cloud/alarms/model.ts, store/port.ts boardOrder): one case
 * per open condition with its occurrences, the red light's clock, shelving and out of service on
 * the condition, return to service, and the board's order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlarmCase } from '../../../cloud/alarms/contract.js';
import {
  ackCase,
  closeCase,
  feedbackCase,
  idleDue,
  idleSince,
  MAX_OCCURRENCE_HISTORY,
  outOfServiceCase,
  planNewCase,
  planReoccurrence,
  planTransition,
  reannounce,
  requestCase,
  returnToServiceCase,
  shelveCase,
  type TransitionContext,
} from '../../../cloud/alarms/model.js';
import { boardOrder } from '../../../cloud/alarms/store/port.js';
import { effectivePolicies, RED_LIGHT_MS } from '../../../cloud/escalation/policy.js';
import { isDoorstepError } from '../../../protocol/index.js';
import { duty, LANE, T0, transition } from './helpers.js';

const ctx = (now: number): TransitionContext => ({ site: LANE, offsetMs: 0, now });
const raise = (id: string, at: number, value?: number) =>
  transition(id, 'raised', at, value !== undefined ? { value } : {});

function opened(): AlarmCase {
  return planNewCase(raise('a-1', T0, 10), ctx(T0 + 100)).case;
}

describe('model: one case per open condition', () => {
  it('a re-occurrence is the same case: count + 1, history kept, active and unacknowledged again', () => {
    let c = opened();
    c = planTransition(c, transition('a-1', 'cleared', T0 + 1000), ctx(T0 + 1100))!.case;
    c = ackCase(c, duty, T0 + 2000, 'cmd-1').case;
    const again = planReoccurrence(c, raise('a-2', T0 + 3600_000, 20), ctx(T0 + 3600_100));
    assert.equal(again.case.id, 'a-1');
    assert.deepEqual(again.events, ['retriggered']);
    assert.equal(again.case.occurrence, 2);
    assert.equal(again.case.condition, 'active');
    assert.equal(again.case.clearedAt, undefined);
    assert.equal(again.case.acked, false, 'ISA-18.2: a new activation is unacknowledged');
    assert.equal(again.case.ackedBy, undefined);
    assert.equal(again.case.lastActivityAt, T0 + 2000, 'the acknowledgement stays the last activity');
    assert.equal(again.case.stage, 'warn', 'the stage goes on');
    assert.equal(again.case.receivedAt, T0 + 100, 'the case keeps its first receipt (board age)');
    assert.equal(again.case.value, 20);
    assert.deepEqual(again.case.occurrences, [
      { alarm: 'a-1', raisedAt: T0, receivedAt: T0 + 100, clearedAt: T0 + 1000, value: 10 },
      { alarm: 'a-2', raisedAt: T0 + 3600_000, receivedAt: T0 + 3600_100, value: 20 },
    ]);
    assert.equal(again.audit[0]?.action, 'retriggered');
    assert.equal(again.audit[0]?.detail?.['alarm'], 'a-2');
  });

  it('only the newest occurrence moves the condition; a late clear of an older one is history only', () => {
    let c = opened();
    c = planReoccurrence(c, raise('a-2', T0 + 5000), ctx(T0 + 5000)).case;
    const late = planTransition(c, transition('a-1', 'cleared', T0 + 1000), ctx(T0 + 6000))!;
    assert.equal(late.case.condition, 'active');
    assert.deepEqual(late.events, []);
    assert.equal(late.audit[0]?.action, 'cleared');
    assert.equal(late.case.occurrences?.[0]?.clearedAt, T0 + 1000);
    const now = planTransition(late.case, transition('a-2', 'cleared', T0 + 7000), ctx(T0 + 7000))!;
    assert.equal(now.case.condition, 'cleared');
    assert.deepEqual(now.events, ['cleared']);
  });

  it('a latched re-occurrence needs its reset again', () => {
    let c = planNewCase(transition('l-1', 'raised', T0, { latched: true }), ctx(T0)).case;
    c = planTransition(c, transition('l-1', 'cleared', T0 + 1), ctx(T0 + 1))!.case;
    c = planTransition(c, transition('l-1', 'reset', T0 + 2), ctx(T0 + 2))!.case;
    const again = planReoccurrence(c, transition('l-2', 'raised', T0 + 10, { latched: true }), ctx(T0 + 10));
    assert.equal(again.case.resetAt, undefined);
    assert.equal(again.case.condition, 'active');
  });

  it(`keeps the newest ${MAX_OCCURRENCE_HISTORY} occurrences in the case and counts them all`, () => {
    let c = opened();
    for (let i = 2; i <= MAX_OCCURRENCE_HISTORY + 20; i++)
      c = planReoccurrence(c, raise(`a-${i}`, T0 + i * 1000), ctx(T0 + i * 1000)).case;
    assert.equal(c.occurrence, MAX_OCCURRENCE_HISTORY + 20);
    assert.equal(c.occurrences?.length, MAX_OCCURRENCE_HISTORY);
    assert.equal(c.occurrences?.at(-1)?.alarm, `a-${MAX_OCCURRENCE_HISTORY + 20}`);
    assert.equal(c.occurrences?.[0]?.alarm, 'a-21');
  });

  it('a case stored before occurrences were kept gets its own alarm as the first entry', () => {
    const { occurrences: _drop, ...legacy } = opened();
    const again = planReoccurrence(legacy, raise('a-2', T0 + 1000), ctx(T0 + 1000));
    assert.deepEqual(
      again.case.occurrences?.map((o) => o.alarm),
      ['a-1', 'a-2'],
    );
  });
});

describe('model: shelving and out of service apply to the condition', () => {
  const closedShelved = (until: number, test = false): AlarmCase => {
    let c = planNewCase(transition('s-1', 'raised', T0, { test }), ctx(T0)).case;
    c = planTransition(c, transition('s-1', 'cleared', T0 + 1), ctx(T0 + 1))!.case;
    c = shelveCase(c, duty, T0 + 2, 'kitchen works', until).case;
    c = ackCase(c, duty, T0 + 3, 'cmd').case;
    c = feedbackCase(c, duty, T0 + 4, { cause: 'false_alarm', note: 'steam' }).case;
    return closeCase(c, duty, T0 + 5).case;
  };

  it('a new case of a condition whose shelving is still in force is shelved until the same end', () => {
    const until = T0 + 8 * 3600_000;
    const next = planNewCase(raise('s-2', T0 + 3600_000), ctx(T0 + 3600_000), closedShelved(until));
    assert.equal(next.case.shelved?.until, until);
    assert.equal(next.audit[0]?.detail?.['inherited'], 'shelved');
    const lapsed = planNewCase(raise('s-3', until + 1), ctx(until + 1), closedShelved(until));
    assert.equal(lapsed.case.shelved, undefined);
  });

  it('out of service carries over too; return to service ends it, audited, and only when it is out', () => {
    let c = opened();
    c = outOfServiceCase(c, duty, T0 + 10, 'detector replaced', undefined).case;
    const next = planNewCase(raise('o-2', T0 + 20), ctx(T0 + 20), { ...c, stage: 'closed' });
    assert.equal(next.case.outOfService?.reason, 'detector replaced');
    const back = returnToServiceCase(c, duty, T0 + 30);
    assert.equal(back.case.outOfService, undefined);
    assert.deepEqual(back.events, ['returned_to_service']);
    assert.equal(back.audit[0]?.action, 'return_to_service');
    assert.throws(
      () => returnToServiceCase(back.case, duty, T0 + 40),
      (e) => isDoorstepError(e, 'CLOUD_ERR_CASE_STATE'),
    );
  });

  it('when shelving or out of service ends, a case is announced again while active or unacknowledged', () => {
    const c = opened();
    assert.equal(reannounce(c), true, 'active');
    assert.equal(reannounce({ ...c, acked: true }), true, 'active, acknowledged');
    assert.equal(reannounce({ ...c, condition: 'latched', acked: true }), true, 'latched');
    assert.equal(reannounce({ ...c, condition: 'cleared' }), true, 'cleared, unacknowledged');
    assert.equal(reannounce({ ...c, condition: 'cleared', acked: true }), false, 'settled');
    assert.equal(reannounce({ ...c, stage: 'closed' }), false, 'closed');
  });
});

describe('model: the red light’s clock (浦东i党建: 7 days without activity)', () => {
  it('starts at the first receipt; acknowledgement, feedback and a reset request restart it; re-occurrences and silence do not', () => {
    let c = opened();
    assert.equal(idleSince(c), T0 + 100);
    c = planReoccurrence(c, raise('a-2', T0 + 5000), ctx(T0 + 5000)).case;
    assert.equal(idleSince(c), T0 + 100, 'a re-occurrence is not activity');
    c = requestCase(c, duty, T0 + 6000, 'silence', 'cmd-s').case;
    assert.equal(idleSince(c), T0 + 100, 'silencing the sounder is not progress');
    c = ackCase(c, duty, T0 + 7000, 'cmd-a').case;
    assert.equal(idleSince(c), T0 + 7000);
    c = feedbackCase(c, duty, T0 + 8000, { cause: 'real', note: 'leak fixed' }).case;
    assert.equal(idleSince(c), T0 + 8000);
    const latched = { ...c, latched: true, condition: 'latched' as const };
    assert.equal(idleSince(requestCase(latched, duty, T0 + 9000, 'reset', 'cmd-r').case), T0 + 9000);
    assert.equal(idleDue(c, RED_LIGHT_MS), T0 + 8000 + 7 * 86_400_000);
  });

  it('every default policy but chattering ends with the red light to the town lead and the village head', () => {
    for (const p of effectivePolicies([])) {
      const last = p.steps.at(-1)!;
      if (p.id === 'chattering') {
        assert.notEqual(last.condition, 'idle');
        continue;
      }
      assert.equal(last.condition, 'idle', p.id);
      assert.equal(last.delayMs, 7 * 86_400_000, p.id);
      assert.equal(last.stage, 'supervise', p.id);
      assert.deepEqual(
        last.targets,
        [
          { kind: 'role', role: 'lead', tier: 'town' },
          { kind: 'role', role: 'village_head', tier: 'community' },
        ],
        p.id,
      );
    }
  });
});

describe('board order: one row per open condition, severity, then stage, then age', () => {
  it('督办 above 提醒 above 预警 within a severity; severity first; newest receipt last', () => {
    const base = opened();
    const mk = (id: string, over: Partial<AlarmCase>): AlarmCase => ({ ...base, id, ...over });
    const cases = [
      mk('major-warn-new', { severity: 'major', stage: 'warn', receivedAt: T0 + 9000 }),
      mk('major-supervise-old', { severity: 'major', stage: 'supervise', receivedAt: T0 }),
      mk('major-remind', { severity: 'major', stage: 'remind', receivedAt: T0 + 5000 }),
      mk('minor-supervise', { severity: 'minor', stage: 'supervise', receivedAt: T0 }),
      mk('critical-warn', { severity: 'critical', stage: 'warn', receivedAt: T0 }),
      mk('major-warn-old', { severity: 'major', stage: 'warn', receivedAt: T0 + 1000 }),
    ];
    assert.deepEqual(
      cases.sort(boardOrder).map((c) => c.id),
      [
        'critical-warn',
        'major-supervise-old',
        'major-remind',
        'major-warn-new',
        'major-warn-old',
        'minor-supervise',
      ],
    );
  });
});
