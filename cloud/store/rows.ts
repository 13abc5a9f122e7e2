/**
 * Database row → port record mapping shared by the SQLite and PostgreSQL adapters (same column
 * names in both schemas). NULL becomes an absent field; SQLite's 0/1 and PostgreSQL's booleans both
 * become booleans; JSON arrives as text (SQLite) or already parsed (PostgreSQL jsonb).
 */
import type { Quality } from '../../protocol/index.js';
import { compact, siteFromPath } from './common.js';
import type {
  AccountAuditEntry,
  ApiTokenRecord,
  DeviceHealth,
  DeviceRecord,
  EnrollmentTokenRecord,
  GatewayCredentialRecord,
  GatewayHealth,
  GatewayRecord,
  ReadingRow,
  RollupRow,
  SiteNode,
  StoredAlarmTransition,
  UserRecord,
} from './port.js';

// biome-ignore lint/suspicious/noExplicitAny: database rows are untyped at this boundary
export type Row = Record<string, any>;

const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);
const bool = (v: unknown): boolean | undefined => (v === null || v === undefined ? undefined : Boolean(v));
const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);
const QUALITY: Record<string, Quality> = { g: 'good', u: 'uncertain', b: 'bad' };

export const toSite = (r: Row): SiteNode => ({ path: r.path, level: r.level, name: r.name });

export const toGateway = (r: Row): GatewayRecord =>
  compact({
    id: r.id,
    site: siteFromPath(r.site_path),
    name: opt(r.name),
    status: r.status,
    createdAt: r.created_at,
  });

export const toDevice = (r: Row): DeviceRecord =>
  compact({
    gateway: r.gateway,
    id: r.id,
    site: siteFromPath(r.site_path),
    kind: opt(r.kind),
    profile: opt(r.profile),
    location: opt(r.location),
  });

export const toEnrollmentToken = (r: Row): EnrollmentTokenRecord => ({
  id: r.id,
  secretHash: r.secret_hash,
  scope: r.scope,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usesLeft: r.uses_left,
});

export const toCredential = (r: Row): GatewayCredentialRecord =>
  compact({
    id: r.id,
    gateway: r.gateway,
    secretHash: r.secret_hash,
    createdAt: r.created_at,
    expiresAt: opt(r.expires_at),
    revokedAt: opt(r.revoked_at),
  });

export const toUser = (r: Row): UserRecord =>
  compact({
    id: r.id,
    username: r.username,
    passwordHash: opt(r.password_hash),
    scope: r.scope,
    role: r.role,
    displayName: opt(r.display_name),
    createdAt: r.created_at,
    disabled: Boolean(r.disabled),
    failedLogins: r.failed_logins,
    lockedUntil: opt(r.locked_until),
  });

export const toApiToken = (r: Row): ApiTokenRecord =>
  compact({
    id: r.id,
    user: r.user_id,
    secretHash: r.secret_hash,
    scope: r.scope,
    role: r.role,
    createdAt: r.created_at,
    expiresAt: opt(r.expires_at),
    revokedAt: opt(r.revoked_at),
    label: opt(r.label),
    lastUsedAt: opt(r.last_used_at),
  });

export const toAccountAudit = (r: Row): AccountAuditEntry =>
  compact({
    at: Number(r.at),
    actorId: opt(r.actor_id),
    actor: r.actor,
    action: r.action,
    userId: r.user_id,
    username: r.username,
    scope: r.scope,
    ip: opt(r.ip),
    detail:
      r.detail === null || r.detail === undefined ? undefined : (json(r.detail) as Record<string, unknown>),
  });

export const toReading = (r: Row): ReadingRow => ({
  gateway: r.gateway,
  site: siteFromPath(r.site_path),
  device: r.device,
  point: r.point,
  value: r.value_kind === 0 ? r.value_num : r.value_kind === 1 ? r.value_num === 1 : r.value_text,
  unit: r.unit,
  quality: QUALITY[r.quality] ?? 'good',
  ts: r.ts,
  cloudTs: r.cloud_ts,
  seq: r.seq,
});

export const toAlarm = (r: Row): StoredAlarmTransition => ({
  ...(json(r.body) as StoredAlarmTransition),
  site: siteFromPath(r.site_path),
  seq: r.seq,
  receivedAt: r.received_at,
  offsetMs: r.offset_ms,
});

export const toRollup = (r: Row): RollupRow => ({
  gateway: r.gateway,
  device: r.device,
  point: r.point,
  bucket: r.bucket,
  count: r.count,
  min: r.min,
  max: r.max,
  avg: r.sum / r.count,
  last: r.last,
});

/** From `devices d LEFT JOIN device_health h` selecting d.*, h.* with d.id AS id. */
export const toDeviceHealth = (r: Row): DeviceHealth =>
  compact({
    gateway: r.gateway,
    device: r.id,
    site: siteFromPath(r.site_path),
    location: opt(r.location),
    kind: opt(r.kind),
    state: r.state ?? 'unknown',
    reason: opt(r.reason),
    lastSeen: opt(r.last_seen),
    battery: opt(r.battery),
    batteryLow: bool(r.battery_low),
    signal: opt(r.signal),
    fault: bool(r.fault),
    // A registered device that never reported has no health row yet: updatedAt 0.
    updatedAt: r.updated_at ?? 0,
  });

/** From `gateways g LEFT JOIN gateway_health h`. */
export const toGatewayHealth = (r: Row): GatewayHealth =>
  compact({
    gateway: r.id,
    site: siteFromPath(r.site_path),
    lastSyncAt: opt(r.last_sync_at),
    lastBatchSeq: opt(r.last_batch_seq),
    report:
      r.report === null || r.report === undefined ? undefined : (json(r.report) as GatewayHealth['report']),
    rejectedBatches: r.rejected_batches ?? 0,
    updatedAt: r.updated_at ?? r.created_at,
  });
