import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hysteresis, hysteresisStep } from '../../../../edge/rules/operators/hysteresis.js';
import { bools, marbles } from './marbles.js';

describe('hysteresis', () => {
  it('rising: activates above the threshold and clears only below threshold − deadband', () => {
    marbles().run(({ cold, expectObservable }) => {
      const values = { a: 10, b: 21, c: 19, d: 17.9, e: 20.5 };
      const source = cold('a-b-c-d-e', values);
      expectObservable(source.pipe(hysteresis({ threshold: 20, deadband: 2, direction: 'rising' }))).toBe(
        'f-t---f-t',
        bools,
      );
    });
  });

  it('falling: activates below the threshold and clears above threshold + deadband', () => {
    marbles().run(({ cold, expectObservable }) => {
      const values = { a: 0.12, b: 0.09, c: 0.11, d: 0.13, e: 0.1 };
      const source = cold('a-b-c-d-e', values);
      expectObservable(
        source.pipe(hysteresis({ threshold: 0.1, deadband: 0.02, direction: 'falling' })),
      ).toBe('f-t---f--', bools);
    });
  });

  it('inclusive counts the threshold itself as crossed', () => {
    assert.equal(hysteresisStep(false, 20, { threshold: 20, direction: 'rising', inclusive: true }), true);
    assert.equal(hysteresisStep(false, 20, { threshold: 20, direction: 'rising' }), false);
    assert.equal(hysteresisStep(true, 20, { threshold: 20, direction: 'rising' }), false);
  });
});
