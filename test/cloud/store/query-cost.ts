/**
 * What the database did for the queries a store ran, measured without a clock: every SELECT a
 * store issues while `fn` runs is recorded (SQL text and parameters) and then explained.
 *
 * - PostgreSQL: `EXPLAIN (ANALYZE, FORMAT JSON)` runs it again and reports, per plan node, the rows
 *   it produced and removed and how often it looped; `work` is their sum over the plan. A query
 *   that walks a span (one step per minute of 30 years) shows millions there, whatever the
 *   machine's speed.
 * - SQLite has no per-run counters in better-sqlite3, so its measure is the plan
 *   (`EXPLAIN QUERY PLAN`): which tables are searched through an index and which are scanned;
 *   and for the readings query that walks minutes, the number of minutes it walks.
 * - The memory store has neither; `undefined`.
 */
import type { Database, Statement } from 'better-sqlite3';
import pg from 'pg';
import type { CloudStore, StoreHandle } from '../../../cloud/store/port.js';

export interface QueryCost {
  sql: string;
  /** PostgreSQL: rows produced + removed by filters, times loops, summed over the plan. */
  work?: number;
  /** SQLite: the EXPLAIN QUERY PLAN lines (and `work`: minutes walked, for the readings walk). */
  plan?: string[];
}

interface PgNode {
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Rows Removed by Join Filter'?: number;
  Plans?: PgNode[];
}

function pgWork(node: PgNode): number {
  const loops = node['Actual Loops'] ?? 1;
  const rows =
    (node['Actual Rows'] ?? 0) +
    (node['Rows Removed by Filter'] ?? 0) +
    (node['Rows Removed by Index Recheck'] ?? 0) +
    (node['Rows Removed by Join Filter'] ?? 0);
  return rows * loops + (node.Plans ?? []).reduce((sum, child) => sum + pgWork(child), 0);
}

/**
 * SQLite's per-series readings query walks the minutes that hold readings (cloud/store/
 * sql-queries.ts, a recursive CTE `minutes`): how many it visits is its work, counted by running
 * the CTE alone with the same bounds.
 */
function minutesWalked(db: Database, sql: string, params: unknown[]): { work?: number } {
  const head = /^\s*WITH RECURSIVE minutes\(m\) AS \(/.exec(sql);
  if (!head) return {};
  let depth = 1;
  let end = head[0].length;
  for (; end < sql.length && depth > 0; end++) {
    if (sql[end] === '(') depth++;
    else if (sql[end] === ')') depth--;
  }
  const cte = sql.slice(0, end);
  const placeholders = (cte.match(/\?/g) ?? []).length;
  const row = db
    .prepare(`${cte} SELECT count(*) AS n FROM minutes`)
    .get(...params.slice(0, placeholders)) as {
    n: number;
  };
  return { work: row.n };
}

const isRead = (sql: string) => /^\s*(SELECT|WITH)\b/i.test(sql);

/** `target`: a CloudStore, or the database handle a subsystem's store runs on (cases, escalation). */
export async function measureQueries<T>(
  target: CloudStore | StoreHandle,
  fn: () => Promise<T>,
): Promise<{ result: T; costs: QueryCost[] | undefined }> {
  const handle = 'kind' in target ? target : target.handle();
  if (handle.kind === 'sqlite') {
    const seen: { sql: string; params: unknown[] }[] = [];
    const proto = Object.getPrototypeOf(handle.db.prepare('SELECT 1')) as Statement;
    const originals = { all: proto.all, get: proto.get, iterate: proto.iterate };
    for (const name of ['all', 'get', 'iterate'] as const) {
      const original = originals[name] as (...args: unknown[]) => unknown;
      (proto as unknown as Record<string, unknown>)[name] = function (this: Statement, ...params: unknown[]) {
        if (isRead(this.source)) seen.push({ sql: this.source, params });
        return original.apply(this, params);
      };
    }
    let result: T;
    try {
      result = await fn();
    } finally {
      Object.assign(proto, originals);
    }
    const db: Database = handle.db;
    const costs = seen.map(({ sql, params }) => ({
      sql,
      plan: (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
        (row) => row.detail,
      ),
      ...minutesWalked(db, sql, params),
    }));
    return { result, costs };
  }
  if (handle.kind === 'postgres') {
    const seen: { sql: string; params: unknown[] }[] = [];
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    proto.query = function (this: unknown, ...args: unknown[]) {
      const [text, values] = args;
      const sql = typeof text === 'string' ? text : ((text as { text?: string })?.text ?? '');
      const params = Array.isArray(values) ? values : ((text as { values?: unknown[] })?.values ?? []);
      if (isRead(sql)) seen.push({ sql, params });
      return original.apply(this, args);
    };
    let result: T;
    try {
      result = await fn();
    } finally {
      proto.query = original;
    }
    const costs: QueryCost[] = [];
    for (const { sql, params } of seen) {
      const explained = await handle.pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
      const plan = (explained.rows[0] as { 'QUERY PLAN': { Plan: PgNode }[] })['QUERY PLAN'][0]?.Plan;
      costs.push({ sql, work: plan ? pgWork(plan) : 0 });
    }
    return { result, costs };
  }
  return { result: await fn(), costs: undefined };
}
