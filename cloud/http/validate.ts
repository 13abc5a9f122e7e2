import type { z } from 'zod';
import { DoorstepError, formatPath } from '../../protocol/index.js';

/**
 * Parses `value` with a zod schema; on failure throws CLOUD_ERR_VALIDATION naming the first
 * offending field by its dotted path (`telemetry.ts[3]`, `gateway.site.town`). An unknown key is
 * named itself (`alarms[0].bogus`), not its parent object.
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix: string[] = [],
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue)
    throw new DoorstepError('CLOUD_ERR_VALIDATION', {
      field: prefix.join('.') || '(body)',
      reason: 'invalid',
    });
  const path: PropertyKey[] = [...prefix, ...issue.path];
  let reason = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path.push(issue.keys[0] ?? '');
    reason = 'unknown field';
  }
  const field = formatPath(path) || '(body)';
  throw new DoorstepError('CLOUD_ERR_VALIDATION', { field, reason });
}
