import { z } from 'zod';
import {
  AlarmTransition,
  DEVICE_STATES,
  DeviceId,
  DeviceLinkState,
  GatewayHealthReport,
  GatewayId,
  PointId,
  ScopePath,
  SitePath,
} from '../../protocol/index.js';

/**
 * Request and response shapes of the HTTP API. Requests are parsed with these schemas (unknown
 * fields rejected); responses are documented with them in /openapi.json.
 */

export const Role = z.enum(['viewer', 'duty', 'supervisor', 'admin']);
const StrictSite = SitePath.strict();
const Ms = z.number().int().nonnegative();
const Username = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{1,63}$/, 'must be 2–64 chars: a-z, 0-9, ".", "_" or "-"');

// ── enrolment and credentials ─────────────────────────────────────────────────────────────
export const EnrollRequest = z
  .object({
    token: z.string().min(8).max(256),
    gateway: z
      .object({ id: GatewayId, name: z.string().min(1).max(120).optional(), site: StrictSite })
      .strict(),
  })
  .strict();

export const GatewayView = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    site: SitePath,
    status: z.enum(['active', 'revoked']),
    createdAt: Ms,
  })
  .strict();

export const CredentialView = z
  .object({
    id: z.string(),
    /** Shown once; only its sha256 is stored. */
    secret: z.string(),
  })
  .strict();

export const EnrollResponse = z
  .object({ gateway: GatewayView, credential: CredentialView, syncUrl: z.string() })
  .strict();

export const EnrollmentTokenRequest = z
  .object({
    scope: ScopePath,
    uses: z.number().int().min(1).max(10_000).default(1),
    ttlHours: z.number().positive().default(72),
  })
  .strict();

export const EnrollmentTokenResponse = z
  .object({ id: z.string(), token: z.string(), scope: z.string(), usesLeft: z.number().int(), expiresAt: Ms })
  .strict();

export const RotateResponse = z.object({ credential: CredentialView, previousValidUntil: Ms }).strict();

export const GatewayIdParams = z.object({ id: GatewayId }).strict();

export const RevokeResponse = z
  .object({ gateway: z.string(), status: z.literal('revoked'), credentialsRevoked: z.number().int() })
  .strict();

// ── users and API tokens ──────────────────────────────────────────────────────────────────
export const CreateUserRequest = z
  .object({
    username: Username,
    password: z.string().min(12, 'must be at least 12 characters').max(1024).optional(),
    scope: ScopePath,
    role: Role,
    displayName: z.string().min(1).max(120).optional(),
  })
  .strict();

export const UserView = z
  .object({
    id: z.string(),
    username: z.string(),
    scope: z.string(),
    role: Role,
    displayName: z.string().optional(),
  })
  .strict();

export const ApiTokenRequest = z
  .object({
    /** Whose token: yourself by default; an admin may name a user inside its scope. */
    user: Username.optional(),
    /** Narrower than the user's scope, or the user's scope by default. */
    scope: ScopePath.optional(),
    /** At most the user's role, or the user's role by default. */
    role: Role.optional(),
    ttlDays: z.number().positive().optional(),
    /** What the token is for, shown in token lists ("夜班脚本"). */
    label: z.string().min(1).max(120).optional(),
  })
  .strict();

export const ApiTokenResponse = z
  .object({
    id: z.string(),
    token: z.string(),
    user: z.string(),
    scope: z.string(),
    role: Role,
    expiresAt: Ms,
  })
  .strict();

// ── account life cycle (cloud/auth/accounts.ts) ─────────────────────────────────────────────
export const UsernameParams = z.object({ username: Username }).strict();
export const UserTokenParams = z.object({ username: Username, id: z.string().min(1).max(64) }).strict();
export const UsersQuery = z.object({ scope: ScopePath.optional() }).strict();

export const UserAccountView = z
  .object({
    id: z.string(),
    username: z.string(),
    scope: z.string(),
    role: Role,
    displayName: z.string().optional(),
    createdAt: Ms,
    disabled: z.boolean(),
    /** Locked after failed sign-ins until then (absent when not locked). */
    lockedUntil: Ms.optional(),
    /** False for token-only users (no password sign-in). */
    hasPassword: z.boolean(),
  })
  .strict();
export const UserList = z.object({ scope: z.string(), items: z.array(UserAccountView) }).strict();

/** An API token as listed: never its secret (only its sha256 is stored anyway). */
export const ApiTokenView = z
  .object({
    id: z.string(),
    label: z.string().optional(),
    scope: z.string(),
    role: Role,
    createdAt: Ms,
    expiresAt: Ms.optional(),
    /** Last accepted use, to the minute; absent when never used since it was listed. */
    lastUsedAt: Ms.optional(),
    revokedAt: Ms.optional(),
    state: z.enum(['active', 'expired', 'revoked']),
  })
  .strict();
export const ApiTokenList = z.object({ user: z.string(), items: z.array(ApiTokenView) }).strict();
export const RevokeTokenResponse = z.object({ user: z.string(), token: ApiTokenView }).strict();

