/**
 * The scoped read queries, built once for both SQL adapters. Every one starts from the scope
 * clause `(site_path = s OR (site_path >= 's/' AND site_path < 's0'))`, a byte-order range served
 * by the (site_path, time) indexes; PostgreSQL columns are `COLLATE "C"` so the order is bytes there
 * too. Results are ordered for stable paging: time, then gateway, then seq (or key).
 */
import { checkScope, queryLimit, scopeRange } from './common.js';
import type { DeviceHealth, TimeRange } from './port.js';
import type { Dialect } from './sql-shared.js';

export interface Query {
  sql: string;
  params: unknown[];
}

export class Where {
  readonly parts: string[] = [];
  readonly params: unknown[] = [];
  constructor(private readonly d: Dialect) {}
  add(sqlWith: (p: () => string) => string, ...values: unknown[]): this {
    let i = 0;
    this.parts.push(
      sqlWith(() => {
        this.params.push(values[i++]);
        return this.d.p(this.params.length);
      }),
    );
    return this;
  }
  scope(col: string, scope: string): this {
    const [lo, hi] = scopeRange(checkScope(scope));
    return this.add((p) => `(${col} = ${p()} OR (${col} >= ${p()} AND ${col} < ${p()}))`, scope, lo, hi);
  }
  eq(col: string, value: unknown): this {
    return value === undefined ? this : this.add((p) => `${col} = ${p()}`, value);
  }
  range(col: string, r: TimeRange): this {
    if (r.from !== undefined) this.add((p) => `${col} >= ${p()}`, r.from);
    if (r.to !== undefined) this.add((p) => `${col} < ${p()}`, r.to);
    return this;
  }
  limit(limit: number | undefined): string {
    this.params.push(queryLimit(limit));
    return ` LIMIT ${this.d.p(this.params.length)}`;
  }
  get sql(): string {
    return this.parts.length ? ` WHERE ${this.parts.join(' AND ')}` : '';
  }
}

export function readingsQuery(
  d: Dialect,
  scope: string,
  f: { gateway?: string; device?: string; point?: string } & TimeRange,
): Query {
  const w = new Where(d)
    .scope('site_path', scope)
    .eq('gateway', f.gateway)
    .eq('device', f.device)
    .eq('point', f.point);
  w.range('cloud_ts', f);
  const sql = `SELECT * FROM readings${w.sql} ORDER BY cloud_ts, gateway, seq${w.limit(f.limit)}`;
  return { sql, params: w.params };
}

/** Width of the time buckets that lead the SQLite per-series index (schema v3), ms. */
export const SERIES_BUCKET_MS = 60_000;

/**
 * Readings on SQLite (schema v2+): the reading row holds integer ids of its gateway, site and
 * series; their text is joined back from the dictionary tables. The scope range applies to the
 * site path, so the planner walks (site, cloud_ts) per matching site.
 *
 * When a device or point narrows the query down, it goes through the per-series index, which
 * since schema v3 is keyed (minute, series, cloud_ts) — see schema.ts for why. The query steps
 * from one minute that holds readings to the next through that index (one `min()` seek each) and
 * seeks each such minute's entries of the wanted series. Its cost is bounded by the minutes that
 * hold readings inside the range, never by the span of the range: stepping over every minute
 * between the table's first and last reading made one reading dated 30 years ahead cost ~16
 * million steps (≈ 10 s with the event loop held) for any device page.
 */
export function sqliteReadingsQuery(
  d: Dialect,
  scope: string,
  f: { gateway?: string; device?: string; point?: string } & TimeRange,
): Query {
  const w = new Where(d).scope('k.path', scope);
  const columns = `r.seq, r.quality, r.value_kind, r.value_num, r.value_text, r.ts, r.offset_ms, r.cloud_ts,
    g.gateway, k.path AS site_path, s.device, s.point, s.unit`;
  const joins =
    'JOIN site_ids k ON k.id = r.site JOIN series s ON s.id = r.series JOIN gateway_ids g ON g.id = r.gw';
  if (f.device !== undefined || f.point !== undefined) {
    const eqs = (
      [
        ['g2.gateway', f.gateway],
        ['s2.device', f.device],
        ['s2.point', f.point],
      ] as const
    ).filter(([, v]) => v !== undefined);
    w.add(
      (p) =>
        `r.series IN (SELECT s2.id FROM series s2 JOIN gateway_ids g2 ON g2.id = s2.gw WHERE ${eqs
          .map(([col]) => `${col} = ${p()}`)
          .join(' AND ')})`,
      ...eqs.map(([, v]) => v),
    );
    w.range('r.cloud_ts', f);
    // SQLite's integer division truncates like the index expression does, so `min(expr)` with a
    // range on `expr` is one seek in readings_series_minute; NULL (no further minute) ends the walk.
    const expr = `cloud_ts / ${SERIES_BUCKET_MS}`;
    const minute = `r.${expr}`;
    // Bound numbers arrive as REAL: cast, or the minutes would be fractional and match nothing.
    const fromMinute = `CAST(? AS INTEGER) / ${SERIES_BUCKET_MS}`;
    const upTo = f.to === undefined ? '' : ` AND ${expr} <= CAST(? AS INTEGER) / ${SERIES_BUCKET_MS}`;
    const first = `SELECT min(${expr}) FROM readings INDEXED BY readings_series_minute WHERE ${
      f.from === undefined ? `${expr} IS NOT NULL` : `${expr} >= ${fromMinute}`
    }${upTo}`;
    const next = `SELECT (SELECT min(${expr}) FROM readings INDEXED BY readings_series_minute WHERE ${expr} > minutes.m${upTo})
      FROM minutes WHERE minutes.m IS NOT NULL`;
    const sql = `WITH RECURSIVE minutes(m) AS (${first} UNION ALL ${next})
    SELECT ${columns} FROM minutes CROSS JOIN readings r INDEXED BY readings_series_minute ON ${minute} = minutes.m
    ${joins}${w.sql} ORDER BY r.cloud_ts, g.gateway, r.seq${w.limit(f.limit)}`;
    const to = f.to === undefined ? [] : [f.to];
    const bounds = [...(f.from === undefined ? [] : [f.from]), ...to, ...to];
    return { sql, params: [...bounds, ...w.params] };
  }
  if (f.gateway !== undefined)
    w.add((p) => `r.gw = (SELECT id FROM gateway_ids WHERE gateway = ${p()})`, f.gateway);
  w.range('r.cloud_ts', f);
  const sql = `SELECT ${columns} FROM readings r ${joins}${w.sql} ORDER BY r.cloud_ts, g.gateway, r.seq${w.limit(f.limit)}`;
  return { sql, params: w.params };
}

