/**
 * The in-memory CloudStore: the whole port with the same semantics as the SQL adapters (the
 * contract suite runs against all three), for unit tests of the HTTP service, the lifecycle and
 * the demo. Nothing survives close(). JavaScript runs each method's body without interleaving,
 * so every method is atomic like a transaction.
 */
import type {
  DeviceLinkState,
  GatewayHealthReport,
  InventoryEvent,
  UplinkBatch,
} from '../../protocol/index.js';
import {
  checkScope,
  closedError,
  compact,
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
  pathInScope,
  queryLimit,
  siteFromPath,
  sitePathString,
} from './common.js';
import { conflict, notFound } from './errors.js';
import { type DeviceHealthState, mergeDeviceHealth } from './health.js';
import { type AlarmInsert, planIngest, type ReadingInsert } from './ingest-plan.js';
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
} from './port.js';
import { noDeviceStates, signInAttempt } from './port.js';
import {
  byRegistryOrder,
  type InventoryResult,
  type InventoryState,
  inventoryCodes,
  matchesRegistryFilter,
  planInventory,
  type RegistryBinding,
  type RegistryDevice,
  type RegistryFilter,
} from './registry.js';
import { foldReadings, mergeBucket, type RollupBucket, rollupKey, toRollupRow } from './rollup-fold.js';

interface StoredReading extends ReadingInsert {
  id: number;
  gateway: string;
  sitePath: string;
  offsetMs: number;
}
interface StoredAlarm extends AlarmInsert {
  gateway: string;
  sitePath: string;
  receivedAt: number;
  offsetMs: number;
}
interface GatewayHealthState {
  lastSyncAt?: number;
  lastBatchSeq?: number;
  report?: GatewayHealthReport;
  reportBatchSeq?: number;
  rejectedBatches: number;
  updatedAt: number;
}

const clone = <T>(v: T): T => structuredClone(v);
const key2 = (a: string, b: string | number) => `${a}\u0000${b}`;
const inRange = (t: number, r: TimeRange) =>
  (r.from === undefined || t >= r.from) && (r.to === undefined || t < r.to);

/** A hashed-secret record (gateway credential, API token): unique by id and by secret. */
interface SecretRecord {
  id: string;
  secretHash: string;
  expiresAt?: number;
  revokedAt?: number;
}

function addSecretRecord<T extends SecretRecord>(records: Map<string, T>, record: T, what: string): void {
  if (records.has(record.id)) throw conflict(what, record.id);
  if ([...records.values()].some((r) => r.secretHash === record.secretHash))
    throw conflict(`${what} secret`, record.id);
  records.set(record.id, clone(record));
}

/** The record with this secret if it is neither revoked nor expired at `now`. */
function findValidSecret<T extends SecretRecord>(
  records: Map<string, T>,
  secretHash: string,
  now: number,
): T | undefined {
  for (const r of records.values()) {
    if (r.secretHash !== secretHash) continue;
    if (r.revokedAt !== undefined || (r.expiresAt !== undefined && now >= r.expiresAt)) return undefined;
    return clone(r);
  }
  return undefined;
}

export class MemoryCloudStore implements CloudStore {
  handle(): StoreHandle {
    return { kind: 'memory' };
  }

  #open = true;
  readonly #sites = new Map<string, SiteNode>();
  readonly #gateways = new Map<string, GatewayRecord>();
  readonly #devices = new Map<string, DeviceRecord>();
  readonly #registry = new Map<string, RegistryDevice>();
  readonly #bindings: RegistryBinding[] = [];
  readonly #inventory = new Map<string, InventoryState>();
  readonly #enrollment = new Map<string, EnrollmentTokenRecord>();
  readonly #credentials = new Map<string, GatewayCredentialRecord>();
  readonly #users = new Map<string, UserRecord>();
  readonly #apiTokens = new Map<string, ApiTokenRecord>();
  readonly #accountAudit: AccountAuditEntry[] = [];
  readonly #signIns = new Map<
    string,
    { attempts: number; locks: number; lockedUntil: number; updatedAt: number }
  >();
  #readings: StoredReading[] = [];
  readonly #readingKeys = new Set<string>();
  #nextReadingId = 1;
  readonly #eventKeys = new Map<string, number>();
  readonly #alarms: StoredAlarm[] = [];
  readonly #alarmSeqKeys = new Set<string>();
  readonly #alarmStateKeys = new Set<string>();
  readonly #deviceHealth = new Map<string, DeviceHealthState>();
  readonly #gatewayHealth = new Map<string, GatewayHealthState>();
  readonly #rollups = { '1m': new Map<string, RollupBucket>(), '1h': new Map<string, RollupBucket>() };
  #watermark = 0;

