import { describe, it } from 'node:test';
import { allOf, confirmedBy } from '../../../../edge/rules/operators/confirmed-by.js';
import { bools, marbles } from './marbles.js';

describe('confirmedBy / allOf (GB 50116-2013 §4.1.6)', () => {
  it('confirms when the second source rises within the window', () => {
    const scheduler = marbles();
    scheduler.run(({ hot, expectObservable }) => {
      const first = hot('t-----', bools);
      const second = hot('---t--', bools);
      expectObservable(first.pipe(confirmedBy(second, 5, scheduler))).toBe('f--t--', bools);
    });
  });

  it('does not confirm when the rising edges are further apart than the window', () => {
    const scheduler = marbles();
    scheduler.run(({ hot, expectObservable }) => {
      const first = hot('t---------', bools);
      const second = hot('--------t-', bools);
      expectObservable(allOf(first, second, 5, scheduler)).toBe('f---------', bools);
    });
  });

  it('drops when either source ends', () => {
    const scheduler = marbles();
    scheduler.run(({ hot, expectObservable }) => {
      const first = hot('t-----f', bools);
      const second = hot('-t-----', bools);
      expectObservable(allOf(first, second, 5, scheduler)).toBe('ft----f', bools);
    });
  });
});
