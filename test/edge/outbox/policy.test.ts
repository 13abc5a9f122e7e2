import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveOutboxConfig } from '../../../edge/outbox/config.js';
import { consecutiveRuns, thinningVictims, thinningWindow } from '../../../edge/outbox/policy.js';
import { isDoorstepError } from '../../../protocol/index.js';

const row = (seq: number, series: string | null) => ({ seq, series });

describe('outbox policy helpers', () => {
  it('thins each series separately, keeping the 1st of every N', () => {
    const window = [
      row(1, 'a'),
      row(2, 'b'),
      row(3, 'a'),
      row(4, 'b'),
      row(5, 'a'),
      row(6, 'b'),
      row(7, 'a'),
    ];
    assert.deepEqual(
      thinningVictims(window, 2).map((r) => r.seq),
      [3, 4, 7],
    );
    assert.deepEqual(
      thinningVictims(window, 3).map((r) => r.seq),
      [3, 4, 5, 6],
    );
    assert.deepEqual(thinningVictims(window, 1), []);
    assert.deepEqual(
      thinningVictims([row(1, null), row(2, null)], 2).map((r) => r.seq),
      [2],
    );
  });

  it('sizes the thinning window to free the rows needed', () => {
    assert.equal(thinningWindow(10, 2), 20);
    assert.equal(thinningWindow(10, 4), 14);
  });

  it('splits seqs into runs of consecutive integers', () => {
    assert.deepEqual(consecutiveRuns([7, 3, 4, 5, 9, 3]), [
      [3, 5],
      [7, 7],
      [9, 9],
    ]);
    assert.deepEqual(consecutiveRuns([]), []);
  });

  it('fills config defaults and rejects an alarm class that is not first', () => {
    const config = resolveOutboxConfig({ classes: { telemetry: { maxRows: 10 } } });
    assert.equal(config.classes.telemetry.maxRows, 10);
    assert.equal(config.classes.alarm.ttlMs, null);
    assert.equal(config.syncMode, 'full');
    assert.ok(Object.isFrozen(config.classes));
    assert.throws(
      () => resolveOutboxConfig({ classes: { alarm: { priority: 9 } } }),
      (e: unknown) => isDoorstepError(e, 'CFG_ERR_INVALID') && /classes\.alarm\.priority/.test(e.message),
    );
  });
});
