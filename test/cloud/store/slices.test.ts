import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inSlices, nextSliceSize, type SliceBounds } from '../../../cloud/store/common.js';

const BOUNDS: SliceBounds = { sliceMs: 10, start: 2_000, min: 500, max: 20_000 };

describe('background work in slices (cloud/store/common.ts)', () => {
  it('scales the next slice to take about sliceMs, within the bounds', () => {
    assert.equal(nextSliceSize(2_000, 20, BOUNDS), 1_000, 'twice too long: half the size');
    assert.equal(nextSliceSize(2_000, 5, BOUNDS), 4_000, 'half the time: twice the size');
    assert.equal(nextSliceSize(2_000, 400, BOUNDS), 500, 'never below min');
    assert.equal(nextSliceSize(2_000, 0, BOUNDS), 20_000, 'a slice too quick to time: max');
  });

  it('runs slices until one reports nothing left, and returns the total', async () => {
    let left = 5_500;
    const sizes: number[] = [];
    const total = await inSlices((size) => {
      sizes.push(size);
      if (left === 0) return -1;
      const n = Math.min(left, size);
      left -= n;
      return n;
    }, BOUNDS);
    assert.equal(total, 5_500);
    assert.equal(sizes[0], BOUNDS.start);
    assert.ok(sizes.every((s) => s >= BOUNDS.min && s <= BOUNDS.max));
  });

  it('waits while alarm-sized requests are in flight, and is never starved', async () => {
    const small = new Int32Array(new SharedArrayBuffer(4));
    Atomics.store(small, 0, 1);
    let steps = 0;
    let left = 2;
    const run = inSlices(
      () => {
        steps++;
        return left-- > 0 ? 1 : -1;
      },
      BOUNDS,
      { smallInFlight: small },
    );
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(steps, 0, 'no slice starts while an alarm is in flight');
    Atomics.store(small, 0, 0);
    Atomics.notify(small, 0);
    assert.equal(await run, 2);
    assert.equal(steps, 3);

    // An alarm count that never drops only delays each slice (SMALL_PAUSE_MS), never stops the work.
    Atomics.store(small, 0, 1);
    left = 1;
    assert.equal(await inSlices(() => (left-- > 0 ? 1 : -1), BOUNDS, { smallInFlight: small }), 1);
  });

  it('stops after the current slice once its signal is aborted', async () => {
    const stop = new AbortController();
    let steps = 0;
    const total = await inSlices(
      () => {
        if (++steps === 3) stop.abort();
        return 10; // endless work
      },
      BOUNDS,
      { signal: stop.signal },
    );
    assert.deepEqual([steps, total], [3, 30]);
  });
});
