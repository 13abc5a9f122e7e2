import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scheduleWindow } from '../../../../edge/rules/operators/schedule-window.js';
import { isInWindow, nextScheduleEdge } from '../../../../edge/rules/schedule.js';
import { bools, marbles } from './marbles.js';

// Virtual time 0 is 1970-01-01T00:00Z = 08:00 in Asia/Shanghai (UTC+8), a Thursday.
const HOUR = 3_600_000;

describe('scheduleWindow (Asia/Shanghai, UTC+8)', () => {
  it('passes the condition only inside the window and follows the window edges', () => {
    const scheduler = marbles();
    scheduler.run(({ hot, expectObservable }) => {
      // window 09:00–10:00 local = 1 h–2 h virtual; condition true from the start
      const condition = hot('t', bools);
      expectObservable(
        condition.pipe(scheduleWindow([{ from: '09:00', to: '10:00' }], scheduler)),
        '^ 180m !',
      ).toBe('f 59m 59.999s t 59m 59.999s f', bools);
    });
  });

  it('windows crossing midnight and weekday filters', () => {
    const night = { from: '22:00', to: '06:00' };
    const at = (localHour: number) => (localHour - 8) * HOUR; // Thursday local hours
    assert.equal(isInWindow(night, at(23)), true);
    assert.equal(isInWindow(night, at(24 + 5)), true); // Friday 05:00, window started Thursday
    assert.equal(isInWindow(night, at(24 + 6)), false);
    assert.equal(isInWindow(night, at(21)), false);
    const fridayNightsOnly = { ...night, days: [5] };
    assert.equal(isInWindow(fridayNightsOnly, at(23)), false); // Thursday 23:00
    assert.equal(isInWindow(fridayNightsOnly, at(24 + 23)), true); // Friday 23:00
    assert.equal(isInWindow(fridayNightsOnly, at(48 + 3)), true); // Saturday 03:00 belongs to Friday
    assert.equal(nextScheduleEdge([night], at(12)), at(22));
    assert.equal(nextScheduleEdge([night], at(22)), at(24 + 6));
  });
});
