/**
 * NotificationStore on SQL: SQLite (better-sqlite3, synchronous inside async methods) and
 * PostgreSQL (pg Pool), sharing the statements. Claims are single conditional statements
 * (INSERT … ON CONFLICT DO NOTHING, then UPDATE … WHERE state allows it), so two instances — or
 * two calls in one — can never both hold a delivery: PostgreSQL re-checks the WHERE of a
 * concurrently updated row under READ COMMITTED, SQLite has one writer.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { DoorstepError } from '../../../protocol/index.js';
import type {
  AttemptRecord,
  AttemptStatus,
  ChannelKind,
  ClaimInput,
  ClaimResult,
  DeliveryKey,
  DeliveryRecord,
  DeliveryState,
  NotificationStore,
} from './port.js';

type Row = Record<string, unknown>;

/** The one thing the two databases differ in here: how statements run. Statements use $1, $2 … */
interface Sql {
  dialect: 'sqlite' | 'postgres';
  query(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Runs the migration statements atomically (PostgreSQL: under an advisory lock). */
  migrate(apply: (q: (sql: string, params?: unknown[]) => Promise<Row[]>) => Promise<void>): Promise<void>;
}

interface Migration {
  version: number;
  name: string;
  sql: { sqlite: string; postgres: string };
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'deliveries, attempts, request cases',
    sql: {
      sqlite: `
        CREATE TABLE notify_deliveries (
          request_id TEXT NOT NULL, recipient TEXT NOT NULL, address_key TEXT NOT NULL,
          channel TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL, owner TEXT,
          lease_until INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT,
          created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
          PRIMARY KEY (request_id, recipient, address_key));
        CREATE TABLE notify_attempts (
          id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, recipient TEXT NOT NULL,
          address_key TEXT NOT NULL, channel TEXT NOT NULL, target TEXT NOT NULL,
          attempt INTEGER NOT NULL, status TEXT NOT NULL, http_status INTEGER, errcode INTEGER,
          latency_ms INTEGER NOT NULL, error TEXT, at INTEGER NOT NULL);
        CREATE INDEX notify_attempts_request ON notify_attempts (request_id);
        CREATE TABLE notify_request_cases (
          request_id TEXT NOT NULL, case_id TEXT NOT NULL, PRIMARY KEY (request_id, case_id));
        CREATE INDEX notify_request_cases_case ON notify_request_cases (case_id);`,
      postgres: `
        CREATE TABLE notify_deliveries (
          request_id text NOT NULL, recipient text NOT NULL, address_key text NOT NULL,
          channel text NOT NULL, target text NOT NULL, state text NOT NULL, owner text,
          lease_until bigint NOT NULL, attempts integer NOT NULL DEFAULT 0, error text,
          created_at bigint NOT NULL, updated_at bigint NOT NULL,
          PRIMARY KEY (request_id, recipient, address_key));
        CREATE TABLE notify_attempts (
          id bigserial PRIMARY KEY, request_id text NOT NULL, recipient text NOT NULL,
          address_key text NOT NULL, channel text NOT NULL, target text NOT NULL,
          attempt integer NOT NULL, status text NOT NULL, http_status integer, errcode integer,
          latency_ms integer NOT NULL, error text, at bigint NOT NULL);
        CREATE INDEX notify_attempts_request ON notify_attempts (request_id);
        CREATE TABLE notify_request_cases (
          request_id text NOT NULL, case_id text NOT NULL, PRIMARY KEY (request_id, case_id));
        CREATE INDEX notify_request_cases_case ON notify_request_cases (case_id);`,
    },
  },
];

/** Advisory lock key of the notification migrations ("do" + 0x0101; the store uses 0x646f_000x). */
const MIGRATE_LOCK = 0x646f_0101;

/** `$1 … $n` → `?` with the parameters re-ordered (better-sqlite3 binds positional `?` only). */
function toSqlite(sql: string, params: unknown[]): [string, unknown[]] {
  const out: unknown[] = [];
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    out.push(params[Number(n) - 1]);
    return '?';
  });
  return [text, out.map((v) => (typeof v === 'boolean' ? Number(v) : v))];
}

