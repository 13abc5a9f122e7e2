import { describe, it } from 'node:test';
import { onDelay } from '../../../../edge/rules/operators/delay.js';
import { bools, marbles } from './marbles.js';

describe('onDelay', () => {
  it('passes true only after it held for the delay; false passes at once', () => {
    const scheduler = marbles();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('f-t-f-t------f', bools);
      expectObservable(source.pipe(onDelay(4, scheduler))).toBe('f---------t--f', bools);
    });
  });

  it('a dip shorter than the delay restarts it', () => {
    const scheduler = marbles();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('t 2ms f t', bools);
      expectObservable(source.pipe(onDelay(5, scheduler))).toBe('- 2ms f 5ms t', bools);
    });
  });
});
