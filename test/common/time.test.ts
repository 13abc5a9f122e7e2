import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatLocal,
  localMidnight,
  localWeekday,
  nextClockTime,
  nextWindowStart,
  parseLocal,
  windowAt,
  windowEdges,
} from '../../common/time.js';
import { isInWindow, nextScheduleEdge } from '../../edge/rules/schedule.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('common/time (Asia/Shanghai, fixed UTC+8)', () => {
  it('local dates read and print as UTC+8 whatever the process time zone', () => {
    const t = parseLocal('2026-03-02T07:30'); // a Monday
    assert.equal(new Date(t).toISOString(), '2026-03-01T23:30:00.000Z');
    assert.equal(formatLocal(t), '2026-03-02T07:30+08:00');
    assert.equal(localMidnight(t), parseLocal('2026-03-02'));
    assert.equal(localWeekday(t), 1);
    assert.equal(localWeekday(parseLocal('2026-03-01T23:59')), 7);
    assert.ok(Number.isNaN(parseLocal('2026-3-2')));
  });

  it('an overnight window belongs to the day it starts on; from = to is the whole day', () => {
    const fridayNights = { from: '22:00', to: '06:00', days: [5] };
    const friday23 = parseLocal('2026-03-06T23:00');
    const saturday05 = parseLocal('2026-03-07T05:00');
    assert.deepEqual(windowAt(fridayNights, saturday05), {
      start: parseLocal('2026-03-06T22:00'),
      end: parseLocal('2026-03-07T06:00'),
    });
    assert.ok(windowAt(fridayNights, friday23));
    assert.equal(windowAt(fridayNights, parseLocal('2026-03-07T23:00')), undefined);
    assert.equal(windowAt(fridayNights, parseLocal('2026-03-06T05:00')), undefined, 'Thursday night');
    assert.ok(windowAt({ from: '08:00', to: '08:00' }, parseLocal('2026-03-06T07:59')));
    assert.equal(nextWindowStart(fridayNights, saturday05), parseLocal('2026-03-13T22:00'));
    assert.deepEqual(
      windowEdges({ from: '09:00', to: '17:00' }, parseLocal('2026-03-06'), parseLocal('2026-03-07')),
      [parseLocal('2026-03-06T09:00'), parseLocal('2026-03-06T17:00')],
    );
  });

  it('the gateway rules and the cloud rosters read the same windows the same way', () => {
    const windows = [
      { from: '22:00', to: '06:00', days: [5] },
      { from: '09:00', to: '10:00' },
      { from: '07:00', to: '07:00', days: [1, 3] },
    ];
    const start = parseLocal('2026-03-01');
    for (let t = start; t < start + 9 * 24 * HOUR; t += 17 * MIN)
      for (const w of windows)
        assert.equal(isInWindow(w, t), windowAt(w, t) !== undefined, `${formatLocal(t)}`);
  });

  it('the next clock time is strictly after now, at most a day ahead', () => {
    const t = parseLocal('2026-03-06T09:00');
    assert.equal(nextClockTime(['09:00', '10:00'], t), parseLocal('2026-03-06T10:00'));
    assert.equal(nextClockTime(['08:00'], t), parseLocal('2026-03-07T08:00'));
    assert.equal(nextClockTime([], t), Number.POSITIVE_INFINITY);
    assert.equal(nextScheduleEdge([{ from: '22:00', to: '06:00' }], t), parseLocal('2026-03-06T22:00'));
  });
});
