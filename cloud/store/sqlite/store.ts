/**
 * CloudStore on SQLite (better-sqlite3): the embedded default for one district on one machine.
 * WAL, synchronous=FULL (an acknowledged batch survives power loss: WAL + NORMAL may lose the last
 * commits — docs/field-lessons.md, library pitfalls), one writer at a time through BEGIN IMMEDIATE
 * and a busy timeout. The constructor does no I/O; the file opens on first use.
 */
import Database from 'better-sqlite3';
import { DoorstepError, type InventoryEvent, type UplinkBatch } from '../../../protocol/index.js';
import { type BackgroundOptions, checkScope, closedError, pathInScope, sitePathString } from '../common.js';
import { conflict, notFound } from '../errors.js';
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
  SQLITE_DIALECT as D,
  rejectedBatchUpsert,
  SQLITE_DIALECT,
  signInCountUpsert,
} from '../sql-shared.js';
import { WalCheckpointer } from './checkpointer.js';
import { SqliteWriter } from './ingest.js';
import { SQLITE_MIGRATIONS } from './schema.js';

export interface SqliteCloudStoreOptions {
  /** Database file; `:memory:` works for tests but is not durable. */
  path: string;
  /** How long a writer waits for another process's write lock, ms. */
  busyTimeoutMs?: number;
  /** WAL checkpoints on a worker thread (default true for files; see checkpointer.ts). */
  checkpointInWorker?: boolean;
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class SqliteCloudStore implements CloudStore {
  readonly #options: SqliteCloudStoreOptions;
  #db: Database.Database | undefined;
  #writer: SqliteWriter | undefined;
  #checkpointer: WalCheckpointer | undefined;
  #closed = false;

  constructor(options: SqliteCloudStoreOptions) {
    this.#options = options;
  }

  handle(): StoreHandle {
    return { kind: 'sqlite', db: this.#open('handle') };
  }

  #open(operation: string): Database.Database {
    if (this.#closed) throw closedError(operation);
    if (!this.#db) {
      const db = new Database(this.#options.path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma(`busy_timeout = ${this.#options.busyTimeoutMs ?? 5000}`);
      // Readings arrive interleaved over thousands of series, so the (gateway, device, point, time)
      // index is updated all over: a 2 MiB default page cache turns that into disk reads. A cloud
      // server can spare 64 MiB.
      db.pragma('cache_size = -65536');
      const path = this.#options.path;
      if (path !== ':memory:' && path !== '' && this.#options.checkpointInWorker !== false) {
        // Checkpoints run on a worker thread (checkpointer.ts); this connection checkpoints itself
        // only if the WAL grows past 64 MiB (16 384 pages of 4 KiB), i.e. should the worker fall behind.
        db.pragma('wal_autocheckpoint = 16384');
        this.#checkpointer = new WalCheckpointer({ path });
      }
      this.#db = db;
    }
    return this.#db;
  }

  #w(operation: string): SqliteWriter {
    const db = this.#open(operation);
    this.#writer ??= new SqliteWriter(db);
    return this.#writer;
  }

  #all(operation: string, query: q.Query): rows.Row[] {
    return this.#open(operation)
      .prepare(query.sql)
      .all(...query.params) as rows.Row[];
  }

  #get(operation: string, sql: string, ...params: unknown[]): rows.Row | undefined {
    return this.#open(operation)
      .prepare(sql)
      .get(...params) as rows.Row | undefined;
  }

