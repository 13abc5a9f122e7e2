/**
 * The cloud's storage port: one interface, two adapters (SQLite embedded default, PostgreSQL), one
 * contract suite run against both (test/cloud/store/contract.ts). Everything the HTTP service, the
 * alarm lifecycle and the feeds persist goes through here. All methods are async so both adapters
 * share the shape; the SQLite adapter does its work synchronously inside them.
 *
 * Scope: every query that returns data takes a `scope` (a ScopePath such as `pudong/zhangjiang`)
 * and returns only rows whose site lies inside it (docs/architecture.md invariant 11). Writes by a gateway are
 * keyed by the gateway id taken from its credentials, never from the request body.
 */
import type {
  AlarmTransition,
  DeviceLinkState,
  DeviceState,
  DoorstepError,
  GatewayHealthReport,
  InventoryEvent,
  Quality,
  SitePath,
  UplinkBatch,
} from '../../protocol/index.js';
import type { BackgroundOptions } from './common.js';
import type { InventoryResult, RegistryBinding, RegistryDevice, RegistryFilter } from './registry.js';

export type {
  InventoryResult,
  RegistryBinding,
  RegistryDevice,
  RegistryFilter,
  RegistryStatus,
} from './registry.js';

export type Role = 'viewer' | 'duty' | 'supervisor' | 'admin';

export interface SiteNode {
  /** `district`, `district/town` or `district/town/community`. */
  path: string;
  level: 'district' | 'town' | 'community';
  name: string;
}

export interface GatewayRecord {
  id: string;
  site: SitePath;
  name?: string;
  /** Set at enrolment; revoked gateways cannot sync. */
  status: 'active' | 'revoked';
  createdAt: number;
}

export interface DeviceRecord {
  gateway: string;
  id: string;
  site: SitePath;
  kind?: string;
  profile?: string;
  location?: string;
}

/** An enrolment token issued for a town or community: a gateway enrolling with it lands inside that scope. */
export interface EnrollmentTokenRecord {
  id: string;
  /** sha256 of the secret, hex; the secret itself is shown once and never stored. */
  secretHash: string;
  scope: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  /** How many gateways may still enrol with it. */
  usesLeft: number;
}

/** A gateway's credential (bearer secret or HMAC key), hashed; several may be valid during rotation. */
export interface GatewayCredentialRecord {
  id: string;
  gateway: string;
  secretHash: string;
  createdAt: number;
  /** A rotated-out credential stays valid until then (grace period); undefined: no expiry. */
  expiresAt?: number;
  revokedAt?: number;
}

export interface UserRecord {
  id: string;
  username: string;
  /** scrypt hash (`scrypt$N$r$p$salt$hash`); undefined for API-token-only principals. */
  passwordHash?: string;
  scope: string;
  role: Role;
  displayName?: string;
  createdAt: number;
  disabled: boolean;
  failedLogins: number;
  lockedUntil?: number;
}

export interface ApiTokenRecord {
  id: string;
  user: string;
  secretHash: string;
  scope: string;
  role: Role;
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
  /** What the owner called it ("夜班脚本"), shown in token lists; the secret never is. */
  label?: string;
  /** Last accepted use, to the minute (Authenticator.apiToken writes it at most once a minute). */
  lastUsedAt?: number;
}

/**
 * One entry of the account audit trail (`account_audit`): who did what to which user account,
 * when and from where. Filed under the target user's scope, so an admin reads the trail of the
 * accounts it manages and nothing else.
 */
export interface AccountAuditEntry {
  at: number;
  /** The acting user (id and name as at the time), or `system` for the cloud itself. */
  actorId?: string;
  actor: string;
  /** user.created, user.disabled, user.enabled, password.changed, password.reset, sessions.ended, token.created, token.revoked. */
  action: string;
  userId: string;
  username: string;
  /** The target user's scope when the action happened. */
  scope: string;
  ip?: string;
  detail?: Record<string, unknown>;
}

/** What one batch ingest did. `duplicate` counts rows already stored from an earlier delivery. */
/**
 * Sign-in attempts of one (user name as typed, source address), counted in the store so that every
 * cloud instance sees the same count (cloud/auth/README.md: lockout). Unknown user names are
 * counted exactly like real ones.
 */