function sqliteSql(db: Database.Database): Sql {
  const run = (sql: string, params: unknown[] = []): Row[] => {
    const [text, args] = toSqlite(sql, params);
    const stmt = db.prepare(text);
    if (stmt.reader) return stmt.all(...args) as Row[];
    stmt.run(...args);
    return [];
  };
  return {
    dialect: 'sqlite',
    async query(sql, params) {
      return run(sql, params);
    },
    async migrate(apply) {
      // better-sqlite3 transactions are synchronous; migrations are a few exec calls, so run
      // them between BEGIN IMMEDIATE and COMMIT by hand to keep `apply` async-shaped.
      db.exec('BEGIN IMMEDIATE');
      try {
        await apply(async (sql, params) => {
          if (!params?.length && sql.includes(';')) {
            db.exec(sql);
            return [];
          }
          return run(sql, params);
        });
        db.exec('COMMIT');
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      }
    },
  };
}

function postgresSql(pool: pg.Pool): Sql {
  return {
    dialect: 'postgres',
    async query(sql, params = []) {
      return (await pool.query(sql, params)).rows as Row[];
    },
    async migrate(apply) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK]);
        await apply(async (sql, params) => (await c.query(sql, params)).rows as Row[]);
        await c.query('COMMIT');
      } catch (error) {
        await c.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        c.release();
      }
    },
  };
}

const num = (v: unknown): number => Number(v);
const optNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const optStr = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