  #run(operation: string, sql: string, ...params: unknown[]): Database.RunResult {
    return this.#open(operation)
      .prepare(sql)
      .run(...params);
  }

  #insert(operation: string, what: string, id: string, sql: string, ...params: unknown[]): void {
    try {
      this.#run(operation, sql, ...params);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(what, id);
      throw error;
    }
  }

  async migrate(): Promise<void> {
    const db = this.#open('migrate');
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    db.transaction(() => {
      const current = (
        db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations').get() as { v: number }
      ).v;
      const latest = SQLITE_MIGRATIONS.at(-1)?.version ?? 0;
      if (current > latest)
        throw new DoorstepError('CLOUD_ERR_STORE_SCHEMA', { found: current, supported: latest });
      for (const m of SQLITE_MIGRATIONS) {
        if (m.version <= current) continue;
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          m.version,
          m.name,
          Date.now(),
        );
      }
    }).immediate();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#writer = undefined;
    await this.#checkpointer?.stop();
    this.#checkpointer = undefined;
    this.#db?.close();
    this.#db = undefined;
  }

  // ── site registry ──────────────────────────────────────────────────────────────────────────
  async upsertSite(node: SiteNode): Promise<void> {
    this.#run(
      'upsertSite',
      `INSERT INTO sites (path, level, name) VALUES (?, ?, ?)
       ON CONFLICT (path) DO UPDATE SET level = excluded.level, name = excluded.name`,
      node.path,
      node.level,
      node.name,
    );
  }
  async listSites(scope: string): Promise<SiteNode[]> {
    return this.#all('listSites', q.scopedListQuery(D, 'sites', scope)).map(rows.toSite);
  }
  async createGateway(g: GatewayRecord): Promise<void> {
    this.#insert(
      'createGateway',
      'gateway',
      g.id,
      'INSERT INTO gateways (id, site_path, name, status, created_at) VALUES (?, ?, ?, ?, ?)',
      g.id,
      sitePathString(g.site),
      g.name ?? null,
      g.status,
      g.createdAt,
    );
  }
  async getGateway(id: string): Promise<GatewayRecord | undefined> {
    const r = this.#get('getGateway', 'SELECT * FROM gateways WHERE id = ?', id);
    return r && rows.toGateway(r);
  }
  async listGateways(scope: string): Promise<GatewayRecord[]> {
    return this.#all('listGateways', q.scopedListQuery(D, 'gateways', scope)).map(rows.toGateway);
  }
  async setGatewayStatus(id: string, status: GatewayRecord['status']): Promise<void> {
    if (
      this.#run('setGatewayStatus', 'UPDATE gateways SET status = ? WHERE id = ?', status, id).changes === 0
    )
      throw notFound('gateway', id);
  }
  async upsertDevices(devices: readonly DeviceRecord[]): Promise<void> {
    const db = this.#open('upsertDevices');
    const stmt =
      db.prepare(`INSERT INTO devices (gateway, id, site_path, kind, profile, location) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (gateway, id) DO UPDATE SET site_path = excluded.site_path,
      kind = coalesce(excluded.kind, devices.kind), profile = coalesce(excluded.profile, devices.profile),
      location = coalesce(excluded.location, devices.location)`);
    db.transaction(() => {
      for (const d of devices)
        stmt.run(
          d.gateway,
          d.id,
          sitePathString(d.site),
          d.kind ?? null,
          d.profile ?? null,
          d.location ?? null,
        );
    }).immediate();
  }
  async countDevices(gateway: string): Promise<number> {
    const r = this.#get('countDevices', 'SELECT count(*) AS n FROM devices WHERE gateway = ?', gateway);
    return Number(r?.['n'] ?? 0);
  }
  async knownDevices(gateway: string, ids: readonly string[]): Promise<string[]> {
    // One JSON parameter instead of one per id: a batch may name up to 100 000 series, past
    // SQLite's bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER, 32 766).
    return this.#all('knownDevices', {
      sql: 'SELECT id FROM devices WHERE gateway = ? AND id IN (SELECT value FROM json_each(?))',
      params: [gateway, JSON.stringify(ids)],
    }).map((r) => String(r['id']));
  }
  // ── device registry ────────────────────────────────────────────────────────────────────────
  async applyInventory(gateway: GatewayRecord, part: InventoryEvent, now: number): Promise<InventoryResult> {
    const db = this.#open('applyInventory');
    const codes = inventoryCodes(gateway.id, part);
    return db
      .transaction((): InventoryResult => {
        const stateRow = db.prepare('SELECT * FROM registry_inventory WHERE gateway = ?').get(gateway.id) as
          | rows.Row
          | undefined;
        const bound = (
          db
            .prepare('SELECT * FROM registry_devices WHERE gateway = ? AND removed_at IS NULL')
            .all(gateway.id) as rows.Row[]
        ).map(toRegistryDevice);
        const byCode = (
          db
            .prepare('SELECT * FROM registry_devices WHERE code IN (SELECT value FROM json_each(?))')
            .all(JSON.stringify(codes)) as rows.Row[]
        ).map(toRegistryDevice);
        const plan = planInventory(
          gateway,
          part,
          { ...(stateRow ? { state: toInventoryState(stateRow) } : {}), bound, byCode },
          now,
        );
        if (!plan) return { applied: false, added: 0, updated: 0, moved: 0, removed: 0, complete: false };
        const st = plan.state;
        db.prepare(
          `INSERT INTO registry_inventory (gateway, generation, parts, received, complete_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (gateway) DO UPDATE SET generation = excluded.generation,
           parts = excluded.parts, received = excluded.received, complete_at = excluded.complete_at,
           updated_at = excluded.updated_at`,
        ).run(
          st.gateway,
          st.generation,
          st.parts,
          JSON.stringify(st.received),
          st.completeAt ?? null,
          st.updatedAt,
        );
        const close = db.prepare(
          'UPDATE registry_bindings SET until_at = ? WHERE code = ? AND until_at IS NULL',
        );
        for (const code of plan.closeBindings) close.run(now, code);
        const upsert = db.prepare(registryUpsertSql(SQLITE_DIALECT));
        for (const r of plan.upserts) upsert.run(...registryParams(r));
        const open = db.prepare(
          'INSERT INTO registry_bindings (code, gateway, device, site_path, since_at) VALUES (?, ?, ?, ?, ?)',
        );
        for (const b of plan.openBindings)
          open.run(b.code, b.gateway, b.device, sitePathString(b.site), b.since);
        const device =
          db.prepare(`INSERT INTO devices (gateway, id, site_path, kind, profile, location) VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (gateway, id) DO UPDATE SET site_path = excluded.site_path, kind = excluded.kind,
          profile = excluded.profile, location = excluded.location`);
        for (const d of plan.devices)
          device.run(
            d.gateway,
            d.id,
            sitePathString(d.site),
            d.kind ?? null,
            d.profile ?? null,
            d.location ?? null,
          );
        return plan.result;
      })
      .immediate();
  }
  async listRegistry(scope: string, filter: RegistryFilter = {}): Promise<RegistryDevice[]> {
    return this.#all('listRegistry', registryListQuery(D, scope, filter)).map(toRegistryDevice);
  }
  async getRegistryDevice(
    scope: string,
    code: string,
  ): Promise<{ device: RegistryDevice; bindings: RegistryBinding[] } | undefined> {
    checkScope(scope);
    const row = this.#get('getRegistryDevice', 'SELECT * FROM registry_devices WHERE code = ?', code);
    if (!row) return undefined;
    const device = toRegistryDevice(row);
    if (!pathInScope(scope, sitePathString(device.site))) return undefined;
    const bindings = this.#all('getRegistryDevice', {
      sql: 'SELECT * FROM registry_bindings WHERE code = ? ORDER BY id',
      params: [code],
    }).map(toRegistryBinding);
    return { device, bindings };
  }

  async listDevices(scope: string): Promise<DeviceRecord[]> {
    return this.#all('listDevices', q.scopedListQuery(D, 'devices', scope)).map(rows.toDevice);
  }

  // ── credentials ────────────────────────────────────────────────────────────────────────────
  async createEnrollmentToken(t: EnrollmentTokenRecord): Promise<void> {
    this.#insert(
      'createEnrollmentToken',
      'enrolment token',
      t.id,
      `INSERT INTO enrollment_tokens (id, secret_hash, scope, created_by, created_at, expires_at, uses_left)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      t.id,
      t.secretHash,
      t.scope,
      t.createdBy,
      t.createdAt,
      t.expiresAt,
      t.usesLeft,
    );
  }
  async consumeEnrollmentToken(secretHash: string, now: number): Promise<EnrollmentTokenRecord | undefined> {
    // One statement: the check and the decrement cannot be split by another writer.
    const r = this.#get(
      'consumeEnrollmentToken',
      `UPDATE enrollment_tokens SET uses_left = uses_left - 1
       WHERE secret_hash = ? AND uses_left > 0 AND expires_at > ? RETURNING *`,
      secretHash,
      now,
    );
    return r && rows.toEnrollmentToken(r);
  }
  async findEnrollmentToken(secretHash: string): Promise<EnrollmentTokenRecord | undefined> {
    const r = this.#get(
      'findEnrollmentToken',
      'SELECT * FROM enrollment_tokens WHERE secret_hash = ?',
      secretHash,
    );
    return r && rows.toEnrollmentToken(r);
  }
  async addGatewayCredential(c: GatewayCredentialRecord): Promise<void> {
    this.#insert(
      'addGatewayCredential',
      'gateway credential',
      c.id,
      `INSERT INTO gateway_credentials (id, gateway, secret_hash, created_at, expires_at, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
      c.id,
      c.gateway,
      c.secretHash,
      c.createdAt,
      c.expiresAt ?? null,
      c.revokedAt ?? null,
    );
  }
  async findGatewayCredential(secretHash: string, now: number): Promise<GatewayCredentialRecord | undefined> {
    const r = this.#get(
      'findGatewayCredential',
      `SELECT * FROM gateway_credentials WHERE secret_hash = ? AND revoked_at IS NULL
       AND (expires_at IS NULL OR expires_at > ?)`,
      secretHash,
      now,
    );
    return r && rows.toCredential(r);
  }
  async expireOtherCredentials(gateway: string, keep: string, expiresAt: number): Promise<void> {
    this.#run(
      'expireOtherCredentials',
      `UPDATE gateway_credentials SET expires_at = ? WHERE gateway = ? AND id <> ?
       AND (expires_at IS NULL OR expires_at > ?)`,
      expiresAt,
      gateway,
      keep,
      expiresAt,
    );
  }
  async revokeGatewayCredentials(gateway: string, now: number): Promise<number> {
    return this.#run(
      'revokeGatewayCredentials',
      'UPDATE gateway_credentials SET revoked_at = ? WHERE gateway = ? AND revoked_at IS NULL',
      now,
      gateway,
    ).changes;
  }
  async createUser(u: UserRecord): Promise<void> {
    this.#insert(
      'createUser',
      'user',
      `${u.id} (${u.username})`,
      `INSERT INTO users (id, username, password_hash, scope, role, display_name, created_at, disabled, failed_logins,
       locked_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      u.id,
      u.username,
      u.passwordHash ?? null,
      u.scope,
      u.role,
      u.displayName ?? null,
      u.createdAt,
      u.disabled ? 1 : 0,
      u.failedLogins,
      u.lockedUntil ?? null,
    );
  }
  async getUserByName(username: string): Promise<UserRecord | undefined> {
    const r = this.#get('getUserByName', 'SELECT * FROM users WHERE username = ?', username);
    return r && rows.toUser(r);
  }
  async getUser(id: string): Promise<UserRecord | undefined> {
    const r = this.#get('getUser', 'SELECT * FROM users WHERE id = ?', id);
    return r && rows.toUser(r);
  }
  async updateUserLogin(id: string, f: Pick<UserRecord, 'failedLogins' | 'lockedUntil'>): Promise<void> {
    const sql = 'UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?';
    if (this.#run('updateUserLogin', sql, f.failedLogins, f.lockedUntil ?? null, id).changes === 0)
      throw notFound('user', id);
  }
  async listUsers(scope: string): Promise<UserRecord[]> {
    return this.#all('listUsers', q.usersQuery(D, scope)).map(rows.toUser);
  }
  async setUserDisabled(id: string, disabled: boolean): Promise<void> {
    if (
      this.#run('setUserDisabled', 'UPDATE users SET disabled = ? WHERE id = ?', disabled ? 1 : 0, id)
        .changes === 0
    )
      throw notFound('user', id);
  }
  async setUserPassword(id: string, passwordHash: string): Promise<void> {
    if (
      this.#run('setUserPassword', 'UPDATE users SET password_hash = ? WHERE id = ?', passwordHash, id)
        .changes === 0
    )
      throw notFound('user', id);
  }
  async countSignInAttempt(
    key: SignInKey,
    now: number,
    quietSince: number,
    forgetSince: number,
  ): Promise<SignInAttempt> {
    const r = this.#get(
      'countSignInAttempt',
      signInCountUpsert(D),
      key.username,
      key.source,
      now,
      quietSince,
      forgetSince,
    ) as { attempts: number; locks: number; locked_until: number };
    return signInAttempt(r);
  }
  async lockSignIn(key: SignInKey, until: number): Promise<void> {
    this.#run(
      'lockSignIn',
      'UPDATE signin_attempts SET locked_until = ?, locks = locks + 1 WHERE username = ? AND source = ?',
      until,
      key.username,
      key.source,
    );
  }
  async clearSignIn(key: SignInKey, attempt: number): Promise<boolean> {
    const sql = 'DELETE FROM signin_attempts WHERE username = ? AND source = ? AND attempts = ?';
    return this.#run('clearSignIn', sql, key.username, key.source, attempt).changes > 0;
  }
  async purgeSignIns(before: number): Promise<number> {
    const sql = 'DELETE FROM signin_attempts WHERE updated_at < ? AND locked_until < ?';
    return this.#run('purgeSignIns', sql, before, before).changes;
  }
  async createApiToken(t: ApiTokenRecord): Promise<void> {
    this.#insert(
      'createApiToken',
      'API token',
      t.id,
      `INSERT INTO api_tokens (id, user_id, secret_hash, scope, role, created_at, expires_at, revoked_at, label)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      t.id,
      t.user,
      t.secretHash,
      t.scope,
      t.role,
      t.createdAt,
      t.expiresAt ?? null,
      t.revokedAt ?? null,
      t.label ?? null,
    );
  }
  async findApiToken(secretHash: string, now: number): Promise<ApiTokenRecord | undefined> {
    const r = this.#get(
      'findApiToken',
      `SELECT * FROM api_tokens WHERE secret_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
      secretHash,
      now,
    );
    return r && rows.toApiToken(r);
  }
  async listApiTokens(user: string): Promise<ApiTokenRecord[]> {
    return this.#all('listApiTokens', {
      sql: 'SELECT * FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id',
      params: [user],
    }).map(rows.toApiToken);
  }
  async touchApiToken(id: string, now: number): Promise<void> {
    this.#run(
      'touchApiToken',
      'UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
      now,
      id,
      now,
    );
  }
  async appendAccountAudit(e: AccountAuditEntry): Promise<void> {
    this.#run(
      'appendAccountAudit',
      `INSERT INTO account_audit (at, actor_id, actor, action, user_id, username, scope, ip, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      e.at,
      e.actorId ?? null,
      e.actor,
      e.action,
      e.userId,
      e.username,
      e.scope,
      e.ip ?? null,
      e.detail === undefined ? null : JSON.stringify(e.detail),
    );
  }
  async listAccountAudit(
    scope: string,
    filter: { userId?: string; limit?: number } = {},
  ): Promise<AccountAuditEntry[]> {
    return this.#all('listAccountAudit', q.accountAuditQuery(D, scope, filter)).map(rows.toAccountAudit);
  }
  async revokeApiToken(id: string, now: number): Promise<void> {
    const r = this.#run(
      'revokeApiToken',
      'UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?',
      now,
      id,
    );
    if (r.changes === 0) throw notFound('API token', id);
  }

  // ── ingest ─────────────────────────────────────────────────────────────────────────────────
  async ingestBatch(gateway: GatewayRecord, batch: UplinkBatch, meta: IngestMeta): Promise<IngestResult> {
    const writer = this.#w('ingestBatch');
    return writer.ingestInSlices(planIngest(gateway, batch, meta), meta.smallInFlight);
  }
  async recordRejectedBatch(gateway: string, now: number): Promise<void> {
    this.#run('recordRejectedBatch', rejectedBatchUpsert(D), gateway, now);
  }

  // ── queries ────────────────────────────────────────────────────────────────────────────────
  async queryReadings(
    scope: string,
    filter: { gateway?: string; device?: string; point?: string } & TimeRange,
  ): Promise<ReadingRow[]> {
    return this.#all('queryReadings', q.sqliteReadingsQuery(D, scope, filter)).map(rows.toReading);
  }
  async queryAlarmTransitions(
    scope: string,
    filter: { gateway?: string; device?: string; alarm?: string; type?: string } & TimeRange,
  ): Promise<StoredAlarmTransition[]> {
    return this.#all('queryAlarmTransitions', q.alarmsQuery(D, scope, filter)).map(rows.toAlarm);
  }
  async queryRollups(
    scope: string,
    filter: { resolution: '1m' | '1h'; gateway?: string; device?: string; point?: string } & TimeRange,
  ): Promise<RollupRow[]> {
    return this.#all('queryRollups', q.rollupsQuery(D, scope, filter)).map(rows.toRollup);
  }
  async listDeviceHealth(scope: string, filter?: DeviceHealthFilter): Promise<DeviceHealth[]> {
    return this.#all('listDeviceHealth', q.deviceHealthQuery(D, scope, filter)).map(rows.toDeviceHealth);
  }
  async countDeviceStates(scope: string): Promise<Record<DeviceHealth['state'], number>> {
    const counts = noDeviceStates();
    for (const r of this.#all('countDeviceStates', q.deviceStateCountsQuery(D, scope)))
      counts[r['state'] as DeviceHealth['state']] = Number(r['n']);
    return counts;
  }
  async listGatewayHealth(scope: string): Promise<GatewayHealth[]> {
    return this.#all('listGatewayHealth', q.gatewayHealthQuery(D, scope)).map(rows.toGatewayHealth);
  }
  async countRecords(gateway?: string): Promise<{ alarms: number; events: number; telemetry: number }> {
    const count = (table: string) => {
      // Readings name their gateway by integer id (schema v2).
      const where =
        table === 'readings' ? 'gw = (SELECT id FROM gateway_ids WHERE gateway = ?)' : 'gateway = ?';
      return (
        gateway === undefined
          ? this.#get('countRecords', `SELECT count(*) AS n FROM ${table}`)
          : this.#get('countRecords', `SELECT count(*) AS n FROM ${table} WHERE ${where}`, gateway)
      )!.n as number;
    };
    return { alarms: count('alarm_transitions'), events: count('events'), telemetry: count('readings') };
  }

  // ── maintenance ────────────────────────────────────────────────────────────────────────────
  async rollup(_now: number, options?: BackgroundOptions): Promise<{ readings: number }> {
    return { readings: await this.#w('rollup').rollup(options) };
  }
  async applyRetention(
    now: number,
    policy: { rawDays: number; minuteDays: number },
    options?: BackgroundOptions,
  ): Promise<{ deleted: number }> {
    return { deleted: await this.#w('applyRetention').retention(now, policy, options) };
  }
}
