/**
 * CloudStore on PostgreSQL (node-postgres Pool): for districts that outgrow one SQLite file or run
 * several stateless cloud instances against one database. READ COMMITTED transactions; exactly-once
 * comes from unique constraints with ON CONFLICT DO NOTHING, so two instances ingesting the same
 * batch store it once; deadlocks and serialization failures are retried a few times. The
 * constructor does no I/O: the pool connects on first use.
 */

import pg from 'pg';
import { fullJitterMs } from '../../../common/backoff.js';
import { DoorstepError, type InventoryEvent, type UplinkBatch } from '../../../protocol/index.js';
import {
  type BackgroundOptions,
  checkScope,
  closedError,
  inSlices,
  pathInScope,
  type SliceBounds,
  sitePathString,
} from '../common.js';
import { conflict, notFound, unavailable } from '../errors.js';
import { planIngest } from '../ingest-plan.js';
import type {
  AccountAuditEntry,
  ApiTokenRecord,
  CloudStore,
  DeviceHealth,
  DeviceHealthFilter,
  DeviceRecord,
  EnrollmentTokenRecord,
  GatewayCredentialRecord,
  GatewayHealth,
  GatewayRecord,
  IngestMeta,
  IngestResult,
  ReadingRow,
  RollupRow,
  SignInAttempt,
  SignInKey,
  SiteNode,
  StoredAlarmTransition,
  StoreHandle,
  TimeRange,
  UserRecord,
} from '../port.js';
import { noDeviceStates, signInAttempt } from '../port.js';
import {
  type InventoryResult,
  inventoryCodes,
  planInventory,
  type RegistryBinding,
  type RegistryDevice,
  type RegistryFilter,
  registryListQuery,
  registryParams,
  registryUpsertSql,
  toInventoryState,
  toRegistryBinding,
  toRegistryDevice,
} from '../registry.js';
import * as rows from '../rows.js';
import * as q from '../sql-queries.js';
import {
  POSTGRES_DIALECT as D,
  POSTGRES_DIALECT,
  rejectedBatchUpsert,
  signInCountUpsert,
} from '../sql-shared.js';
import { fencedMaxReadingId, foldChunk, ingestPlan, LOCK, readingSites, retentionStep } from './ingest.js';
import { POSTGRES_MIGRATIONS } from './schema.js';

/** Advisory lock serialising inventory applies (applyInventory). */
const REGISTRY_LOCK = 0x646f_0106;

export interface PostgresCloudStoreOptions {
  url: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Attempts for a transaction failing with a deadlock or serialization error (default 5). */
  retries?: number;
}

/** SQLSTATEs worth retrying: serialization_failure, deadlock_detected. */
const RETRYABLE = new Set(['40001', '40P01']);
const sqlState = (error: unknown) => (error as { code?: string })?.code;

/** The server settings settingWarnings() reads (`current_setting` text; min_wal_bytes in bytes). */
export interface ServerSettings {
  fsync: string;
  full_page_writes: string;
  synchronous_commit: string;
  min_wal_size: string;
  min_wal_bytes: number;
}

/**
 * Below this, a burst of ingest (gateways draining after an outage) runs past the recycled WAL
 * segments, and every commit — alarms too — waits for each new 16 MB segment to be zero-filled
 * (≈ 40–50 ms each, measured: cloud/store/README.md, "letting alarms through").
 */
export const ADVISED_MIN_WAL_BYTES = 2 * 1024 ** 3;

export function settingWarnings(s: ServerSettings): DoorstepError[] {
  const warn = (setting: keyof ServerSettings, risk: string) =>
    new DoorstepError('CLOUD_ERR_STORE_SETTING', { setting, value: s[setting], risk });
  const out: DoorstepError[] = [];
  // A batch is acknowledged after COMMIT and the gateway then drops it from its outbox: only a
  // commit that is on disk keeps the exactly-once promise across a crash.
  if (s.fsync !== 'on')
    out.push(warn('fsync', 'a crash can lose or corrupt batches already acknowledged to gateways'));
  if (s.full_page_writes !== 'on')
    out.push(warn('full_page_writes', 'a crash can leave torn pages and corrupt the database'));
  if (s.synchronous_commit === 'off')
    out.push(
      warn('synchronous_commit', 'a crash can lose the last batches already acknowledged to gateways'),
    );
  if (s.min_wal_bytes < ADVISED_MIN_WAL_BYTES)
    out.push(
      warn(
        'min_wal_size',
        'under heavy ingest every commit, alarms too, waits ≈ 40–50 ms for each new WAL segment; 2GB or more advised',
      ),
    );
  return out;
}