export const UserStateResponse = z
  .object({ user: UserAccountView, sessionsEnded: z.number().int().nonnegative() })
  .strict();
export const SessionsEndedResponse = z
  .object({ user: z.string(), sessionsEnded: z.number().int().nonnegative() })
  .strict();
export const ChangePasswordRequest = z
  .object({ current: z.string().min(1).max(1024), password: z.string().min(1).max(4096) })
  .strict();
export const ResetPasswordRequest = z.object({ password: z.string().min(1).max(4096) }).strict();

export const AccountAuditQuery = z
  .object({
    scope: ScopePath.optional(),
    user: Username.optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();
export const AccountAuditView = z
  .object({
    at: Ms,
    actor: z.string(),
    action: z.string(),
    user: z.string(),
    scope: z.string(),
    ip: z.string().optional(),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export const AccountAuditList = z.object({ items: z.array(AccountAuditView) }).strict();

// ── queries ───────────────────────────────────────────────────────────────────────────────
const QMs = z.coerce.number().int().nonnegative();
const Limit = z.coerce.number().int().min(1).max(10_000);
const ScopeParam = ScopePath.optional();

export const SitesQuery = z.object({ scope: ScopeParam }).strict();
export const GatewaysQuery = z.object({ scope: ScopeParam }).strict();
export const DevicesQuery = z.object({ scope: ScopeParam, gateway: GatewayId.optional() }).strict();
export const AlarmsQuery = z
  .object({
    scope: ScopeParam,
    gateway: GatewayId.optional(),
    device: DeviceId.optional(),
    alarm: z.string().min(1).max(96).optional(),
    type: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,63}$/)
      .optional(),
    from: QMs.optional(),
    to: QMs.optional(),
    limit: Limit.optional(),
  })
  .strict();
export const ReadingsQuery = z
  .object({
    scope: ScopeParam,
    gateway: GatewayId.optional(),
    device: DeviceId.optional(),
    point: PointId.optional(),
    from: QMs.optional(),
    to: QMs.optional(),
    limit: Limit.optional(),
  })
  .strict();
export const RollupsQuery = ReadingsQuery.extend({ resolution: z.enum(['1m', '1h']) }).strict();
export const DeviceHealthQuery = z
  .object({ scope: ScopeParam, state: z.enum(DEVICE_STATES).optional() })
  .strict();
export const GatewayHealthQuery = z.object({ scope: ScopeParam }).strict();

const list = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) }).strict();

export const SiteNodeView = z
  .object({ path: z.string(), level: z.enum(['district', 'town', 'community']), name: z.string() })
  .strict();
export const DeviceView = z
  .object({
    gateway: z.string(),
    id: z.string(),
    site: SitePath,
    kind: z.string().optional(),
    profile: z.string().optional(),
    location: z.string().optional(),
  })
  .strict();
export const AlarmView = AlarmTransition.extend({
  site: SitePath,
  seq: z.number().int(),
  receivedAt: Ms,
  offsetMs: z.number(),
});
const Value = z.union([z.number(), z.boolean(), z.string()]);
export const ReadingView = z.object({
  gateway: z.string(),
  site: SitePath,
  device: z.string(),
  point: z.string(),
  value: Value,
  unit: z.string(),
  quality: z.enum(['good', 'uncertain', 'bad']),
  ts: z.number(),
  cloudTs: z.number(),
  seq: z.number().int(),
});
export const RollupView = z.object({
  gateway: z.string(),
  device: z.string(),
  point: z.string(),
  bucket: Ms,
  count: z.number().int(),
  min: z.number(),
  max: z.number(),
  avg: z.number(),
  last: z.number(),
});
export const DeviceHealthView = z.object({
  gateway: z.string(),
  device: z.string(),
  site: SitePath,
  location: z.string().optional(),
  kind: z.string().optional(),
  state: DeviceLinkState.shape.state,
  reason: z.string().optional(),
  lastSeen: z.number().optional(),
  battery: z.number().optional(),
  batteryLow: z.boolean().optional(),
  signal: z.number().optional(),
  fault: z.boolean().optional(),
  updatedAt: z.number(),
});
export const GatewayHealthView = z.object({
  gateway: z.string(),
  site: SitePath,
  lastSyncAt: z.number().optional(),
  lastBatchSeq: z.number().optional(),
  report: GatewayHealthReport.optional(),
  rejectedBatches: z.number().int(),
  updatedAt: z.number(),
});

export const SitesResponse = list(SiteNodeView);
export const GatewaysResponse = list(GatewayView);
export const DevicesResponse = list(DeviceView);
export const AlarmsResponse = list(AlarmView);
export const ReadingsResponse = list(ReadingView);
export const RollupsResponse = list(RollupView);
export const DeviceHealthResponse = list(DeviceHealthView);
export const GatewayHealthResponse = list(GatewayHealthView);

export const HealthzResponse = z.object({ status: z.literal('ok'), district: z.string() }).strict();
