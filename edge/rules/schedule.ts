/**
 * Day/night windows for rules that apply only at certain hours (fire-lane occupancy at night).
 *
 * Local time is Asia/Shanghai, taken as a fixed UTC+8: China has not observed daylight saving time
 * since 1991, so no time-zone database is needed and the arithmetic stays exact and cheap.
 */
import { z } from 'zod';

const SHANGHAI_OFFSET_MS = 8 * 3_600_000; // UTC+8, no DST since 1991
const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

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

/** Local day index (days since 1970-01-01 local) of each holiday. */
const holidayCache = new WeakMap<readonly string[], Set<number>>();
function holidayDays(holidays: readonly string[]): Set<number> {
  let days = holidayCache.get(holidays);
  if (days === undefined) {
    days = new Set(holidays.map((date) => Math.floor(Date.parse(date) / DAY_MS)));
    holidayCache.set(holidays, days);
  }
  return days;
}

function minutesOf(time: string): number {
  return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
}

/** ISO weekday (1 = Monday) of a local day index counted from 1970-01-01, which was a Thursday. */
function isoWeekday(localDay: number): number {
  return ((((localDay + 3) % 7) + 7) % 7) + 1;
}

function startsOn(
  window: ScheduleWindow,
  localDay: number,
  holidays: ReadonlySet<number> | undefined,
): boolean {
  if (holidays?.has(localDay)) return false;
  return window.days === undefined || window.days.includes(isoWeekday(localDay));
}

/**
 * True when `epochMs` lies inside `window` (start inclusive, end exclusive). A window does not open
 * on a holiday (a night window that opened the evening before still runs past midnight).
 */
export function isInWindow(window: ScheduleWindow, epochMs: number, holidays?: readonly string[]): boolean {
  const off = holidays === undefined || holidays.length === 0 ? undefined : holidayDays(holidays);
  const local = epochMs + SHANGHAI_OFFSET_MS;
  const localDay = Math.floor(local / DAY_MS);
  const msOfDay = local - localDay * DAY_MS;
  const from = minutesOf(window.from) * MINUTE_MS;
  const to = minutesOf(window.to) * MINUTE_MS;
  if (from < to) return msOfDay >= from && msOfDay < to && startsOn(window, localDay, off);
  // Crosses midnight (or is the whole day when from === to): the part after midnight belongs to
  // the window that started the day before.
  if (msOfDay >= from) return startsOn(window, localDay, off);
  return msOfDay < to && startsOn(window, localDay - 1, off);
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
  const local = epochMs + SHANGHAI_OFFSET_MS;
  const dayStart = Math.floor(local / DAY_MS) * DAY_MS - SHANGHAI_OFFSET_MS;
  let next = Number.POSITIVE_INFINITY;
  for (const window of windows) {
    for (const time of [window.from, window.to]) {
      let edge = dayStart + minutesOf(time) * MINUTE_MS;
      if (edge <= epochMs) edge += DAY_MS;
      if (edge < next) next = edge;
    }
  }
  return next;
}
