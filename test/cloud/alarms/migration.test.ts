/**
 * Case-store migration 2 (board columns) on a database written by migration 1: the stored cases
 * get their severity, walk-test flag and receive time from their JSON, and the board orders them —
 * on a SQLite file and on a real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { AlarmCase } from '../../../cloud/alarms/contract.js';
import type { AlarmCaseStore } from '../../../cloud/alarms/store/port.js';
import { PostgresAlarmCaseStore } from '../../../cloud/alarms/store/postgres.js';
import { POSTGRES_CASE_MIGRATIONS, SQLITE_CASE_MIGRATIONS } from '../../../cloud/alarms/store/sql.js';
import { SqliteAlarmCaseStore } from '../../../cloud/alarms/store/sqlite.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { tempDir } from '../../support/tmp.js';
import { GARDEN, LANE, T0 } from './helpers.js';

/** Cases as migration 1 stored them (no receivedAt in the JSON). */
function v1Case(id: string, site: typeof LANE, severity: AlarmCase['severity'], raisedAt: number): AlarmCase {
  return {
    id,
    gateway: site === LANE ? 'gw-1' : 'gw-2',
    site,
    device: 'smoke-1',
    type: 'smoke',
    severity,
    test: false,
    latched: true,
    dedupKey: `${id}/smoke-1/smoke`,
    occurrence: 1,
    condition: 'active',
    acked: false,
    suppressed: false,
    stage: 'warn',
    raisedAt,
    updatedAt: T0,
  };
}

const CASES = [
  // Raised "10 years ahead" by a broken clock: received (updatedAt) at T0.
  v1Case('case-far', LANE, 'critical', T0 + 10 * 365 * 86_400_000),
  v1Case('case-minor', GARDEN, 'minor', T0 - 5000),
  v1Case('case-fire', GARDEN, 'critical', T0 - 60_000),
];
const row = (c: AlarmCase) => [
  c.id,
  c.gateway,
  `${c.site.district}/${c.site.town}/${c.site.community}`,
  c.dedupKey,
  c.stage,
  c.raisedAt,
  c.updatedAt,
  JSON.stringify(c),
];

async function checkBoard(store: AlarmCaseStore): Promise<void> {
  const board = await store.board('pudong', { perCommunity: 100, limit: 1000 });
  assert.deepEqual(
    board.items.map((c) => c.id),
    ['case-far', 'case-fire', 'case-minor'],
    'critical first (by receipt: the far raise was received at T0, after the fire), the minor last',
  );
  const one = await store.board('pudong', { perCommunity: 1, limit: 1000 });
  assert.deepEqual(one.truncated, { 'pudong/huamu/garden-1': 1 });
}

describe('case store migration 2 over migration-1 data', () => {
  let cluster: PgCluster | undefined;
  const dir = tempDir('doorstep-case-migration-');
  before(async () => {
    cluster = await startPostgres();
  });
  after(async () => {
    await cluster?.stop();
    dir.dispose();
  });

  it('SQLite', async () => {
    const db = new Database(join(dir.path, 'cases.db'));
    try {
      db.exec(`CREATE TABLE alarm_schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
      db.exec(SQLITE_CASE_MIGRATIONS[0]!.sql);
      db.prepare('INSERT INTO alarm_schema_migrations VALUES (1, ?, 0)').run(SQLITE_CASE_MIGRATIONS[0]!.name);
      const insert = db.prepare(
        `INSERT INTO alarm_cases (id, gateway, site_path, dedup_key, stage, open, raised_at, updated_at, data)
         VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`,
      );
      for (const c of CASES) insert.run(...row(c));
      const store = new SqliteAlarmCaseStore(db);
      await store.migrate();
      const cols = db
        .prepare("SELECT id, severity, test, received_at FROM alarm_cases WHERE id = 'case-far'")
        .get();
      assert.deepEqual(cols, { id: 'case-far', severity: 'critical', test: 0, received_at: T0 });
      await checkBoard(store);
    } finally {
      db.close();
    }
  });

  it('PostgreSQL', async () => {
    const pool = new pg.Pool({ connectionString: await cluster!.createDatabase(), max: 2 });
    try {
      await pool.query(`CREATE TABLE alarm_schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
      await pool.query(POSTGRES_CASE_MIGRATIONS[0]!.sql);
      await pool.query('INSERT INTO alarm_schema_migrations VALUES (1, $1, 0)', [
        POSTGRES_CASE_MIGRATIONS[0]!.name,
      ]);
      for (const c of CASES)
        await pool.query(
          `INSERT INTO alarm_cases (id, gateway, site_path, dedup_key, stage, open, raised_at, updated_at, data)
           VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8)`,
          row(c),
        );
      const store = new PostgresAlarmCaseStore(pool);
      await store.migrate();
      const cols = await pool.query(
        "SELECT severity, test, received_at FROM alarm_cases WHERE id = 'case-far'",
      );
      assert.deepEqual(cols.rows[0], { severity: 'critical', test: false, received_at: String(T0) });
      await checkBoard(store);
    } finally {
      await pool.end();
    }
  });
});
