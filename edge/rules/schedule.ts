/**
 * Day/night windows for rules that apply only at certain hours (fire-lane occupancy at night).
 *
 * Local time is Asia/Shanghai; the arithmetic (fixed UTC+8, no DST since 1991) is common/time.ts,
 * the same the cloud's rosters and escalation windows use.
 */
import { z } from 'zod';
import { nextClockTime, windowAt } from '../../common/time.js';

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

/** True when `epochMs` lies inside `window` (start inclusive, end exclusive). */
export function isInWindow(window: ScheduleWindow, epochMs: number): boolean {
  return windowAt(window, epochMs) !== undefined;
}

/** True when no windows are given (always active) or `epochMs` lies inside any of them. */
export function isInSchedule(windows: readonly ScheduleWindow[] | undefined, epochMs: number): boolean {
  if (windows === undefined || windows.length === 0) return true;
  for (const window of windows) if (isInWindow(window, epochMs)) return true;
  return false;
}

/** The next instant after `epochMs` at which any window opens or closes (a day boundary at most). */
export function nextScheduleEdge(windows: readonly ScheduleWindow[], epochMs: number): number {
  return nextClockTime(
    windows.flatMap((w) => [w.from, w.to]),
    epochMs,
  );
}
