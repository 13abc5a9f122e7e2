/**
 * What the console keeps: sessions (hashed ids with expiry), site plans and device markers. Same
 * database as the CloudStore (`store.handle()`), own tables prefixed `console_`, so one backup
 * covers everything; a memory CloudStore gets a memory console store.
 */
import type { CloudStore, StoreHandle } from '../store/port.js';

export interface SessionRecord {
  /** sha256 of the session secret, hex; the secret lives only in the user's HttpOnly cookie. */
  idHash: string;
  user: string;
  createdAt: number;
  expiresAt: number;
  revokedAt?: number;
}

export interface SitePlan {
  site: string;
  type: 'image/svg+xml' | 'image/png';
  /** The image bytes, base64. */
  data: string;
  updatedAt: number;
  updatedBy: string;
}

export interface Marker {
  site: string;
  gateway: string;
  device: string;
  /** Position on the plan as fractions of its width and height, 0…1. */
  x: number;
  y: number;
  updatedAt: number;
}

export interface ConsoleStore {
  migrate(): Promise<void>;
  createSession(session: SessionRecord): Promise<void>;
  /** A session neither expired nor revoked at `now`. */
  findSession(idHash: string, now: number): Promise<SessionRecord | undefined>;
  revokeSession(idHash: string, now: number): Promise<void>;
  /** Ends every live session of `user` (all but `exceptIdHash` when given); returns how many. */
  revokeUserSessions(user: string, now: number, exceptIdHash?: string): Promise<number>;
  /** Deletes sessions that expired before `before`; returns how many. */
  purgeSessions(before: number): Promise<number>;
  putPlan(plan: SitePlan): Promise<void>;
  getPlan(site: string): Promise<SitePlan | undefined>;
  putMarker(marker: Marker): Promise<void>;
  listMarkers(site: string): Promise<Marker[]>;
}