export interface SignInKey {
  username: string;
  source: string;
}

export interface SignInAttempt {
  /** This attempt's number in the current round (1 = first after a quiet spell, a lock or a success). */
  attempt: number;
  /** Locks of this key since it was last quiet for a day or signed in. */
  locks: number;
  /** Locked until then (ms); undefined when not locked. */
  lockedUntil?: number;
}

/** A counted attempt from its row (the SQL adapters). */
export function signInAttempt(r: { attempts: number; locks: number; locked_until: number }): SignInAttempt {
  return {
    attempt: Number(r.attempts),
    locks: Number(r.locks),
    ...(Number(r.locked_until) > 0 ? { lockedUntil: Number(r.locked_until) } : {}),
  };
}

export interface IngestResult {
  stored: { alarms: number; events: number; telemetry: number };
  duplicates: { alarms: number; events: number; telemetry: number };
  /** The highest batchSeq of this gateway stored so far (this one included). */
  highestBatchSeq: number;
  /** Alarm transitions that were new (not duplicates), for the lifecycle and the feed. */
  newAlarms: AlarmTransition[];
  /** Device link changes that were new. */
  newDeviceStates: DeviceLinkState[];
}

export interface StoredAlarmTransition extends AlarmTransition {
  site: SitePath;
  seq: number;
  /** Cloud clock when stored. */
  receivedAt: number;
  /** Gateway − cloud offset applied to `ts`. */
  offsetMs: number;
}

export interface ReadingRow {
  gateway: string;
  site: SitePath;
  device: string;
  point: string;
  value: number | boolean | string;
  unit: string;
  quality: Quality;
  ts: number;
  /** Cloud time of the reading: ts − offsetMs. */
  cloudTs: number;
  seq: number;
}

export interface RollupRow {
  gateway: string;
  device: string;
  point: string;
  /** Bucket start, cloud time, ms. */
  bucket: number;
  count: number;
  min: number;
  max: number;
  avg: number;
  last: number;
}

export interface DeviceHealth {
  gateway: string;
  device: string;
  site: SitePath;
  location?: string;
  kind?: string;
  state: DeviceState;
  reason?: string;
  lastSeen?: number;
  battery?: number;
  batteryLow?: boolean;
  signal?: number;
  fault?: boolean;
  updatedAt: number;
}

export interface DeviceHealthFilter {
  state?: DeviceHealth['state'];
  limit?: number;
}

/** Zero for every device state, the start of a count. */
export const noDeviceStates = (): Record<DeviceHealth['state'], number> => ({
  unknown: 0,
  online: 0,
  faulty: 0,
  offline: 0,
  disabled: 0,
});

export interface GatewayHealth {
  gateway: string;
  site: SitePath;
  lastSyncAt?: number;
  lastBatchSeq?: number;
  report?: GatewayHealthReport;
  /** Batches this cloud rejected as malformed from this gateway (its quarantine count is in report). */
  rejectedBatches: number;
  updatedAt: number;
}

export interface TimeRange {
  from?: number;
  to?: number;
  limit?: number;
}

/**
 * The database behind a store, for subsystems that keep their own tables in the same database
 * (alarm cases, escalation, notifications) so that one backup and one connection pool cover all.
 */
export type StoreHandle =
  | { kind: 'memory' }
  | { kind: 'sqlite'; db: import('better-sqlite3').Database }
  | { kind: 'postgres'; pool: import('pg').Pool };

/** What the ingest path knows about a batch besides its content. */
export interface IngestMeta {
  receivedAt: number;
  /** Applied gateway − cloud clock offset (cloud/README.md, the offset rule). */
  offsetMs: number;
  /**
   * Count of alarm-sized requests in flight, in shared memory ([0], read with Atomics): an adapter
   * that stores a large batch in slices pauses between them while it is above zero (at most
   * 250 ms each time), so an alarm waits for one slice, not for the whole batch
   * (cloud/ingest/bulk-gate.ts).
   */
  smallInFlight?: Int32Array;
}

