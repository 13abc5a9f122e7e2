import { describe, it } from 'node:test';
import { staleAfter } from '../../../../edge/rules/operators/stale-after.js';
import { bools, marbles } from './marbles.js';

describe('staleAfter', () => {
  it('goes stale after a gap of T and fresh again on data', () => {
    const scheduler = marbles();
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot('-a-a--------a---', { a: 1 });
      expectObservable(source.pipe(staleAfter(5, scheduler)), '^ 15ms !').toBe('f-------t---f---', bools);
    });
  });

  it('a source that never emits is stale T after subscription', () => {
    const scheduler = marbles();
    scheduler.run(({ hot, expectObservable }) => {
      expectObservable(hot('-').pipe(staleAfter(3, scheduler)), '^ 9ms !').toBe('f--t', bools);
    });
  });
});