export class MemoryConsoleStore implements ConsoleStore {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #plans = new Map<string, SitePlan>();
  readonly #markers = new Map<string, Marker>();
  async migrate() {}
  async createSession(s: SessionRecord) {
    this.#sessions.set(s.idHash, { ...s });
  }
  async findSession(idHash: string, now: number) {
    const s = this.#sessions.get(idHash);
    return s && s.revokedAt === undefined && s.expiresAt > now ? { ...s } : undefined;
  }
  async revokeSession(idHash: string, now: number) {
    const s = this.#sessions.get(idHash);
    if (s && s.revokedAt === undefined) s.revokedAt = now;
  }
  async revokeUserSessions(user: string, now: number, exceptIdHash?: string) {
    let n = 0;
    for (const s of this.#sessions.values())
      if (s.user === user && s.idHash !== exceptIdHash && s.revokedAt === undefined && s.expiresAt > now) {
        s.revokedAt = now;
        n++;
      }
    return n;
  }
  async purgeSessions(before: number) {
    let n = 0;
    for (const [k, s] of this.#sessions)
      if (s.expiresAt < before) {
        this.#sessions.delete(k);
        n++;
      }
    return n;
  }
  async putPlan(plan: SitePlan) {
    this.#plans.set(plan.site, { ...plan });
  }
  async getPlan(site: string) {
    const p = this.#plans.get(site);
    return p && { ...p };
  }
  async putMarker(m: Marker) {
    this.#markers.set(`${m.site}\u0000${m.gateway}\u0000${m.device}`, { ...m });
  }
  async listMarkers(site: string) {
    return [...this.#markers.values()].filter((m) => m.site === site).map((m) => ({ ...m }));
  }
}

/** The few statements both SQL dialects need; `?` placeholders, numbered for PostgreSQL. */
interface Sql {
  exec(ddl: string): Promise<void>;
  run(sql: string, params: unknown[]): Promise<number>;
  all<T>(sql: string, params: unknown[]): Promise<T[]>;
}

function sqliteSql(db: import('better-sqlite3').Database): Sql {
  return {
    async exec(ddl) {
      db.exec(ddl);
    },
    async run(sql, params) {
      return db.prepare(sql).run(...params).changes;
    },
    async all<T>(sql: string, params: unknown[]) {
      return db.prepare(sql).all(...params) as T[];
    },
  };
}

function postgresSql(pool: import('pg').Pool): Sql {
  const numbered = (sql: string) => {
    let i = 0;
    return sql.replace(/\?/g, () => `$${++i}`);
  };
  return {
    async exec(ddl) {
      await pool.query(ddl);
    },
    async run(sql, params) {
      return (await pool.query(numbered(sql), params)).rowCount ?? 0;
    },
    async all<T>(sql: string, params: unknown[]) {
      return (await pool.query(numbered(sql), params)).rows as T[];
    },
  };
}

const DDL = `
CREATE TABLE IF NOT EXISTS console_sessions (
  id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL, revoked_at BIGINT
);
CREATE INDEX IF NOT EXISTS console_sessions_expiry ON console_sessions (expires_at);
CREATE INDEX IF NOT EXISTS console_sessions_user ON console_sessions (user_id);
CREATE TABLE IF NOT EXISTS console_site_plans (
  site TEXT PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL,
  updated_at BIGINT NOT NULL, updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS console_markers (
  site TEXT NOT NULL, gateway TEXT NOT NULL, device TEXT NOT NULL,
  x DOUBLE PRECISION NOT NULL, y DOUBLE PRECISION NOT NULL, updated_at BIGINT NOT NULL,
  PRIMARY KEY (site, gateway, device)
);`;

interface SessionRow {
  id_hash: string;
  user_id: string;
  created_at: number | string;
  expires_at: number | string;
  revoked_at: number | string | null;
}

export class SqlConsoleStore implements ConsoleStore {
  constructor(private readonly sql: Sql) {}
  async migrate() {
    await this.sql.exec(DDL);
  }
  async createSession(s: SessionRecord) {
    await this.sql.run(
      'INSERT INTO console_sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
      [s.idHash, s.user, s.createdAt, s.expiresAt],
    );
  }
  async findSession(idHash: string, now: number) {
    const [r] = await this.sql.all<SessionRow>(
      'SELECT * FROM console_sessions WHERE id_hash = ? AND revoked_at IS NULL AND expires_at > ?',
      [idHash, now],
    );
    return (
      r && {
        idHash: r.id_hash,
        user: r.user_id,
        createdAt: Number(r.created_at),
        expiresAt: Number(r.expires_at),
      }
    );
  }
  async revokeSession(idHash: string, now: number) {
    await this.sql.run(
      'UPDATE console_sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL',
      [now, idHash],
    );
  }
  async revokeUserSessions(user: string, now: number, exceptIdHash?: string) {
    return this.sql.run(
      `UPDATE console_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
       AND id_hash <> ?`,
      [now, user, now, exceptIdHash ?? ''],
    );
  }
  async purgeSessions(before: number) {
    return this.sql.run('DELETE FROM console_sessions WHERE expires_at < ?', [before]);
  }
  async putPlan(p: SitePlan) {
    await this.sql.run(
      `INSERT INTO console_site_plans (site, type, data, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (site) DO UPDATE SET type = excluded.type, data = excluded.data,
         updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      [p.site, p.type, p.data, p.updatedAt, p.updatedBy],
    );
  }
  async getPlan(site: string) {
    const [r] = await this.sql.all<{
      site: string;
      type: SitePlan['type'];
      data: string;
      updated_at: number | string;
      updated_by: string;
    }>('SELECT * FROM console_site_plans WHERE site = ?', [site]);
    return (
      r && {
        site: r.site,
        type: r.type,
        data: r.data,
        updatedAt: Number(r.updated_at),
        updatedBy: r.updated_by,
      }
    );
  }
  async putMarker(m: Marker) {
    await this.sql.run(
      `INSERT INTO console_markers (site, gateway, device, x, y, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (site, gateway, device) DO UPDATE SET x = excluded.x, y = excluded.y,
         updated_at = excluded.updated_at`,
      [m.site, m.gateway, m.device, m.x, m.y, m.updatedAt],
    );
  }
  async listMarkers(site: string) {
    const rows = await this.sql.all<{
      site: string;
      gateway: string;
      device: string;
      x: number;
      y: number;
      updated_at: number | string;
    }>('SELECT * FROM console_markers WHERE site = ? ORDER BY gateway, device', [site]);
    return rows.map((r) => ({
      site: r.site,
      gateway: r.gateway,
      device: r.device,
      x: Number(r.x),
      y: Number(r.y),
      updatedAt: Number(r.updated_at),
    }));
  }
}

export function consoleStoreFor(handle: StoreHandle): ConsoleStore {
  switch (handle.kind) {
    case 'memory':
      return new MemoryConsoleStore();
    case 'sqlite':
      return new SqlConsoleStore(sqliteSql(handle.db));
    case 'postgres':
      return new SqlConsoleStore(postgresSql(handle.pool));
  }
}

/**
 * The console store bound to the CloudStore's database once it is open (routes are wired before
 * start() opens it), migrated on first use, rebound if the CloudStore was reopened.
 */
export function lazyConsoleStore(store: Pick<CloudStore, 'handle'>): () => Promise<ConsoleStore> {
  return async () => {
    const handle = store.handle();
    const db: object =
      handle.kind === 'sqlite' ? handle.db : handle.kind === 'postgres' ? handle.pool : store;
    // One console store per database, shared by every caller: the console's sign-in and the
    // account routes that end a user's sessions (cloud/auth/accounts.ts) must see the same
    // sessions, also on a memory CloudStore.
    let current = SHARED.get(db);
    if (!current) {
      const next = consoleStoreFor(handle);
      current = { store: next, ready: next.migrate() };
      SHARED.set(db, current);
    }
    await current.ready;
    return current.store;
  };
}

const SHARED = new WeakMap<object, { store: ConsoleStore; ready: Promise<void> }>();