/**
 * Rollup and retention slices on PostgreSQL. The work runs in the server, not on the event loop,
 * but one 500 000-id fold was seconds of a core and a burst of WAL that alarm commits waited for;
 * ≈ 100 ms slices with pauses while alarms are in flight keep both short.
 */
const ROLLUP_SLICES: SliceBounds = { sliceMs: 100, start: 20_000, min: 2_000, max: 500_000 };
const RETENTION_SLICES: SliceBounds = { sliceMs: 100, start: 10_000, min: 1_000, max: 50_000 };

/** bigint (int8) as a JS number: every value stored here (ms timestamps, seqs, counts) is < 2^53. */
const TYPES = new pg.TypeOverrides();
TYPES.setTypeParser(20, (v: string) => Number(v));

export class PostgresCloudStore implements CloudStore {
  readonly #options: PostgresCloudStoreOptions;
  #pool: pg.Pool | undefined;
  #closed = false;

  constructor(options: PostgresCloudStoreOptions) {
    this.#options = options;
  }

  handle(): StoreHandle {
    return { kind: 'postgres', pool: this.#p('handle') };
  }

  #p(operation: string): pg.Pool {
    if (this.#closed) throw closedError(operation);
    if (!this.#pool) {
      this.#pool = new pg.Pool({
        connectionString: this.#options.url,
        max: this.#options.poolSize ?? 10,
        types: TYPES,
      });
      // An idle client losing its connection must not crash the process; the next query reports it.
      this.#pool.on('error', () => {});
    }
    return this.#pool;
  }

  async #query(operation: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<rows.Row>> {
    return this.#p(operation).query(sql, params);
  }

  /** Runs `fn` in a transaction, retrying deadlocks and serialization failures with jittered backoff. */
  async #tx<T>(operation: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const attempts = this.#options.retries ?? 5;
    for (let attempt = 1; ; attempt++) {
      const client = await this.#p(operation).connect();
      try {
        await client.query('BEGIN');
        const value = await fn(client);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        if (!RETRYABLE.has(sqlState(error) ?? '')) throw error;
        if (attempt >= attempts) throw unavailable(operation, error);
        // A lock conflict clears in milliseconds: linear spacing, jittered so the losers do not meet again.
        await new Promise((r) => setTimeout(r, 5 * attempt + fullJitterMs(10 * attempt)));
      } finally {
        client.release();
      }
    }
  }

  async #insert(operation: string, what: string, id: string, sql: string, params: unknown[]): Promise<void> {
    try {
      await this.#query(operation, sql, params);
    } catch (error) {
      if (sqlState(error) === '23505') throw conflict(what, id);
      throw error;
    }
  }

  async #rows(operation: string, query: q.Query): Promise<rows.Row[]> {
    return (await this.#query(operation, query.sql, query.params)).rows;
  }

  async settingWarnings(): Promise<DoorstepError[]> {
    const r = await this.#query(
      'settingWarnings',
      `SELECT current_setting('fsync') AS fsync, current_setting('full_page_writes') AS full_page_writes,
         current_setting('synchronous_commit') AS synchronous_commit, current_setting('min_wal_size') AS min_wal_size,
         pg_size_bytes(current_setting('min_wal_size')) AS min_wal_bytes`,
    );
    return settingWarnings(r.rows[0] as unknown as ServerSettings);
  }

  async migrate(): Promise<void> {
    await this.#tx('migrate', async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK.migrate]);
      await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
      const current = (
        await c.query<{ v: number }>('SELECT coalesce(max(version), 0) AS v FROM schema_migrations')
      ).rows[0]!.v;
      const latest = POSTGRES_MIGRATIONS.at(-1)?.version ?? 0;
      if (current > latest)
        throw new DoorstepError('CLOUD_ERR_STORE_SCHEMA', { found: current, supported: latest });
      for (const m of POSTGRES_MIGRATIONS) {
        if (m.version <= current) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  }

  // ── site registry ──────────────────────────────────────────────────────────────────────────
  async upsertSite(node: SiteNode): Promise<void> {
    await this.#query(
      'upsertSite',
      `INSERT INTO sites (path, level, name) VALUES ($1, $2, $3)
       ON CONFLICT (path) DO UPDATE SET level = excluded.level, name = excluded.name`,
      [node.path, node.level, node.name],
    );
  }
  async listSites(scope: string): Promise<SiteNode[]> {
    return (await this.#rows('listSites', q.scopedListQuery(D, 'sites', scope))).map(rows.toSite);
  }
  async createGateway(g: GatewayRecord): Promise<void> {
    await this.#insert(
      'createGateway',
      'gateway',
      g.id,
      'INSERT INTO gateways (id, site_path, name, status, created_at) VALUES ($1, $2, $3, $4, $5)',
      [g.id, sitePathString(g.site), g.name ?? null, g.status, g.createdAt],
    );
  }
  async getGateway(id: string): Promise<GatewayRecord | undefined> {
    const r = (await this.#query('getGateway', 'SELECT * FROM gateways WHERE id = $1', [id])).rows[0];
    return r && rows.toGateway(r);
  }
  async listGateways(scope: string): Promise<GatewayRecord[]> {
    return (await this.#rows('listGateways', q.scopedListQuery(D, 'gateways', scope))).map(rows.toGateway);
  }
  async setGatewayStatus(id: string, status: GatewayRecord['status']): Promise<void> {
    const r = await this.#query('setGatewayStatus', 'UPDATE gateways SET status = $1 WHERE id = $2', [
      status,
      id,
    ]);
    if (r.rowCount === 0) throw notFound('gateway', id);
  }
  async upsertDevices(devices: readonly DeviceRecord[]): Promise<void> {
    if (devices.length === 0) return;
    // Sorted and de-duplicated: one statement may not touch a row twice, and a fixed order avoids deadlocks.
    const byKey = new Map(devices.map((d) => [`${d.gateway}\u0000${d.id}`, d]));
    const list = [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, d]) => d);
    await this.#tx('upsertDevices', (c) =>
      c.query(
        `INSERT INTO devices (gateway, id, site_path, kind, profile, location)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         ON CONFLICT (gateway, id) DO UPDATE SET site_path = excluded.site_path,
         kind = coalesce(excluded.kind, devices.kind), profile = coalesce(excluded.profile, devices.profile),
         location = coalesce(excluded.location, devices.location)`,
        [
          list.map((d) => d.gateway),
          list.map((d) => d.id),
          list.map((d) => sitePathString(d.site)),
          list.map((d) => d.kind ?? null),
          list.map((d) => d.profile ?? null),
          list.map((d) => d.location ?? null),
        ],
      ),
    );
  }
  async countDevices(gateway: string): Promise<number> {
    const [r] = await this.#rows('countDevices', {
      sql: 'SELECT count(*) AS n FROM devices WHERE gateway = $1',
      params: [gateway],
    });
    return Number(r?.['n'] ?? 0);
  }
  async knownDevices(gateway: string, ids: readonly string[]): Promise<string[]> {
    const found = await this.#rows('knownDevices', {
      sql: 'SELECT id FROM devices WHERE gateway = $1 AND id = ANY($2::text[])',
      params: [gateway, [...ids]],
    });
    return found.map((r) => String(r['id']));
  }
  async listDevices(scope: string): Promise<DeviceRecord[]> {
    return (await this.#rows('listDevices', q.scopedListQuery(D, 'devices', scope))).map(rows.toDevice);
  }

  // ── device registry ────────────────────────────────────────────────────────────────────────
  async applyInventory(gateway: GatewayRecord, part: InventoryEvent, now: number): Promise<InventoryResult> {
    const codes = inventoryCodes(gateway.id, part);
    return this.#tx('applyInventory', async (c) => {
      // One inventory at a time in the district: a part may move a record from another gateway,
      // so per-gateway locks would not do. Inventories come at start and reload only.
      await c.query('SELECT pg_advisory_xact_lock($1)', [REGISTRY_LOCK]);
      const stateRow = (await c.query('SELECT * FROM registry_inventory WHERE gateway = $1', [gateway.id]))
        .rows[0] as rows.Row | undefined;
      const bound = (
        await c.query('SELECT * FROM registry_devices WHERE gateway = $1 AND removed_at IS NULL', [
          gateway.id,
        ])
      ).rows.map(toRegistryDevice);
      const byCode = (await c.query('SELECT * FROM registry_devices WHERE code = ANY($1)', [codes])).rows.map(
        toRegistryDevice,
      );
      const plan = planInventory(
        gateway,
        part,
        { ...(stateRow ? { state: toInventoryState(stateRow) } : {}), bound, byCode },
        now,
      );
      if (!plan) return { applied: false, added: 0, updated: 0, moved: 0, removed: 0, complete: false };
      const st = plan.state;
      await c.query(
        `INSERT INTO registry_inventory (gateway, generation, parts, received, complete_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (gateway) DO UPDATE SET generation = excluded.generation,
         parts = excluded.parts, received = excluded.received, complete_at = excluded.complete_at,
         updated_at = excluded.updated_at`,
        [
          st.gateway,
          st.generation,
          st.parts,
          JSON.stringify(st.received),
          st.completeAt ?? null,
          st.updatedAt,
        ],
      );
      if (plan.closeBindings.length > 0)
        await c.query(
          'UPDATE registry_bindings SET until_at = $1 WHERE code = ANY($2) AND until_at IS NULL',
          [now, plan.closeBindings],
        );
      const upsert = registryUpsertSql(POSTGRES_DIALECT);
      for (const r of plan.upserts) await c.query(upsert, registryParams(r));
      for (const b of plan.openBindings)
        await c.query(
          'INSERT INTO registry_bindings (code, gateway, device, site_path, since_at) VALUES ($1, $2, $3, $4, $5)',
          [b.code, b.gateway, b.device, sitePathString(b.site), b.since],
        );
      const list = [...plan.devices].sort((a, b) => (a.id < b.id ? -1 : 1));
      if (list.length > 0)
        await c.query(
          `INSERT INTO devices (gateway, id, site_path, kind, profile, location)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
           ON CONFLICT (gateway, id) DO UPDATE SET site_path = excluded.site_path, kind = excluded.kind,
           profile = excluded.profile, location = excluded.location`,
          [
            list.map((d) => d.gateway),
            list.map((d) => d.id),
            list.map((d) => sitePathString(d.site)),
            list.map((d) => d.kind ?? null),
            list.map((d) => d.profile ?? null),
            list.map((d) => d.location ?? null),
          ],
        );
      return plan.result;
    });
  }
  async listRegistry(scope: string, filter: RegistryFilter = {}): Promise<RegistryDevice[]> {
    return (await this.#rows('listRegistry', registryListQuery(D, scope, filter))).map(toRegistryDevice);
  }
  async getRegistryDevice(
    scope: string,
    code: string,
  ): Promise<{ device: RegistryDevice; bindings: RegistryBinding[] } | undefined> {
    checkScope(scope);
    const [row] = await this.#rows('getRegistryDevice', {
      sql: 'SELECT * FROM registry_devices WHERE code = $1',
      params: [code],
    });
    if (!row) return undefined;
    const device = toRegistryDevice(row);
    if (!pathInScope(scope, sitePathString(device.site))) return undefined;
    const bindings = (
      await this.#rows('getRegistryDevice', {
        sql: 'SELECT * FROM registry_bindings WHERE code = $1 ORDER BY id',
        params: [code],
      })
    ).map(toRegistryBinding);
    return { device, bindings };
  }

  // ── credentials ────────────────────────────────────────────────────────────────────────────
  async createEnrollmentToken(t: EnrollmentTokenRecord): Promise<void> {
    await this.#insert(
      'createEnrollmentToken',
      'enrolment token',
      t.id,
      `INSERT INTO enrollment_tokens (id, secret_hash, scope, created_by, created_at, expires_at, uses_left)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [t.id, t.secretHash, t.scope, t.createdBy, t.createdAt, t.expiresAt, t.usesLeft],
    );
  }
  async consumeEnrollmentToken(secretHash: string, now: number): Promise<EnrollmentTokenRecord | undefined> {
    // One UPDATE: the row lock makes concurrent consumers queue, each re-checking uses_left > 0.
    const r = await this.#query(
      'consumeEnrollmentToken',
      `UPDATE enrollment_tokens SET uses_left = uses_left - 1
       WHERE secret_hash = $1 AND uses_left > 0 AND expires_at > $2 RETURNING *`,
      [secretHash, now],
    );
    return r.rows[0] && rows.toEnrollmentToken(r.rows[0]);
  }
  async findEnrollmentToken(secretHash: string): Promise<EnrollmentTokenRecord | undefined> {
    const r = await this.#query(
      'findEnrollmentToken',
      'SELECT * FROM enrollment_tokens WHERE secret_hash = $1',
      [secretHash],
    );
    return r.rows[0] && rows.toEnrollmentToken(r.rows[0]);
  }
  async addGatewayCredential(c: GatewayCredentialRecord): Promise<void> {
    await this.#insert(
      'addGatewayCredential',
      'gateway credential',
      c.id,
      `INSERT INTO gateway_credentials (id, gateway, secret_hash, created_at, expires_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [c.id, c.gateway, c.secretHash, c.createdAt, c.expiresAt ?? null, c.revokedAt ?? null],
    );
  }
  async findGatewayCredential(secretHash: string, now: number): Promise<GatewayCredentialRecord | undefined> {
    const r = await this.#query(
      'findGatewayCredential',
      `SELECT * FROM gateway_credentials WHERE secret_hash = $1 AND revoked_at IS NULL
       AND (expires_at IS NULL OR expires_at > $2)`,
      [secretHash, now],
    );
    return r.rows[0] && rows.toCredential(r.rows[0]);
  }
  async expireOtherCredentials(gateway: string, keep: string, expiresAt: number): Promise<void> {
    await this.#query(
      'expireOtherCredentials',
      `UPDATE gateway_credentials SET expires_at = $1 WHERE gateway = $2 AND id <> $3
       AND (expires_at IS NULL OR expires_at > $1)`,
      [expiresAt, gateway, keep],
    );
  }
  async revokeGatewayCredentials(gateway: string, now: number): Promise<number> {
    const r = await this.#query(
      'revokeGatewayCredentials',
      'UPDATE gateway_credentials SET revoked_at = $1 WHERE gateway = $2 AND revoked_at IS NULL',
      [now, gateway],
    );
    return r.rowCount ?? 0;
  }
  async createUser(u: UserRecord): Promise<void> {
    await this.#insert(
      'createUser',
      'user',
      `${u.id} (${u.username})`,
      `INSERT INTO users (id, username, password_hash, scope, role, display_name, created_at, disabled, failed_logins,
       locked_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        u.id,
        u.username,
        u.passwordHash ?? null,
        u.scope,
        u.role,
        u.displayName ?? null,
        u.createdAt,
        u.disabled,
        u.failedLogins,
        u.lockedUntil ?? null,
      ],
    );
  }
  async getUserByName(username: string): Promise<UserRecord | undefined> {
    const r = (await this.#query('getUserByName', 'SELECT * FROM users WHERE username = $1', [username]))
      .rows[0];
    return r && rows.toUser(r);
  }
  async getUser(id: string): Promise<UserRecord | undefined> {
    const r = (await this.#query('getUser', 'SELECT * FROM users WHERE id = $1', [id])).rows[0];
    return r && rows.toUser(r);
  }
  async updateUserLogin(id: string, f: Pick<UserRecord, 'failedLogins' | 'lockedUntil'>): Promise<void> {
    const r = await this.#query(
      'updateUserLogin',
      'UPDATE users SET failed_logins = $1, locked_until = $2 WHERE id = $3',
      [f.failedLogins, f.lockedUntil ?? null, id],
    );
    if (r.rowCount === 0) throw notFound('user', id);
  }
  async listUsers(scope: string): Promise<UserRecord[]> {
    const query = q.usersQuery(D, scope);
    return (await this.#query('listUsers', query.sql, query.params)).rows.map(rows.toUser);
  }
  async setUserDisabled(id: string, disabled: boolean): Promise<void> {
    const r = await this.#query('setUserDisabled', 'UPDATE users SET disabled = $1 WHERE id = $2', [
      disabled,
      id,
    ]);
    if (r.rowCount === 0) throw notFound('user', id);
  }
  async setUserPassword(id: string, passwordHash: string): Promise<void> {
    const r = await this.#query('setUserPassword', 'UPDATE users SET password_hash = $1 WHERE id = $2', [
      passwordHash,
      id,
    ]);
    if (r.rowCount === 0) throw notFound('user', id);
  }
  async countSignInAttempt(
    key: SignInKey,
    now: number,
    quietSince: number,
    forgetSince: number,
  ): Promise<SignInAttempt> {
    const r = (
      await this.#query('countSignInAttempt', signInCountUpsert(D), [
        key.username,
        key.source,
        now,
        quietSince,
        forgetSince,
      ])
    ).rows[0] as { attempts: number; locks: number; locked_until: string | number };
    return signInAttempt({ ...r, locked_until: Number(r.locked_until) });
  }
  async lockSignIn(key: SignInKey, until: number): Promise<void> {
    await this.#query(
      'lockSignIn',
      'UPDATE signin_attempts SET locked_until = $1, locks = locks + 1 WHERE username = $2 AND source = $3',
      [until, key.username, key.source],
    );
  }
  async clearSignIn(key: SignInKey, attempt: number): Promise<boolean> {
    const sql = 'DELETE FROM signin_attempts WHERE username = $1 AND source = $2 AND attempts = $3';
    return ((await this.#query('clearSignIn', sql, [key.username, key.source, attempt])).rowCount ?? 0) > 0;
  }
  async purgeSignIns(before: number): Promise<number> {
    const sql = 'DELETE FROM signin_attempts WHERE updated_at < $1 AND locked_until < $1';
    return (await this.#query('purgeSignIns', sql, [before])).rowCount ?? 0;
  }
  async createApiToken(t: ApiTokenRecord): Promise<void> {
    await this.#insert(
      'createApiToken',
      'API token',
      t.id,
      `INSERT INTO api_tokens (id, user_id, secret_hash, scope, role, created_at, expires_at, revoked_at, label)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        t.id,
        t.user,
        t.secretHash,
        t.scope,
        t.role,
        t.createdAt,
        t.expiresAt ?? null,
        t.revokedAt ?? null,
        t.label ?? null,
      ],
    );
  }
  async findApiToken(secretHash: string, now: number): Promise<ApiTokenRecord | undefined> {
    const r = await this.#query(
      'findApiToken',
      'SELECT * FROM api_tokens WHERE secret_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)',
      [secretHash, now],
    );
    return r.rows[0] && rows.toApiToken(r.rows[0]);
  }
  async listApiTokens(user: string): Promise<ApiTokenRecord[]> {
    const r = await this.#query(
      'listApiTokens',
      'SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id',
      [user],
    );
    return r.rows.map(rows.toApiToken);
  }
  async touchApiToken(id: string, now: number): Promise<void> {
    await this.#query(
      'touchApiToken',
      'UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)',
      [now, id],
    );
  }
  async appendAccountAudit(e: AccountAuditEntry): Promise<void> {
    await this.#query(
      'appendAccountAudit',
      `INSERT INTO account_audit (at, actor_id, actor, action, user_id, username, scope, ip, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        e.at,
        e.actorId ?? null,
        e.actor,
        e.action,
        e.userId,
        e.username,
        e.scope,
        e.ip ?? null,
        e.detail === undefined ? null : JSON.stringify(e.detail),
      ],
    );
  }
  async listAccountAudit(
    scope: string,
    filter: { userId?: string; limit?: number } = {},
  ): Promise<AccountAuditEntry[]> {
    const query = q.accountAuditQuery(D, scope, filter);
    return (await this.#query('listAccountAudit', query.sql, query.params)).rows.map(rows.toAccountAudit);
  }
  async revokeApiToken(id: string, now: number): Promise<void> {
    const r = await this.#query(
      'revokeApiToken',
      'UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2',
      [now, id],
    );
    if (r.rowCount === 0) throw notFound('API token', id);
  }

  // ── ingest ─────────────────────────────────────────────────────────────────────────────────
  async ingestBatch(gateway: GatewayRecord, batch: UplinkBatch, meta: IngestMeta): Promise<IngestResult> {
    this.#p('ingestBatch');
    const plan = planIngest(gateway, batch, meta);
    return this.#tx('ingestBatch', (c) => ingestPlan(c, plan, meta.smallInFlight));
  }
  async recordRejectedBatch(gateway: string, now: number): Promise<void> {
    await this.#query('recordRejectedBatch', rejectedBatchUpsert(D), [gateway, now]);
  }

  // ── queries ────────────────────────────────────────────────────────────────────────────────
  async queryReadings(
    scope: string,
    filter: { gateway?: string; device?: string; point?: string } & TimeRange,
  ): Promise<ReadingRow[]> {
    return (await this.#rows('queryReadings', q.readingsQuery(D, scope, filter))).map(rows.toReading);
  }
  async queryAlarmTransitions(
    scope: string,
    filter: { gateway?: string; device?: string; alarm?: string; type?: string } & TimeRange,
  ): Promise<StoredAlarmTransition[]> {
    return (await this.#rows('queryAlarmTransitions', q.alarmsQuery(D, scope, filter))).map(rows.toAlarm);
  }
  async queryRollups(
    scope: string,
    filter: { resolution: '1m' | '1h'; gateway?: string; device?: string; point?: string } & TimeRange,
  ): Promise<RollupRow[]> {
    return (await this.#rows('queryRollups', q.rollupsQuery(D, scope, filter))).map(rows.toRollup);
  }
  async listDeviceHealth(scope: string, filter?: DeviceHealthFilter): Promise<DeviceHealth[]> {
    return (await this.#rows('listDeviceHealth', q.deviceHealthQuery(D, scope, filter))).map(
      rows.toDeviceHealth,
    );
  }
  async countDeviceStates(scope: string): Promise<Record<DeviceHealth['state'], number>> {
    const counts = noDeviceStates();
    for (const r of await this.#rows('countDeviceStates', q.deviceStateCountsQuery(D, scope)))
      counts[r['state'] as DeviceHealth['state']] = Number(r['n']);
    return counts;
  }
  async listGatewayHealth(scope: string): Promise<GatewayHealth[]> {
    return (await this.#rows('listGatewayHealth', q.gatewayHealthQuery(D, scope))).map(rows.toGatewayHealth);
  }
  async countRecords(gateway?: string): Promise<{ alarms: number; events: number; telemetry: number }> {
    const where = gateway === undefined ? '' : ' WHERE gateway = $1';
    const r = await this.#query(
      'countRecords',
      `SELECT (SELECT count(*) FROM alarm_transitions${where}) AS alarms, (SELECT count(*) FROM events${where}) AS events,
       (SELECT count(*) FROM readings${where}) AS telemetry`,
      gateway === undefined ? [] : [gateway],
    );
    const row = r.rows[0]!;
    return { alarms: row.alarms, events: row.events, telemetry: row.telemetry };
  }

  // ── maintenance ────────────────────────────────────────────────────────────────────────────
  async rollup(_now: number, options?: BackgroundOptions): Promise<{ readings: number }> {
    const upTo = await this.#tx('rollup', fencedMaxReadingId);
    const readings = await inSlices(
      (size) => this.#tx('rollup', (c) => foldChunk(c, upTo, size)),
      ROLLUP_SLICES,
      options,
    );
    return { readings };
  }

  async applyRetention(
    now: number,
    policy: { rawDays: number; minuteDays: number },
    options?: BackgroundOptions,
  ): Promise<{ deleted: number }> {
    let deleted = 0;
    const sites = await this.#tx('applyRetention', readingSites);
    for (const what of [...sites.map((site) => ({ site })), 'minute' as const]) {
      deleted += await inSlices(
        async (limit) => {
          const n = await this.#tx('applyRetention', (c) => retentionStep(c, now, policy, what, limit));
          return n === 0 ? -1 : n;
        },
        RETENTION_SLICES,
        options,
      );
    }
    return { deleted };
  }
}
