/**
 * SQL both adapters share: the health and rollup upserts, whose CASE expressions are the SQL form
 * of health.ts and rollup-fold.ts (fields only move forward in time; buckets merge associatively).
 * SQLite (≥ 3.35) and PostgreSQL accept the same ON CONFLICT … DO UPDATE text; only the placeholders
 * (`?` vs `$n`) and min/max (`min(a,b)` vs `LEAST(a,b)`) differ, given by `dialect`.
 */
export interface Dialect {
  /** Placeholder for the n-th (1-based) parameter. */
  p(n: number): string;
  least: string;
  greatest: string;
}

export const SQLITE_DIALECT: Dialect = { p: () => '?', least: 'min', greatest: 'max' };
export const POSTGRES_DIALECT: Dialect = { p: (n) => `$${n}`, least: 'LEAST', greatest: 'GREATEST' };

/** excluded.ts is newer than (or as new as) the stored one, and present. */
const newer = (t: string, ts: string) =>
  `(excluded.${ts} IS NOT NULL AND (${t}.${ts} IS NULL OR excluded.${ts} >= ${t}.${ts}))`;
const pick = (t: string, cond: string, col: string) =>
  `${col} = CASE WHEN ${cond} THEN excluded.${col} ELSE ${t}.${col} END`;
const maxOf = (t: string, col: string) =>
  `${col} = CASE WHEN ${t}.${col} IS NULL OR (excluded.${col} IS NOT NULL AND excluded.${col} > ${t}.${col}) THEN excluded.${col} ELSE ${t}.${col} END`;

export const DEVICE_HEALTH_COLUMNS = [
  'gateway',
  'device',
  'state',
  'reason',
  'state_since',
  'last_seen',
  'battery',
  'battery_ts',
  'battery_low',
  'battery_low_ts',
  'signal',
  'signal_ts',
  'fault',
  'fault_ts',
  'updated_at',
] as const;

/** ON CONFLICT clause of the device_health upsert (see health.ts for the rules). */
export function deviceHealthConflict(): string {
  const t = 'device_health';
  const link = newer(t, 'state_since');
  return `ON CONFLICT (gateway, device) DO UPDATE SET
    ${pick(t, link, 'state')}, ${pick(t, link, 'reason')}, ${pick(t, link, 'state_since')},
    ${maxOf(t, 'last_seen')},
    ${pick(t, newer(t, 'battery_ts'), 'battery')}, ${pick(t, newer(t, 'battery_ts'), 'battery_ts')},
    ${pick(t, newer(t, 'battery_low_ts'), 'battery_low')}, ${pick(t, newer(t, 'battery_low_ts'), 'battery_low_ts')},
    ${pick(t, newer(t, 'signal_ts'), 'signal')}, ${pick(t, newer(t, 'signal_ts'), 'signal_ts')},
    ${pick(t, newer(t, 'fault_ts'), 'fault')}, ${pick(t, newer(t, 'fault_ts'), 'fault_ts')},
    ${maxOf(t, 'updated_at')}`;
}

/** Gateway health upsert for one batch (gateway, receivedAt, batchSeq, report, reportBatchSeq, receivedAt); RETURNING the gateway's highest batch seq. */
export function gatewayHealthUpsert(d: Dialect): string {
  const t = 'gateway_health';
  const report = newer(t, 'report_batch_seq');
  return `INSERT INTO gateway_health (gateway, last_sync_at, last_batch_seq, report, report_batch_seq, rejected_batches, updated_at)
    VALUES (${d.p(1)}, ${d.p(2)}, ${d.p(3)}, ${d.p(4)}, ${d.p(5)}, 0, ${d.p(6)})
    ON CONFLICT (gateway) DO UPDATE SET
    ${maxOf(t, 'last_sync_at')}, ${maxOf(t, 'last_batch_seq')},
    ${pick(t, report, 'report')}, ${pick(t, report, 'report_batch_seq')}, ${maxOf(t, 'updated_at')}
    RETURNING last_batch_seq`;
}

export function rejectedBatchUpsert(d: Dialect): string {
  return `INSERT INTO gateway_health (gateway, rejected_batches, updated_at) VALUES (${d.p(1)}, 1, ${d.p(2)})
    ON CONFLICT (gateway) DO UPDATE SET rejected_batches = gateway_health.rejected_batches + 1,
    ${maxOf('gateway_health', 'updated_at')}`;
}

export const ROLLUP_COLUMNS =
  'gateway, device, point, bucket, site_path, count, min, max, sum, last, last_ts, last_seq';

/** ON CONFLICT clause merging a folded bucket into a stored one (rollup-fold.ts mergeBucket). */
export function rollupConflict(table: 'rollup_1m' | 'rollup_1h', d: Dialect): string {
  const t = table;
  const later = `(excluded.last_ts, excluded.last_seq) >= (${t}.last_ts, ${t}.last_seq)`;
  return `ON CONFLICT (gateway, device, point, bucket) DO UPDATE SET
    count = ${t}.count + excluded.count, sum = ${t}.sum + excluded.sum,
    min = ${d.least}(${t}.min, excluded.min), max = ${d.greatest}(${t}.max, excluded.max),
    ${pick(t, later, 'last')}, ${pick(t, later, 'last_ts')}, ${pick(t, later, 'last_seq')}`;
}

/**
 * Counts one sign-in attempt in one statement (cloud/auth/README.md: lockout). Parameters:
 * username, source, now, quietSince, forgetSince. The row lock of ON CONFLICT … DO UPDATE (SQLite's
 * single writer; PostgreSQL's row lock) makes every concurrent attempt see its own number, so no
 * more than the threshold of attempts are ever checked per round, whichever instance takes them.
 */
export function signInCountUpsert(d: Dialect): string {
  const t = 'signin_attempts';
  const [username, source, now, quietSince, forgetSince] = [1, 2, 3, 4, 5].map(d.p);
  return `INSERT INTO ${t} (username, source, attempts, locks, locked_until, updated_at)
VALUES (${username}, ${source}, 1, 0, 0, ${now})
ON CONFLICT (username, source) DO UPDATE SET
  attempts = CASE WHEN (${t}.locked_until > 0 AND ${t}.locked_until <= excluded.updated_at)
                    OR ${t}.updated_at < ${quietSince} THEN 1 ELSE ${t}.attempts + 1 END,
  locks = CASE WHEN ${t}.updated_at < ${forgetSince} THEN 0 ELSE ${t}.locks END,
  locked_until = CASE WHEN ${t}.locked_until <= excluded.updated_at THEN 0 ELSE ${t}.locked_until END,
  updated_at = excluded.updated_at
RETURNING attempts, locks, locked_until`;
}
