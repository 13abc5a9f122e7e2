import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nOfM } from '../../../../edge/rules/operators/n-of-m.js';
import { bools, marbles } from './marbles.js';

describe('nOfM', () => {
  it('is active when N of the last M samples are true', () => {
    const scheduler = marbles();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('t-f-t-f-f-f', bools);
      expectObservable(source.pipe(nOfM({ n: 2, m: 3, scheduler }))).toBe('f---t-f----', bools);
    });
  });

  it('with withinMs, old true samples age out without a new sample', () => {
    const scheduler = marbles();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('t-t', bools);
      // second true at 2 → active; the first (t=0) ages out at 10 → inactive
      expectObservable(source.pipe(nOfM({ n: 2, withinMs: 10, scheduler }))).toBe('f-t-------f', bools);
    });
  });

  it('refuses a filter without m or withinMs', () => {
    assert.throws(() => nOfM({ n: 2 }), RangeError);
  });
});
