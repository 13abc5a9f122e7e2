/**
 * Property tests of the compiled rule engine: (1) it agrees with a straightforward second-by-second
 * reference evaluation of threshold + deadband + on-delay + off-delay + latch on random reading
 * streams; (2) stopping it at a random instant and starting a new engine on the same SQLite state
 * changes nothing: on-delays resume at the right remaining time, no alarm is raised twice, a latched
 * alarm is never raised again.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { SqliteRuleStateStore } from '../../../edge/rules/engine/sqlite-store.js';
import { tempDir } from '../../support/tmp.js';
import { Clock, harness } from './harness.js';

const S = 1000;

interface Case {
  threshold: number;
  deadband: number;
  onS: number;
  offS: number;
  latched: boolean;
  /** value at each second, or null: no reading that second. */
  values: (number | null)[];
}

const caseArb = fc.record({
  threshold: fc.integer({ min: 3, max: 7 }),
  deadband: fc.integer({ min: 0, max: 2 }),
  onS: fc.constantFrom(0, 1, 2, 5),
  offS: fc.constantFrom(0, 1, 3),
  latched: fc.boolean(),
  values: fc.array(fc.option(fc.integer({ min: 0, max: 10 }), { nil: null, freq: 3 }), {
    minLength: 5,
    maxLength: 60,
  }),
});

type Phase = 'normal' | 'pending' | 'active' | 'clearing' | 'latched';

/**
 * The reference: phases stepped once per second, written from the definitions (ISA-18.2 §11.4).
 * A delay that ends at the very instant of a reading has ended before the reading is applied (the
 * condition held for the whole delay), so each second first settles the timers, then the reading.
 */
function reference(c: Case): string[] {
  const out: string[] = [];
  let cond = false;
  let phase = 'normal' as Phase;
  let since = 0;
  const settle = (t: number) => {
    for (let settled = false; !settled; ) {
      settled = true;
      const go = (next: Phase) => {
        phase = next;
        settled = false;
      };
      if (phase === 'normal' && cond) {
        since = t;
        go('pending');
      } else if (phase === 'pending' && !cond) go('normal');
      else if (phase === 'pending' && t - since >= c.onS) {
        out.push(`raised @${(since + c.onS) * S}`);
        go('active');
      } else if (phase === 'active' && !cond) {
        since = t;
        go('clearing');
      } else if (phase === 'clearing' && cond) go('active');
      else if (phase === 'clearing' && t - since >= c.offS) {
        out.push(`cleared @${(since + c.offS) * S}`);
        go(c.latched ? 'latched' : 'normal');
      }
    }
  };
  for (let t = 0; t < c.values.length + c.onS + c.offS + 2; t++) {
    settle(t);
    const v = c.values[t];
    if (v !== null && v !== undefined)
      cond = cond ? (c.deadband > 0 ? v >= c.threshold - c.deadband : v > c.threshold) : v > c.threshold;
    settle(t);
  }
  return out;
}

function overrides(c: Case) {
  return {
    site: {
      level_high: {
        kind: 'water_pressure',
        severity: 'major',
        when: [{ kind: 'above', point: 'level', threshold: c.threshold, deadband: c.deadband }],
        onDelayMs: c.onS * S,
        offDelayMs: c.offS * S,
        latched: c.latched,
      },
    },
  } as const;
}

const DEVICE = [{ id: 'p', kind: 'water_pressure' as const }];
const only = (lines: string[]) =>
  lines.filter((l) => l.includes('level_high')).map((l) => l.replace('p level_high ', ''));

describe('compiled rules against a reference evaluation (fast-check)', () => {
  it('agree on random reading streams', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const h = harness(DEVICE, { overrides: overrides(c) });
        try {
          c.values.forEach((v, t) => {
            if (v !== null) h.read(t * S, 'p', { level: v });
          });
          h.clock.advanceTo((c.values.length + c.onS + c.offS + 2) * S);
          assert.deepEqual(only(h.log()), reference(c));
        } finally {
          h.stop();
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('restart at a random instant (fast-check, SQLite state)', () => {
  const dir = tempDir('doorstep-rules-restart-');
  after(() => dir.dispose());
  let run = 0;

  it('resumes timers, keeps occurrence ids and never raises twice', () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), fc.integer({ min: 1, max: 999 }), (c, at, offset) => {
        const restartAt = (at % c.values.length) * S + offset; // between two seconds
        const file = `${dir.path}/rules-${run++}.db`;
        const end = (c.values.length + c.onS + c.offS + 2) * S;
        const first = harness(DEVICE, { overrides: overrides(c), store: new SqliteRuleStateStore(file) });
        const feed = (h: typeof first, from: number, to: number) =>
          c.values.forEach((v, t) => {
            if (v !== null && t * S >= from && t * S < to) h.read(t * S, 'p', { level: v });
          });
        try {
          feed(first, 0, restartAt);
          first.clock.advanceTo(restartAt);
        } finally {
          first.stop();
        }
        const second = harness(DEVICE, {
          overrides: overrides(c),
          store: new SqliteRuleStateStore(file),
          clock: new Clock(restartAt),
        });
        try {
          feed(second, restartAt, end);
          second.clock.advanceTo(end);
        } finally {
          second.stop();
        }
        const all = [...first.transitions, ...second.transitions].filter((t) => t.type === 'level_high');
        assert.deepEqual(
          all.map((t) => `${t.state} @${t.ts}`),
          reference(c),
        );
        // one occurrence: each cleared carries the id of the raise before it
        for (let i = 1; i < all.length; i++)
          if (all[i]!.state === 'cleared') assert.equal(all[i]!.id, all[i - 1]!.id);
        if (c.latched) assert.ok(all.filter((t) => t.state === 'raised').length <= 1, 'latched: raised once');
      }),
      { numRuns: 60 },
    );
  });
});
