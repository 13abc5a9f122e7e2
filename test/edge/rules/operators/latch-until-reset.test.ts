import { describe, it } from 'node:test';
import { latchUntilReset } from '../../../../edge/rules/operators/latch-until-reset.js';
import { bools, marbles } from './marbles.js';

describe('latchUntilReset', () => {
  it('stays true after the condition ends until a reset while the condition is false', () => {
    marbles().run(({ hot, expectObservable }) => {
      const condition = hot('f-t-f-----', bools);
      const reset = hot('------r---');
      expectObservable(condition.pipe(latchUntilReset(reset))).toBe('f-t---f---', bools);
    });
  });

  it('ignores a reset while the condition is still active', () => {
    marbles().run(({ hot, expectObservable }) => {
      const condition = hot('t---f---', bools);
      const reset = hot('--r-----');
      expectObservable(condition.pipe(latchUntilReset(reset))).toBe('t-------', bools);
    });
  });
});