  #check(operation: string): void {
    if (!this.#open) throw closedError(operation);
  }

  async migrate(): Promise<void> {
    this.#check('migrate');
  }
  async close(): Promise<void> {
    this.#open = false;
  }

  // ── site registry ──────────────────────────────────────────────────────────────────────────
  async upsertSite(node: SiteNode): Promise<void> {
    this.#check('upsertSite');
    this.#sites.set(node.path, clone(node));
  }
  async listSites(scope: string): Promise<SiteNode[]> {
    this.#check('listSites');
    checkScope(scope);
    return [...this.#sites.values()]
      .filter((s) => pathInScope(scope, s.path))
      .sort((a, b) => (a.path < b.path ? -1 : 1))
      .map(clone);
  }
  async createGateway(gateway: GatewayRecord): Promise<void> {
    this.#check('createGateway');
    if (this.#gateways.has(gateway.id)) throw conflict('gateway', gateway.id);
    this.#gateways.set(gateway.id, clone(gateway));
  }
  async getGateway(id: string): Promise<GatewayRecord | undefined> {
    this.#check('getGateway');
    const g = this.#gateways.get(id);
    return g && clone(g);
  }
  async listGateways(scope: string): Promise<GatewayRecord[]> {
    this.#check('listGateways');
    checkScope(scope);
    return [...this.#gateways.values()]
      .filter((g) => pathInScope(scope, sitePathString(g.site)))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map(clone);
  }
  async setGatewayStatus(id: string, status: GatewayRecord['status']): Promise<void> {
    this.#check('setGatewayStatus');
    const g = this.#gateways.get(id);
    if (!g) throw notFound('gateway', id);
    g.status = status;
  }
  async upsertDevices(devices: readonly DeviceRecord[]): Promise<void> {
    this.#check('upsertDevices');
    for (const d of devices) {
      const k = key2(d.gateway, d.id);
      const old = this.#devices.get(k);
      // Optional fields left out keep their stored value (the SQL adapters use COALESCE).
      this.#devices.set(k, compact({ ...old, ...compact(clone(d)) }));
    }
  }
  async countDevices(gateway: string): Promise<number> {
    this.#check('countDevices');
    let n = 0;
    for (const d of this.#devices.values()) if (d.gateway === gateway) n++;
    return n;
  }
  async knownDevices(gateway: string, ids: readonly string[]): Promise<string[]> {
    this.#check('knownDevices');
    return [...new Set(ids)].filter((id) => this.#devices.has(key2(gateway, id)));
  }
  // ── device registry ────────────────────────────────────────────────────────────────────────
  async applyInventory(gateway: GatewayRecord, part: InventoryEvent, now: number): Promise<InventoryResult> {
    this.#check('applyInventory');
    const codes = new Set(inventoryCodes(gateway.id, part));
    const state = this.#inventory.get(gateway.id);
    const plan = planInventory(
      gateway,
      part,
      {
        ...(state ? { state: clone(state) } : {}),
        bound: [...this.#registry.values()]
          .filter((r) => r.gateway === gateway.id && r.status === 'active')
          .map(clone),
        byCode: [...codes].flatMap((c) => {
          const r = this.#registry.get(c);
          return r ? [clone(r)] : [];
        }),
      },
      now,
    );
    if (!plan) return { applied: false, added: 0, updated: 0, moved: 0, removed: 0, complete: false };
    this.#inventory.set(gateway.id, clone(plan.state));
    for (const code of plan.closeBindings)
      for (const b of this.#bindings) if (b.code === code && b.until === undefined) b.until = now;
    for (const r of plan.upserts) this.#registry.set(r.code, clone(r));
    for (const b of plan.openBindings) this.#bindings.push(clone(b));
    for (const d of plan.devices) {
      const k = key2(d.gateway, d.id);
      this.#devices.set(k, compact({ ...this.#devices.get(k), ...compact(clone(d)) }));
    }
    return plan.result;
  }
  async listRegistry(scope: string, filter: RegistryFilter = {}): Promise<RegistryDevice[]> {
    this.#check('listRegistry');
    checkScope(scope);
    return [...this.#registry.values()]
      .filter((r) => pathInScope(scope, sitePathString(r.site)) && matchesRegistryFilter(r, filter))
      .sort((a, b) => byRegistryOrder(a, b))
      .slice(0, queryLimit(filter.limit))
      .map(clone);
  }
  async getRegistryDevice(
    scope: string,
    code: string,
  ): Promise<{ device: RegistryDevice; bindings: RegistryBinding[] } | undefined> {
    this.#check('getRegistryDevice');
    checkScope(scope);
    const device = this.#registry.get(code);
    if (!device || !pathInScope(scope, sitePathString(device.site))) return undefined;
    const bindings = this.#bindings.filter((b) => b.code === code).map(clone);
    return { device: clone(device), bindings };
  }

  async listDevices(scope: string): Promise<DeviceRecord[]> {
    this.#check('listDevices');
    checkScope(scope);
    return [...this.#devices.values()]
      .filter((d) => pathInScope(scope, sitePathString(d.site)))
      .sort((a, b) => (a.gateway === b.gateway ? (a.id < b.id ? -1 : 1) : a.gateway < b.gateway ? -1 : 1))
      .map(clone);
  }

  // ── credentials ────────────────────────────────────────────────────────────────────────────
  async createEnrollmentToken(token: EnrollmentTokenRecord): Promise<void> {
    this.#check('createEnrollmentToken');
    if (this.#enrollment.has(token.id)) throw conflict('enrolment token', token.id);
    if ([...this.#enrollment.values()].some((t) => t.secretHash === token.secretHash))
      throw conflict('enrolment token secret', token.id);
    this.#enrollment.set(token.id, clone(token));
  }
  async consumeEnrollmentToken(secretHash: string, now: number): Promise<EnrollmentTokenRecord | undefined> {
    this.#check('consumeEnrollmentToken');
    for (const t of this.#enrollment.values()) {
      if (t.secretHash !== secretHash) continue;
      if (t.usesLeft <= 0 || now >= t.expiresAt) return undefined;
      t.usesLeft -= 1;
      return clone(t);
    }
    return undefined;
  }
  async findEnrollmentToken(secretHash: string): Promise<EnrollmentTokenRecord | undefined> {
    this.#check('findEnrollmentToken');
    for (const t of this.#enrollment.values()) if (t.secretHash === secretHash) return clone(t);
    return undefined;
  }
  async addGatewayCredential(credential: GatewayCredentialRecord): Promise<void> {
    this.#check('addGatewayCredential');
    addSecretRecord(this.#credentials, credential, 'gateway credential');
  }
  async findGatewayCredential(secretHash: string, now: number): Promise<GatewayCredentialRecord | undefined> {
    this.#check('findGatewayCredential');
    return findValidSecret(this.#credentials, secretHash, now);
  }
  async expireOtherCredentials(gateway: string, keep: string, expiresAt: number): Promise<void> {
    this.#check('expireOtherCredentials');
    for (const c of this.#credentials.values()) {
      // Never extend a credential that already expires sooner.
      if (c.gateway === gateway && c.id !== keep && (c.expiresAt === undefined || c.expiresAt > expiresAt))
        c.expiresAt = expiresAt;
    }
  }
  async revokeGatewayCredentials(gateway: string, now: number): Promise<number> {
    this.#check('revokeGatewayCredentials');
    let n = 0;
    for (const c of this.#credentials.values()) {
      if (c.gateway === gateway && c.revokedAt === undefined) {
        c.revokedAt = now;
        n++;
      }
    }
    return n;
  }

  async createUser(user: UserRecord): Promise<void> {
    this.#check('createUser');
    if (this.#users.has(user.id)) throw conflict('user', user.id);
    if ([...this.#users.values()].some((u) => u.username === user.username))
      throw conflict('username', user.username);
    this.#users.set(user.id, clone(user));
  }
  async getUserByName(username: string): Promise<UserRecord | undefined> {
    this.#check('getUserByName');
    const u = [...this.#users.values()].find((x) => x.username === username);
    return u && clone(u);
  }
  async getUser(id: string): Promise<UserRecord | undefined> {
    this.#check('getUser');
    const u = this.#users.get(id);
    return u && clone(u);
  }
  async updateUserLogin(id: string, fields: Pick<UserRecord, 'failedLogins' | 'lockedUntil'>): Promise<void> {
    this.#check('updateUserLogin');
    const u = this.#users.get(id);
    if (!u) throw notFound('user', id);
    u.failedLogins = fields.failedLogins;
    if (fields.lockedUntil === undefined) delete u.lockedUntil;
    else u.lockedUntil = fields.lockedUntil;
  }
  async listUsers(scope: string): Promise<UserRecord[]> {
    this.#check('listUsers');
    checkScope(scope);
    return [...this.#users.values()]
      .filter((u) => pathInScope(scope, u.scope))
      .sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0))
      .map(clone);
  }
  async setUserDisabled(id: string, disabled: boolean): Promise<void> {
    this.#check('setUserDisabled');
    const u = this.#users.get(id);
    if (!u) throw notFound('user', id);
    u.disabled = disabled;
  }
  async setUserPassword(id: string, passwordHash: string): Promise<void> {
    this.#check('setUserPassword');
    const u = this.#users.get(id);
    if (!u) throw notFound('user', id);
    u.passwordHash = passwordHash;
  }
  // Same rules as sql-shared.ts signInCountUpsert; a method body runs without interleaving.
  async countSignInAttempt(
    key: SignInKey,
    now: number,
    quietSince: number,
    forgetSince: number,
  ): Promise<SignInAttempt> {
    this.#check('countSignInAttempt');
    const id = JSON.stringify([key.username, key.source]);
    const old = this.#signIns.get(id);
    const row = old
      ? {
          attempts:
            (old.lockedUntil > 0 && old.lockedUntil <= now) || old.updatedAt < quietSince
              ? 1
              : old.attempts + 1,
          locks: old.updatedAt < forgetSince ? 0 : old.locks,
          lockedUntil: old.lockedUntil <= now ? 0 : old.lockedUntil,
          updatedAt: now,
        }
      : { attempts: 1, locks: 0, lockedUntil: 0, updatedAt: now };
    this.#signIns.set(id, row);
    return signInAttempt({ attempts: row.attempts, locks: row.locks, locked_until: row.lockedUntil });
  }
  async lockSignIn(key: SignInKey, until: number): Promise<void> {
    this.#check('lockSignIn');
    const row = this.#signIns.get(JSON.stringify([key.username, key.source]));
    if (row) {
      row.lockedUntil = until;
      row.locks += 1;
    }
  }
  async clearSignIn(key: SignInKey, attempt: number): Promise<boolean> {
    this.#check('clearSignIn');
    const id = JSON.stringify([key.username, key.source]);
    if (this.#signIns.get(id)?.attempts !== attempt) return false;
    return this.#signIns.delete(id);
  }
  async purgeSignIns(before: number): Promise<number> {
    this.#check('purgeSignIns');
    let n = 0;
    for (const [id, row] of this.#signIns)
      if (row.updatedAt < before && row.lockedUntil < before) {
        this.#signIns.delete(id);
        n += 1;
      }
    return n;
  }
  async createApiToken(token: ApiTokenRecord): Promise<void> {
    this.#check('createApiToken');
    addSecretRecord(this.#apiTokens, token, 'API token');
  }
  async findApiToken(secretHash: string, now: number): Promise<ApiTokenRecord | undefined> {
    this.#check('findApiToken');
    return findValidSecret(this.#apiTokens, secretHash, now);
  }
  async listApiTokens(user: string): Promise<ApiTokenRecord[]> {
    this.#check('listApiTokens');
    return [...this.#apiTokens.values()]
      .filter((t) => t.user === user)
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(clone);
  }
  async touchApiToken(id: string, now: number): Promise<void> {
    this.#check('touchApiToken');
    const t = this.#apiTokens.get(id);
    if (t && (t.lastUsedAt === undefined || t.lastUsedAt < now)) t.lastUsedAt = now;
  }
  async appendAccountAudit(entry: AccountAuditEntry): Promise<void> {
    this.#check('appendAccountAudit');
    this.#accountAudit.push(clone(entry));
  }
  async listAccountAudit(
    scope: string,
    filter: { userId?: string; limit?: number } = {},
  ): Promise<AccountAuditEntry[]> {
    this.#check('listAccountAudit');
    checkScope(scope);
    return this.#accountAudit
      .filter(
        (e) => pathInScope(scope, e.scope) && (filter.userId === undefined || e.userId === filter.userId),
      )
      .reverse()
      .sort((a, b) => b.at - a.at)
      .slice(0, queryLimit(filter.limit))
      .map(clone);
  }
  async revokeApiToken(id: string, now: number): Promise<void> {
    this.#check('revokeApiToken');
    const t = this.#apiTokens.get(id);
    if (!t) throw notFound('API token', id);
    if (t.revokedAt === undefined) t.revokedAt = now;
  }

  // ── ingest ─────────────────────────────────────────────────────────────────────────────────
  async ingestBatch(gateway: GatewayRecord, batch: UplinkBatch, meta: IngestMeta): Promise<IngestResult> {
    this.#check('ingestBatch');
    const plan = planIngest(gateway, batch, meta);
    const result: IngestResult = {
      stored: { alarms: 0, events: 0, telemetry: 0 },
      duplicates: { alarms: 0, events: 0, telemetry: 0 },
      highestBatchSeq: 0,
      newAlarms: [],
      newDeviceStates: [],
    };
    const base = { gateway: plan.gateway, sitePath: plan.sitePath, offsetMs: plan.offsetMs };
    for (const a of plan.alarms) {
      const bySeq = key2(plan.gateway, a.seq);
      const byState = key2(a.transition.id, a.transition.state);
      if (this.#alarmSeqKeys.has(bySeq) || this.#alarmStateKeys.has(byState)) {
        result.duplicates.alarms++;
        continue;
      }
      this.#alarmSeqKeys.add(bySeq);
      this.#alarmStateKeys.add(byState);
      this.#alarms.push({ ...clone(a), ...base, receivedAt: plan.receivedAt });
      result.stored.alarms++;
      result.newAlarms.push(clone(a.transition));
    }
    for (const e of plan.events) {
      const k = key2(plan.gateway, e.seq);
      if (this.#eventKeys.has(k)) {
        result.duplicates.events++;
        continue;
      }
      this.#eventKeys.set(k, e.cloudTs);
      result.stored.events++;
      if (e.deviceState) result.newDeviceStates.push(clone(e.deviceState) as DeviceLinkState);
    }
    for (const r of plan.readings) {
      const k = key2(plan.gateway, r.seq);
      if (this.#readingKeys.has(k)) {
        result.duplicates.telemetry++;
        continue;
      }
      this.#readingKeys.add(k);
      this.#readings.push({ ...r, ...base, id: this.#nextReadingId++ });
      result.stored.telemetry++;
    }
    const site = siteFromPath(plan.sitePath);
    for (const [i, device] of plan.devices.entries()) {
      const k = key2(plan.gateway, device);
      const old = this.#devices.get(k);
      this.#devices.set(k, { ...(old ?? { gateway: plan.gateway, id: device }), site });
      this.#deviceHealth.set(
        k,
        mergeDeviceHealth(this.#deviceHealth.get(k), plan.patches[i]!, plan.receivedAt),
      );
    }
    const h = this.#gatewayHealth.get(plan.gateway) ?? { rejectedBatches: 0, updatedAt: plan.receivedAt };
    h.lastSyncAt = Math.max(h.lastSyncAt ?? -Infinity, plan.receivedAt);
    h.lastBatchSeq = Math.max(h.lastBatchSeq ?? 0, plan.batchSeq);
    h.updatedAt = Math.max(h.updatedAt, plan.receivedAt);
    if (plan.report && (h.reportBatchSeq === undefined || plan.batchSeq >= h.reportBatchSeq)) {
      h.report = clone(plan.report);
      h.reportBatchSeq = plan.batchSeq;
    }
    this.#gatewayHealth.set(plan.gateway, h);
    result.highestBatchSeq = h.lastBatchSeq;
    return result;
  }

  async recordRejectedBatch(gateway: string, now: number): Promise<void> {
    this.#check('recordRejectedBatch');
    const h = this.#gatewayHealth.get(gateway) ?? { rejectedBatches: 0, updatedAt: now };
    h.rejectedBatches++;
    h.updatedAt = Math.max(h.updatedAt, now);
    this.#gatewayHealth.set(gateway, h);
  }

  // ── queries ────────────────────────────────────────────────────────────────────────────────
  async queryReadings(
    scope: string,
    filter: { gateway?: string; device?: string; point?: string } & TimeRange,
  ): Promise<ReadingRow[]> {
    this.#check('queryReadings');
    checkScope(scope);
    return this.#readings
      .filter(
        (r) =>
          pathInScope(scope, r.sitePath) &&
          (filter.gateway === undefined || r.gateway === filter.gateway) &&
          (filter.device === undefined || r.device === filter.device) &&
          (filter.point === undefined || r.point === filter.point) &&
          inRange(r.cloudTs, filter),
      )
      .sort(
        (a, b) =>
          a.cloudTs - b.cloudTs ||
          (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0) ||
          a.seq - b.seq,
      )
      .slice(0, queryLimit(filter.limit))
      .map(readingRow);
  }

  async queryAlarmTransitions(
    scope: string,
    filter: { gateway?: string; device?: string; alarm?: string; type?: string } & TimeRange,
  ): Promise<StoredAlarmTransition[]> {
    this.#check('queryAlarmTransitions');
    checkScope(scope);
    return this.#alarms
      .filter(
        (a) =>
          pathInScope(scope, a.sitePath) &&
          (filter.gateway === undefined || a.gateway === filter.gateway) &&
          (filter.device === undefined || a.transition.device === filter.device) &&
          (filter.alarm === undefined || a.transition.id === filter.alarm) &&
          (filter.type === undefined || a.transition.type === filter.type) &&
          inRange(a.cloudTs, filter),
      )
      .sort(
        (a, b) =>
          a.cloudTs - b.cloudTs ||
          (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0) ||
          a.seq - b.seq,
      )
      .slice(0, queryLimit(filter.limit))
      .map((a) => ({
        ...(JSON.parse(a.body) as StoredAlarmTransition),
        site: siteFromPath(a.sitePath),
        seq: a.seq,
        receivedAt: a.receivedAt,
        offsetMs: a.offsetMs,
      }));
  }

  async queryRollups(
    scope: string,
    filter: { resolution: '1m' | '1h'; gateway?: string; device?: string; point?: string } & TimeRange,
  ): Promise<RollupRow[]> {
    this.#check('queryRollups');
    checkScope(scope);
    return [...this.#rollups[filter.resolution].values()]
      .filter(
        (b) =>
          pathInScope(scope, b.sitePath) &&
          (filter.gateway === undefined || b.gateway === filter.gateway) &&
          (filter.device === undefined || b.device === filter.device) &&
          (filter.point === undefined || b.point === filter.point) &&
          inRange(b.bucket, filter),
      )
      .sort((a, b) => a.bucket - b.bucket || cmp(rollupKey(a), rollupKey(b)))
      .slice(0, queryLimit(filter.limit))
      .map(toRollupRow);
  }

  async listDeviceHealth(scope: string, filter?: DeviceHealthFilter): Promise<DeviceHealth[]> {
    this.#check('listDeviceHealth');
    checkScope(scope);
    const out: DeviceHealth[] = [];
    for (const [k, d] of [...this.#devices.entries()].sort((a, b) => cmp(a[0], b[0]))) {
      if (filter?.limit !== undefined && out.length >= filter.limit) break;
      if (!pathInScope(scope, sitePathString(d.site))) continue;
      const h = this.#deviceHealth.get(k);
      const row = deviceHealthRow(d, h);
      if (filter?.state === undefined || row.state === filter.state) out.push(row);
    }
    return out;
  }
  async countDeviceStates(scope: string): Promise<Record<DeviceHealth['state'], number>> {
    const counts = noDeviceStates();
    for (const row of await this.listDeviceHealth(scope)) counts[row.state]++;
    return counts;
  }

  async listGatewayHealth(scope: string): Promise<GatewayHealth[]> {
    this.#check('listGatewayHealth');
    checkScope(scope);
    return [...this.#gateways.values()]
      .filter((g) => pathInScope(scope, sitePathString(g.site)))
      .sort((a, b) => cmp(a.id, b.id))
      .map((g) => {
        const h = this.#gatewayHealth.get(g.id);
        return compact({
          gateway: g.id,
          site: clone(g.site),
          lastSyncAt: h?.lastSyncAt,
          lastBatchSeq: h?.lastBatchSeq,
          report: h?.report && clone(h.report),
          rejectedBatches: h?.rejectedBatches ?? 0,
          updatedAt: h?.updatedAt ?? g.createdAt,
        });
      });
  }

  async countRecords(gateway?: string): Promise<{ alarms: number; events: number; telemetry: number }> {
    this.#check('countRecords');
    const mine = (g: string) => gateway === undefined || g === gateway;
    return {
      alarms: this.#alarms.filter((a) => mine(a.gateway)).length,
      events: [...this.#eventKeys.keys()].filter((k) => mine(k.split('\u0000')[0]!)).length,
      telemetry: this.#readings.filter((r) => mine(r.gateway)).length,
    };
  }

  // ── maintenance ────────────────────────────────────────────────────────────────────────────
  async rollup(_now: number): Promise<{ readings: number }> {
    this.#check('rollup');
    const fresh = this.#readings.filter((r) => r.id > this.#watermark && r.kind === 0);
    for (const [size, res] of [
      [MINUTE_MS, '1m'],
      [HOUR_MS, '1h'],
    ] as const) {
      const target = this.#rollups[res];
      for (const [k, b] of foldReadings(
        fresh.map((r) => ({ ...r, num: r.num! })),
        size,
      ))
        target.set(k, mergeBucket(target.get(k), b));
    }
    this.#watermark = this.#nextReadingId - 1;
    return { readings: fresh.length };
  }

  async applyRetention(
    now: number,
    policy: { rawDays: number; minuteDays: number },
  ): Promise<{ deleted: number }> {
    this.#check('applyRetention');
    const rawCutoff = now - policy.rawDays * DAY_MS;
    const minuteCutoff = now - policy.minuteDays * DAY_MS;
    const before = this.#readings.length;
    // Numeric readings not yet rolled up are kept until rollup() has folded them.
    this.#readings = this.#readings.filter((r) => {
      const drop = r.cloudTs < rawCutoff && (r.id <= this.#watermark || r.kind !== 0);
      if (drop) this.#readingKeys.delete(key2(r.gateway, r.seq));
      return !drop;
    });
    let deleted = before - this.#readings.length;
    for (const [k, b] of this.#rollups['1m']) {
      if (b.bucket < minuteCutoff) {
        this.#rollups['1m'].delete(k);
        deleted++;
      }
    }
    return { deleted };
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function readingRow(r: StoredReading): ReadingRow {
  return {
    gateway: r.gateway,
    site: siteFromPath(r.sitePath),
    device: r.device,
    point: r.point,
    value: r.kind === 0 ? r.num! : r.kind === 1 ? r.num === 1 : r.text!,
    unit: r.unit,
    quality: r.q === 'u' ? 'uncertain' : r.q === 'b' ? 'bad' : 'good',
    ts: r.ts,
    cloudTs: r.cloudTs,
    seq: r.seq,
  };
}

export function deviceHealthRow(d: DeviceRecord, h: DeviceHealthState | undefined): DeviceHealth {
  return compact({
    gateway: d.gateway,
    device: d.id,
    site: clone(d.site),
    location: d.location,
    kind: d.kind,
    state: (h?.state ?? 'unknown') as DeviceHealth['state'],
    reason: h?.reason ?? undefined,
    lastSeen: h?.lastSeen ?? undefined,
    battery: h?.battery ?? undefined,
    batteryLow: h?.batteryLow ?? undefined,
    signal: h?.signal ?? undefined,
    fault: h?.fault ?? undefined,
    // A registered device that never reported has no health row yet: updatedAt 0.
    updatedAt: h?.updatedAt ?? 0,
  });
}
