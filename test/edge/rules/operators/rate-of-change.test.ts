import { describe, it } from 'node:test';
import { rateOfChange, ratePerSecond } from '../../../../edge/rules/operators/rate-of-change.js';
import { bools, marbles } from './marbles.js';

describe('rateOfChange', () => {
  it('computes units per second over the window', () => {
    const scheduler = marbles();
    scheduler.run(({ cold, expectObservable }) => {
      // samples 1 s apart: 0, 2, 6 → rates 0, 2, 3 (window 2 s keeps all three)
      const source = cold('a 999ms b 999ms c', { a: 0, b: 2, c: 6 });
      expectObservable(source.pipe(ratePerSecond(2000, scheduler))).toBe('a 999ms b 999ms c', {
        a: 0,
        b: 2,
        c: 3,
      });
    });
  });

  it('flags a rise faster than the limit and drops samples older than the window', () => {
    const scheduler = marbles();
    scheduler.run(({ cold, expectObservable }) => {
      // window 1 s: rates 0, 1, 5 (4 − (−1)... only b and c in window: (6−1)/1), then (6−6)/1 = 0
      const source = cold('a 999ms b 999ms c 999ms d', { a: 0, b: 1, c: 6, d: 6 });
      expectObservable(source.pipe(rateOfChange({ windowMs: 1000, above: 2, scheduler }))).toBe(
        'f 1999ms t 999ms f',
        bools,
      );
    });
  });

  it('below catches a fast fall', () => {
    const scheduler = marbles();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('a 999ms b', { a: 0.5, b: 0.2 });
      expectObservable(source.pipe(rateOfChange({ windowMs: 5000, below: -0.1, scheduler }))).toBe(
        'f 999ms t',
        bools,
      );
    });
  });
});
