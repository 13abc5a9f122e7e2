import { describe, it } from 'node:test';
import { offDelay } from '../../../../edge/rules/operators/delay.js';
import { bools, marbles } from './marbles.js';

describe('offDelay', () => {
  it('holds true through dips shorter than the delay', () => {
    const scheduler = marbles();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('t-f-t-f-----', bools);
      expectObservable(source.pipe(offDelay(4, scheduler))).toBe('t---------f-', bools);
    });
  });

  it('a value that starts false is passed on after the delay', () => {
    const scheduler = marbles();
    scheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold('f', bools).pipe(offDelay(3, scheduler))).toBe('---f', bools);
    });
  });
});
