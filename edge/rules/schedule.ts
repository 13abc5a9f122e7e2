/**
 * Day/night windows for rules that apply only at certain hours (fire-lane occupancy at night).
 *
 * Local time is Asia/Shanghai; the arithmetic (fixed UTC+8, no DST since 1991) is common/time.ts,
 * the same the cloud's rosters and escalation windows use.
 */
import { z } from 'zod';
import { formatLocal, nextClockTime, windowAt } from '../../common/time.js';

export const TimeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h, Asia/Shanghai)');

/**
 * A window from `from` to `to` local time; `to` earlier than `from` crosses midnight, `from` equal
 * to `to` is the whole day. `days` (ISO weekdays, 1 = Monday … 7 = Sunday) name the day the window
 * starts on; omitted means every day.
 */
export const ScheduleWindow = z.object({
  from: TimeOfDay,
  to: TimeOfDay,
  days: z.array(z.number().int().min(1).max(7)).min(1).optional(),
});
export type ScheduleWindow = z.infer<typeof ScheduleWindow>;

/** A local (Asia/Shanghai) calendar date on which no window opens: public holidays. */
export const HolidayDate = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'must be a date YYYY-MM-DD (Asia/Shanghai)')
  .refine((date) => {
    const ms = Date.parse(date);
    return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === date;
  }, 'is not a calendar date');

/** The holiday list as a set, made once per list (rules hold their list for their lifetime). */
const holidaySets = new WeakMap<readonly string[], ReadonlySet<string>>();
function holidaySet(holidays: readonly string[]): ReadonlySet<string> {
  let set = holidaySets.get(holidays);
  if (set === undefined) {
    set = new Set(holidays);
    holidaySets.set(holidays, set);
  }
  return set;
}

/**
 * True when `epochMs` lies inside `window` (start inclusive, end exclusive). A window does not open
 * on a holiday (a night window that opened the evening before still runs past midnight).
 */
export function isInWindow(window: ScheduleWindow, epochMs: number, holidays?: readonly string[]): boolean {
  const occurrence = windowAt(window, epochMs);
  if (occurrence === undefined) return false;
  if (holidays === undefined || holidays.length === 0) return true;
  // The local date the window opened on: YYYY-MM-DD of its start, Asia/Shanghai.
  return !holidaySet(holidays).has(formatLocal(occurrence.start).slice(0, 10));
}

/** True when no windows are given (always active) or `epochMs` lies inside any of them. */
export function isInSchedule(
  windows: readonly ScheduleWindow[] | undefined,
  epochMs: number,
  holidays?: readonly string[],
): boolean {
  if (windows === undefined || windows.length === 0) return true;
  for (const window of windows) if (isInWindow(window, epochMs, holidays)) return true;
  return false;
}

/**
 * The next instant after `epochMs` at which any window may open or close (a day boundary at most;
 * on a holiday or a day a window skips nothing changes there, and the caller just looks again).
 */
export function nextScheduleEdge(windows: readonly ScheduleWindow[], epochMs: number): number {
  return nextClockTime(
    windows.flatMap((w) => [w.from, w.to]),
    epochMs,
  );
}
