import { describe, it } from 'node:test';
import { chattering } from '../../../../edge/rules/operators/chattering.js';
import { bools, marbles } from './marbles.js';

describe('chattering (ISA-18.2: ≥ 3 activations within 1 min)', () => {
  it('flags the third activation within the window and unflags when the oldest ages out', () => {
    const scheduler = marbles();
    scheduler.run(({ hot, expectObservable }) => {
      const condition = hot('t-f-t-f-t-f', bools);
      expectObservable(condition.pipe(chattering({ count: 3, windowMs: 20, scheduler })), '^ 30ms !').toBe(
        'f-------t-----------f',
        bools,
      );
    });
  });

  it('three activations spread over more than the window are not chattering', () => {
    const scheduler = marbles();
    scheduler.run(({ hot, expectObservable }) => {
      const condition = hot('t-f 10ms t-f 10ms t', bools);
      expectObservable(condition.pipe(chattering({ count: 3, windowMs: 20, scheduler }))).toBe('f', bools);
    });
  });
});
