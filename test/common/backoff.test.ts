import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  delayAfterFailuresMs,
  equalJitterMs,
  exponentialDelayMs,
  fullJitterMs,
  parseRetryAfter,
} from '../../common/backoff.js';

describe('common/backoff', () => {
  it('the exponential ceiling doubles from initialMs (or grows by factor) and stops at maxMs', () => {
    const p = { initialMs: 500, maxMs: 30_000 };
    assert.deepEqual(
      [0, 1, 2, 3, 6, 7, 100].map((s) => exponentialDelayMs(p, s)),
      [500, 1000, 2000, 4000, 30_000, 30_000, 30_000],
    );
    assert.equal(exponentialDelayMs({ ...p, factor: 3 }, 2), 4500);
    assert.equal(exponentialDelayMs(p, -4), 500, 'a negative step is the first');
    // Counted in failures: the first failure waits initialMs; 0 failures too (a fresh start).
    assert.deepEqual(
      [0, 1, 2, 3].map((f) => delayAfterFailuresMs(p, f)),
      [500, 500, 1000, 2000],
    );
    assert.equal(delayAfterFailuresMs({ initialMs: 1, maxMs: 1e12 }, 10_000), 2 ** 30, 'finite however many');
  });

  it('full jitter spans [0, ceiling], equal jitter [ceiling/2, ceiling]; random() out of range is clamped', () => {
    assert.equal(
      fullJitterMs(1000, () => 0),
      0,
    );
    assert.equal(
      fullJitterMs(1000, () => 0.25),
      250,
    );
    assert.equal(
      fullJitterMs(1000, () => 1),
      1000,
    );
    assert.equal(
      fullJitterMs(1000, () => 7),
      1000,
    );
    assert.equal(
      equalJitterMs(1000, () => 0),
      500,
    );
    assert.equal(
      equalJitterMs(1000, () => 0.5),
      750,
    );
    assert.equal(
      equalJitterMs(1000, () => -3),
      500,
    );
    for (let i = 0; i < 200; i++) {
      const f = fullJitterMs(800);
      const e = equalJitterMs(800);
      assert.ok(f >= 0 && f <= 800 && Number.isInteger(f));
      assert.ok(e >= 400 && e <= 800 && Number.isInteger(e));
    }
  });

  it('Retry-After: seconds or an HTTP-date (RFC 9110 §10.2.3); anything else is undefined', () => {
    const now = Date.parse('2026-03-01T00:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Sun, 01 Mar 2026 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Sat, 28 Feb 2026 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter(['1'], now), undefined);
  });
});