export interface CloudStore {
  /** The underlying database (opening it if needed). */
  handle(): StoreHandle;
  /** Creates or migrates the schema to the current version (idempotent). */
  migrate(): Promise<void>;
  /**
   * Server settings that put what the cloud promises at risk — acknowledged batches surviving a
   * crash, alarms stored fast under load — as CLOUD_ERR_STORE_SETTING errors, for the log at start.
   * Only stores whose database has settings of its own (PostgreSQL) implement it.
   */
  settingWarnings?(): Promise<DoorstepError[]>;
  close(): Promise<void>;

  // ── site registry ────────────────────────────────────────────────────────────────────────
  upsertSite(node: SiteNode): Promise<void>;
  listSites(scope: string): Promise<SiteNode[]>;
  createGateway(gateway: GatewayRecord): Promise<void>;
  getGateway(id: string): Promise<GatewayRecord | undefined>;
  listGateways(scope: string): Promise<GatewayRecord[]>;
  setGatewayStatus(id: string, status: GatewayRecord['status']): Promise<void>;
  upsertDevices(devices: readonly DeviceRecord[]): Promise<void>;
  listDevices(scope: string): Promise<DeviceRecord[]>;
  /** How many devices `gateway` has registered (index-served; for the per-gateway device cap). */
  countDevices(gateway: string): Promise<number>;
  /** Which of `ids` `gateway` has registered already (in no particular order). */
  knownDevices(gateway: string, ids: readonly string[]): Promise<string[]>;

  // ── device registry (registry.ts; cloud/store/README.md "The device registry") ─────────────
  /**
   * Applies one part of a gateway's inventory in one transaction: records by code (added, updated,
   * moved here from another gateway), their bindings, the labels of the `devices` table, and — once
   * every part of the generation has arrived — removal marks for the gateway's records it did not
   * list. Idempotent; a part of an older generation than one already applied changes nothing.
   */
  applyInventory(gateway: GatewayRecord, part: InventoryEvent, now: number): Promise<InventoryResult>;
  /** Registry records whose current site is in scope, filtered, ordered by (site, code); `limit` as queries. */
  listRegistry(scope: string, filter?: RegistryFilter): Promise<RegistryDevice[]>;
  /** One record by code with every binding it had (oldest first); undefined when not in scope. */
  getRegistryDevice(
    scope: string,
    code: string,
  ): Promise<{ device: RegistryDevice; bindings: RegistryBinding[] } | undefined>;

  // ── credentials ──────────────────────────────────────────────────────────────────────────
  createEnrollmentToken(token: EnrollmentTokenRecord): Promise<void>;
  /** Atomically decrements usesLeft; undefined when unknown, expired or used up. */
  consumeEnrollmentToken(secretHash: string, now: number): Promise<EnrollmentTokenRecord | undefined>;
  /** The token by secret hash whatever its state, to tell an installer why it was refused. */
  findEnrollmentToken(secretHash: string): Promise<EnrollmentTokenRecord | undefined>;
  addGatewayCredential(credential: GatewayCredentialRecord): Promise<void>;
  /** Valid (not revoked, not expired) credential by secret hash. */
  findGatewayCredential(secretHash: string, now: number): Promise<GatewayCredentialRecord | undefined>;
  /** Sets expiresAt on every other credential of the gateway (rotation with a grace period). */
  expireOtherCredentials(gateway: string, keep: string, expiresAt: number): Promise<void>;
  revokeGatewayCredentials(gateway: string, now: number): Promise<number>;

