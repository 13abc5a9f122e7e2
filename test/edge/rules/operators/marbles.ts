import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';

/** A TestScheduler asserting with node:assert; pass it to operators as their scheduler. */
export function marbles(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
}

export const bools = { t: true, f: false };
