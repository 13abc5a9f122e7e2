/**
 * Wall-clock arithmetic in Asia/Shanghai. China Standard Time is a fixed UTC+8 with no daylight
 * saving since 1991 (IANA tzdata `Asia/Shanghai`), so a constant offset is exact for every date we
 * schedule, there is no DST gap or fold to handle, and no time-zone database is needed. Every roster
 * hour, policy window, digest time (cloud/escalation) and rule schedule window (edge/rules) is
 * Shanghai local time.
 */
export const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** `HH:MM` (00:00–23:59; `24:00` is accepted as the end of a day). */
export const HHMM_PATTERN = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;

/** Minutes after local midnight of an `HH:MM` string (validated beforehand). */
export function minuteOfDay(hhmm: string): number {
  const [h = '0', m = '0'] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/** Epoch ms of the Shanghai-local midnight that starts the local day containing `t`. */
export function localMidnight(t: number): number {
  const local = t + SHANGHAI_OFFSET_MS;
  return local - (((local % DAY) + DAY) % DAY) - SHANGHAI_OFFSET_MS;
}

/** ISO weekday of the Shanghai-local day containing `t`: Monday 1 … Sunday 7 (ISO 8601). */
export function localWeekday(t: number): number {
  const dow = new Date(t + SHANGHAI_OFFSET_MS).getUTCDay();
  return dow === 0 ? 7 : dow;
}

/** `YYYY-MM-DD` (+ optional `THH:MM`) read as Shanghai local time → epoch ms. */
export function parseLocal(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?$/.exec(text);
  if (!m) return Number.NaN;
  const [, y, mo, d, h = '0', mi = '0'] = m;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi));
  return utc - SHANGHAI_OFFSET_MS;
}

/** Epoch ms → `YYYY-MM-DDTHH:MM+08:00`, for API answers people read. */
export function formatLocal(t: number): string {
  const d = new Date(t + SHANGHAI_OFFSET_MS);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}+08:00`;
}

/**
 * The next instant strictly after `t` at which the local clock shows any of the `HH:MM` times (at
 * most a day ahead); +Infinity when none is given. Used to wake up exactly at window edges.
 */
export function nextClockTime(times: readonly string[], t: number): number {
  const day = localMidnight(t);
  let next = Number.POSITIVE_INFINITY;
  for (const time of times) {
    let at = day + minuteOfDay(time) * MINUTE;
    if (at <= t) at += DAY;
    if (at < next) next = at;
  }
  return next;
}

/** A daily window `from`–`to` (local; `to` ≤ `from` means it runs past midnight), on ISO `days`. */
export interface DailyWindow {
  from: string;
  to: string;
  days?: number[] | undefined;
}

/**
 * The [start, end) of the window occurrence containing `t`, or undefined outside the window. `days`
 * name the day an occurrence starts on: the part of an overnight window after midnight belongs to
 * the day before.
 */
export function windowAt(w: DailyWindow, t: number): { start: number; end: number } | undefined {
  const day = localMidnight(t);
  for (const base of [day - DAY, day]) {
    const occ = occurrence(w, base);
    if (occ && occ.start <= t && t < occ.end) return occ;
  }
  return undefined;
}

/** The first window occurrence starting at or after `t` (searching 8 days ahead). */
export function nextWindowStart(w: DailyWindow, t: number): number | undefined {
  const day = localMidnight(t);
  for (let i = 0; i <= 8; i++) {
    const occ = occurrence(w, day + i * DAY);
    if (occ && occ.start >= t) return occ.start;
  }
  return undefined;
}

/** Every window edge (start and end) in [from, to], ascending. */
export function windowEdges(w: DailyWindow, from: number, to: number): number[] {
  const edges: number[] = [];
  for (let base = localMidnight(from) - DAY; base <= to; base += DAY) {
    const occ = occurrence(w, base);
    if (!occ) continue;
    for (const e of [occ.start, occ.end]) if (e >= from && e <= to) edges.push(e);
  }
  return edges.sort((a, b) => a - b);
}

function occurrence(w: DailyWindow, dayStart: number): { start: number; end: number } | undefined {
  if (w.days && !w.days.includes(localWeekday(dayStart))) return undefined;
  const from = minuteOfDay(w.from);
  const to = minuteOfDay(w.to);
  const start = dayStart + from * MINUTE;
  // from === to: the whole day (24 h); to < from: overnight, ends the next local day.
  const end = to > from ? dayStart + to * MINUTE : dayStart + DAY + to * MINUTE;
  return { start, end };
}