  createUser(user: UserRecord): Promise<void>;
  getUserByName(username: string): Promise<UserRecord | undefined>;
  getUser(id: string): Promise<UserRecord | undefined>;
  updateUserLogin(id: string, fields: Pick<UserRecord, 'failedLogins' | 'lockedUntil'>): Promise<void>;
  /** Users whose own scope lies inside `scope` (equal or below), ordered by username. */
  listUsers(scope: string): Promise<UserRecord[]>;
  /** Disables or re-enables a user; CLOUD_ERR_STORE_NOT_FOUND for an unknown id. */
  setUserDisabled(id: string, disabled: boolean): Promise<void>;
  /** Replaces a user's password hash; CLOUD_ERR_STORE_NOT_FOUND for an unknown id. */
  setUserPassword(id: string, passwordHash: string): Promise<void>;
  /**
   * Counts one sign-in attempt of `key`, atomically (one statement: two cloud instances never both
   * see the same number): the count restarts at 1 when the key was quiet since `quietSince` or its
   * lock ran out; its locks are forgotten when quiet since `forgetSince`.
   */
  countSignInAttempt(
    key: SignInKey,
    now: number,
    quietSince: number,
    forgetSince: number,
  ): Promise<SignInAttempt>;
  /** Locks `key` until `until` and counts the lock. */
  lockSignIn(key: SignInKey, until: number): Promise<void>;
  /** Forgets `key` after a success — only if no attempt was counted after `attempt` (false then). */
  clearSignIn(key: SignInKey, attempt: number): Promise<boolean>;
  /** Deletes keys untouched since `before` and not locked; returns how many. */
  purgeSignIns(before: number): Promise<number>;
  createApiToken(token: ApiTokenRecord): Promise<void>;
  findApiToken(secretHash: string, now: number): Promise<ApiTokenRecord | undefined>;
  /** Every token of a user (revoked and expired ones too), newest first. */
  listApiTokens(user: string): Promise<ApiTokenRecord[]>;
  /** Records a use of the token at `now` (callers throttle; never moves backwards). */
  touchApiToken(id: string, now: number): Promise<void>;
  revokeApiToken(id: string, now: number): Promise<void>;
  appendAccountAudit(entry: AccountAuditEntry): Promise<void>;
  /** Audit entries of accounts whose scope lies inside `scope`, newest first (limit as queries). */
  listAccountAudit(scope: string, filter?: { userId?: string; limit?: number }): Promise<AccountAuditEntry[]>;

  // ── ingest ───────────────────────────────────────────────────────────────────────────────
  /**
   * Stores a validated batch from `gateway` atomically (an adapter may commit a large batch's
   * readings in slices first, which is safe because a resend completes it): readings by (gateway, seq), events
   * by (gateway, seq), alarm transitions by (gateway, seq) and (alarm id, state) — duplicates are
   * counted, never stored twice, also when two instances ingest the same batch concurrently.
   * Updates device health (from readings' diagnostics and device-state events) and gateway health.
   */
  ingestBatch(gateway: GatewayRecord, batch: UplinkBatch, meta: IngestMeta): Promise<IngestResult>;
  /** Counts a rejected batch against the gateway's health. */
  recordRejectedBatch(gateway: string, now: number): Promise<void>;

  // ── queries (all scoped) ─────────────────────────────────────────────────────────────────
  queryReadings(
    scope: string,
    filter: { gateway?: string; device?: string; point?: string } & TimeRange,
  ): Promise<ReadingRow[]>;
  queryAlarmTransitions(
    scope: string,
    filter: { gateway?: string; device?: string; alarm?: string; type?: string } & TimeRange,
  ): Promise<StoredAlarmTransition[]>;
  queryRollups(
    scope: string,
    filter: { resolution: '1m' | '1h'; gateway?: string; device?: string; point?: string } & TimeRange,
  ): Promise<RollupRow[]>;
  /** Devices in scope with their health, ordered by (gateway, device); at most `limit` when given. */
  listDeviceHealth(scope: string, filter?: DeviceHealthFilter): Promise<DeviceHealth[]>;
  /** How many devices in scope are in each state (registered ones never heard of: `unknown`). */
  countDeviceStates(scope: string): Promise<Record<DeviceHealth['state'], number>>;
  listGatewayHealth(scope: string): Promise<GatewayHealth[]>;
  /** Counts for tests and metrics: rows stored per class for a gateway (or all). */
  countRecords(gateway?: string): Promise<{ alarms: number; events: number; telemetry: number }>;

  // ── maintenance ──────────────────────────────────────────────────────────────────────────
  /**
   * Folds numeric readings newer than the last run into 1-minute and 1-hour rollups. Idempotent.
   * Works in short transactions that step aside for alarms (BackgroundOptions.smallInFlight).
   */
  rollup(now: number, options?: BackgroundOptions): Promise<{ readings: number }>;
  /**
   * Deletes raw readings older than rawDays and 1-minute rollups older than minuteDays (never
   * alarms), in short transactions that step aside for alarms like rollup().
   */
  applyRetention(
    now: number,
    policy: { rawDays: number; minuteDays: number },
    options?: BackgroundOptions,
  ): Promise<{ deleted: number }>;
}