function toDelivery(r: Row): DeliveryRecord {
  const error = optStr(r.error);
  return {
    requestId: String(r.request_id),
    recipient: String(r.recipient),
    addressKey: String(r.address_key),
    channel: String(r.channel) as ChannelKind,
    target: String(r.target),
    state: String(r.state) as DeliveryState,
    attempts: num(r.attempts),
    ...(error !== undefined ? { error } : {}),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function toAttempt(r: Row): AttemptRecord {
  const httpStatus = optNum(r.http_status);
  const errcode = optNum(r.errcode);
  const error = optStr(r.error);
  return {
    requestId: String(r.request_id),
    recipient: String(r.recipient),
    addressKey: String(r.address_key),
    channel: String(r.channel) as ChannelKind,
    target: String(r.target),
    attempt: num(r.attempt),
    status: String(r.status) as AttemptStatus,
    ...(httpStatus !== undefined ? { httpStatus } : {}),
    ...(errcode !== undefined ? { errcode } : {}),
    latencyMs: num(r.latency_ms),
    ...(error !== undefined ? { error } : {}),
    at: num(r.at),
  };
}

const KEY_WHERE = 'request_id = $1 AND recipient = $2 AND address_key = $3';

export class SqlNotificationStore implements NotificationStore {
  readonly #sql: Sql;
  /** PostgreSQL sorts text by the database's collation: ask for byte order, as SQLite does. */
  readonly #c: string;

  constructor(handle: { kind: 'sqlite'; db: Database.Database } | { kind: 'postgres'; pool: pg.Pool }) {
    this.#sql = handle.kind === 'sqlite' ? sqliteSql(handle.db) : postgresSql(handle.pool);
    this.#c = handle.kind === 'postgres' ? ' COLLATE "C"' : '';
  }

  async migrate(): Promise<void> {
    const dialect = this.#sql.dialect;
    await this.#sql.migrate(async (q) => {
      await q(`CREATE TABLE IF NOT EXISTS notify_schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
      const current = num(
        (await q('SELECT coalesce(max(version), 0) AS v FROM notify_schema_migrations'))[0]?.v,
      );
      const latest = MIGRATIONS.at(-1)?.version ?? 0;
      if (current > latest)
        throw new DoorstepError('CLOUD_ERR_STORE_SCHEMA', { found: current, supported: latest });
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        await q(m.sql[dialect]);
        await q('INSERT INTO notify_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
    });
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const { key, now } = input;
    const k = [key.requestId, key.recipient, key.addressKey];
    for (const caseId of input.caseIds)
      await this.#sql.query(
        'INSERT INTO notify_request_cases (request_id, case_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [key.requestId, caseId],
      );
    const inserted = await this.#sql.query(
      `INSERT INTO notify_deliveries (request_id, recipient, address_key, channel, target, state, owner,
         lease_until, attempts, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, 'sending', $6, $7, 0, $8, $8)
       ON CONFLICT DO NOTHING RETURNING attempts`,
      [...k, input.channel, input.target, input.owner, input.leaseUntil, now],
    );
    if (inserted.length) return { claimed: true, attemptsSoFar: 0 };
    const taken = await this.#sql.query(
      `UPDATE notify_deliveries SET state = 'sending', owner = $4, lease_until = $5, target = $6, updated_at = $7
       WHERE ${KEY_WHERE} AND (state = 'failed' OR (state = 'sending' AND lease_until <= $7))
       RETURNING attempts`,
      [...k, input.owner, input.leaseUntil, input.target, now],
    );
    if (taken[0]) return { claimed: true, attemptsSoFar: num(taken[0].attempts) };
    const row = (
      await this.#sql.query(`SELECT state, attempts FROM notify_deliveries WHERE ${KEY_WHERE}`, k)
    )[0];
    return {
      claimed: false,
      state: row?.state === 'delivered' ? 'delivered' : 'sending',
      attempts: num(row?.attempts ?? 0),
    };
  }

  async recordAttempt(a: AttemptRecord): Promise<void> {
    await this.#sql.query(
      `INSERT INTO notify_attempts (request_id, recipient, address_key, channel, target, attempt, status,
         http_status, errcode, latency_ms, error, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        a.requestId,
        a.recipient,
        a.addressKey,
        a.channel,
        a.target,
        a.attempt,
        a.status,
        a.httpStatus ?? null,
        a.errcode ?? null,
        Math.round(a.latencyMs),
        a.error ?? null,
        a.at,
      ],
    );
  }

  async renew(key: DeliveryKey, owner: string, leaseUntil: number): Promise<boolean> {
    const rows = await this.#sql.query(
      `UPDATE notify_deliveries SET lease_until = $5
       WHERE ${KEY_WHERE} AND owner = $4 AND state = 'sending' RETURNING state`,
      [key.requestId, key.recipient, key.addressKey, owner, leaseUntil],
    );
    return rows.length > 0;
  }

  async finish(
    key: DeliveryKey,
    owner: string,
    outcome: { ok: boolean; attempts: number; error?: string },
    now: number,
  ): Promise<boolean> {
    const rows = await this.#sql.query(
      `UPDATE notify_deliveries SET state = $5, attempts = $6, error = $7, updated_at = $8
       WHERE ${KEY_WHERE} AND owner = $4 AND state = 'sending' RETURNING state`,
      [
        key.requestId,
        key.recipient,
        key.addressKey,
        owner,
        outcome.ok ? 'delivered' : 'failed',
        outcome.attempts,
        outcome.error ?? null,
        now,
      ],
    );
    return rows.length > 0;
  }

  async delivery(key: DeliveryKey): Promise<DeliveryRecord | undefined> {
    const rows = await this.#sql.query(`SELECT * FROM notify_deliveries WHERE ${KEY_WHERE}`, [
      key.requestId,
      key.recipient,
      key.addressKey,
    ]);
    return rows[0] ? toDelivery(rows[0]) : undefined;
  }

  async deliveriesByRequest(requestId: string): Promise<DeliveryRecord[]> {
    const rows = await this.#sql.query(
      `SELECT * FROM notify_deliveries WHERE request_id = $1
       ORDER BY recipient${this.#c}, address_key${this.#c}`,
      [requestId],
    );
    return rows.map(toDelivery);
  }

  async attemptsByRequest(requestId: string): Promise<AttemptRecord[]> {
    const rows = await this.#sql.query(
      `SELECT * FROM notify_attempts WHERE request_id = $1
       ORDER BY recipient${this.#c}, address_key${this.#c}, attempt, id`,
      [requestId],
    );
    return rows.map(toAttempt);
  }

  async attemptsByCase(caseId: string): Promise<AttemptRecord[]> {
    const rows = await this.#sql.query(
      `SELECT a.* FROM notify_attempts a
       JOIN notify_request_cases c ON c.request_id = a.request_id
       WHERE c.case_id = $1 ORDER BY a.id`,
      [caseId],
    );
    return rows.map(toAttempt);
  }
}