export function alarmsQuery(
  d: Dialect,
  scope: string,
  f: { gateway?: string; device?: string; alarm?: string; type?: string } & TimeRange,
): Query {
  const w = new Where(d).scope('site_path', scope).eq('gateway', f.gateway).eq('device', f.device);
  w.eq('alarm_id', f.alarm).eq('type', f.type).range('cloud_ts', f);
  const sql = `SELECT * FROM alarm_transitions${w.sql} ORDER BY cloud_ts, gateway, seq${w.limit(f.limit)}`;
  return { sql, params: w.params };
}

export function rollupsQuery(
  d: Dialect,
  scope: string,
  f: { resolution: '1m' | '1h'; gateway?: string; device?: string; point?: string } & TimeRange,
): Query {
  const table = f.resolution === '1h' ? 'rollup_1h' : 'rollup_1m';
  const w = new Where(d)
    .scope('site_path', scope)
    .eq('gateway', f.gateway)
    .eq('device', f.device)
    .eq('point', f.point);
  w.range('bucket', f);
  const sql = `SELECT * FROM ${table}${w.sql} ORDER BY bucket, gateway, device, point${w.limit(f.limit)}`;
  return { sql, params: w.params };
}

export function deviceHealthQuery(
  d: Dialect,
  scope: string,
  f?: { state?: DeviceHealth['state']; limit?: number },
): Query {
  const w = new Where(d).scope('d.site_path', scope);
  if (f?.state === 'unknown') w.add((p) => `coalesce(h.state, ${p()}) = ${p()}`, 'unknown', 'unknown');
  else w.eq('h.state', f?.state);
  const sql = `SELECT d.gateway, d.id, d.site_path, d.kind, d.location, h.state, h.reason, h.last_seen, h.battery,
    h.battery_low, h.signal, h.fault, h.updated_at
    FROM devices d LEFT JOIN device_health h ON h.gateway = d.gateway AND h.device = d.id${w.sql}
    ORDER BY d.gateway, d.id`;
  if (f?.limit === undefined) return { sql, params: w.params };
  w.params.push(f.limit);
  return { sql: `${sql} LIMIT ${d.p(w.params.length)}`, params: w.params };
}

/** Devices in scope per state (NULL health: `unknown`). */
export function deviceStateCountsQuery(d: Dialect, scope: string): Query {
  const w = new Where(d).scope('d.site_path', scope);
  const sql = `SELECT coalesce(h.state, 'unknown') AS state, count(*) AS n
    FROM devices d LEFT JOIN device_health h ON h.gateway = d.gateway AND h.device = d.id${w.sql}
    GROUP BY coalesce(h.state, 'unknown')`;
  return { sql, params: w.params };
}

export function gatewayHealthQuery(d: Dialect, scope: string): Query {
  const w = new Where(d).scope('g.site_path', scope);
  const sql = `SELECT g.id, g.site_path, g.created_at, h.last_sync_at, h.last_batch_seq, h.report,
    h.rejected_batches, h.updated_at
    FROM gateways g LEFT JOIN gateway_health h ON h.gateway = g.id${w.sql} ORDER BY g.id`;
  return { sql, params: w.params };
}

export function scopedListQuery(d: Dialect, table: 'sites' | 'gateways' | 'devices', scope: string): Query {
  const col = table === 'sites' ? 'path' : 'site_path';
  const order = table === 'sites' ? 'path' : table === 'gateways' ? 'id' : 'gateway, id';
  const w = new Where(d).scope(col, scope);
  return { sql: `SELECT * FROM ${table}${w.sql} ORDER BY ${order}`, params: w.params };
}

/** Users whose own scope lies inside `scope` (users_scope index), by username. */
export function usersQuery(d: Dialect, scope: string): Query {
  const w = new Where(d).scope('scope', scope);
  return { sql: `SELECT * FROM users${w.sql} ORDER BY username`, params: w.params };
}

/** The account audit trail inside `scope`, newest first, optionally of one user. */
export function accountAuditQuery(d: Dialect, scope: string, f: { userId?: string; limit?: number }): Query {
  const w = new Where(d).scope('scope', scope).eq('user_id', f.userId);
  const sql = `SELECT * FROM account_audit${w.sql} ORDER BY at DESC, id DESC${w.limit(f.limit)}`;
  return { sql, params: w.params };
}
