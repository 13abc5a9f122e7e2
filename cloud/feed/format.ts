import type { FeedMessage } from '../../protocol/feed.js';
import { formatSitePath } from '../../protocol/site.js';

/**
 * Fields shown first per kind, when present: what a duty officer scanning the stream needs to
 * tell events apart. Anything else scalar follows until the line budget runs out.
 */
const LEADING_FIELDS: Record<FeedMessage['kind'], readonly string[]> = {
  alarm: ['type', 'state', 'severity', 'device', 'point', 'value', 'test'],
  case: ['stage', 'state', 'type', 'location', 'device', 'id', 'assignee'],
  reading: ['device', 'point', 'value', 'unit', 'quality'],
  device: ['device', 'state', 'online', 'reason'],
  gateway: ['status', 'state', 'online', 'reason'],
};

const SUMMARY_BUDGET = 100;

/** `key=value …` for the scalar fields of `data`, leading fields first, at most ~100 characters. */
export function summarizeData(kind: FeedMessage['kind'], data: Record<string, unknown>): string {
  const keys = [...LEADING_FIELDS[kind].filter((k) => k in data), ...Object.keys(data).sort()];
  const parts: string[] = [];
  let length = 0;
  for (const key of new Set(keys)) {
    const value = data[key];
    if (
      value === null ||
      (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    )
      continue;
    const text = typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : String(value);
    const part = `${key}=${text}`;
    if (length + part.length > SUMMARY_BUDGET) {
      parts.push('…');
      break;
    }
    parts.push(part);
    length += part.length + 1;
  }
  return parts.join(' ');
}

/** One line per event: time (ISO, UTC), kind, site path, gateway, data summary. */
export function formatFeedLine(msg: FeedMessage): string {
  return [
    new Date(msg.ts).toISOString(),
    msg.kind.padEnd(7),
    formatSitePath(msg.site),
    msg.gateway,
    summarizeData(msg.kind, msg.data),
  ].join('  ');
}
