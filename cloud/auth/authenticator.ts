import { DoorstepError, scopeContains } from '../../protocol/index.js';
import type { CloudStore, GatewayCredentialRecord, GatewayRecord, Role } from '../store/port.js';
import { dummyHash, verifyPassword } from './password.js';
import { roleAtLeast } from './roles.js';
import { SECRET_PREFIX, sha256Hex } from './secrets.js';

/** A person (through an API token or a password) acting inside a scope with a role. */
export interface UserPrincipal {
  kind: 'user';
  userId: string;
  username: string;
  scope: string;
  role: Role;
  /** The API token used, when not a password login. */
  tokenId?: string;
}

export interface GatewayPrincipal {
  kind: 'gateway';
  gateway: GatewayRecord;
  credential: GatewayCredentialRecord;
}

/**
 * Resolves a console session secret (`dss_…`, cloud/console/sessions.ts) to the signed-in user, or
 * undefined when it is unknown, expired or ended. The console copies its HttpOnly session cookie
 * into the Authorization header (after its origin check), so every token route accepts a session
 * exactly like an API token: same scope and role checks, nothing else changes.
 */
export type SessionResolver = (secret: string, now: number) => Promise<UserPrincipal | undefined>;

/** Failed logins before a lock, and its length (OWASP authentication cheat sheet: lock out). */
export const LOCKOUT = { attempts: 5, durationMs: 15 * 60_000 } as const;

/** How precisely an API token's last use is recorded (one write per token per minute at most). */
const TOKEN_USE_RESOLUTION_MS = 60_000;

function authError(reason: string): DoorstepError {
  return new DoorstepError('CLOUD_ERR_AUTH', { reason });
}

/** The bearer secret of an `Authorization: Bearer …` header (RFC 6750 §2.1). */
export function bearerOf(header: string | undefined): string {
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) throw authError(header ? 'malformed Authorization header' : 'no Authorization header');
  return match[1];
}

/** User and password of an `Authorization: Basic …` header (RFC 7617 §2). */
export function basicOf(header: string | undefined): { username: string; password: string } {
  const match = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) throw authError('this endpoint needs HTTP Basic authentication (user name and password)');
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) throw authError('malformed Basic credentials');
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Checks credentials against the store. Every failure is the same 401 whatever the cause (unknown
 * secret, expired, revoked), except lockouts and revoked gateways, which the caller must know
 * about to act.
 */
export class Authenticator {
  #sessions: SessionResolver | undefined;
  constructor(
    private readonly store: CloudStore,
    private readonly clock: () => number,
  ) {}

  async gateway(header: string | undefined): Promise<GatewayPrincipal> {
    const secret = bearerOf(header);
    if (!secret.startsWith(SECRET_PREFIX.gateway)) throw authError('not a gateway credential');
    const now = this.clock();
    const credential = await this.store.findGatewayCredential(sha256Hex(secret), now);
    if (!credential) throw authError('unknown, expired or revoked gateway credential');
    const gateway = await this.store.getGateway(credential.gateway);
    if (!gateway) throw authError('unknown, expired or revoked gateway credential');
    if (gateway.status !== 'active')
      throw new DoorstepError('CLOUD_ERR_GATEWAY_REVOKED', { gateway: gateway.id });
    return { kind: 'gateway', gateway, credential };
  }

  /** Lets API-token routes accept console sessions too (cloud/console registers this). */
  acceptSessions(resolver: SessionResolver): void {
    this.#sessions = resolver;
  }

  async apiToken(header: string | undefined): Promise<UserPrincipal> {
    const secret = bearerOf(header);
    // Console session (cloud/console): resolved by the console's session store, same 401 on failure.
    if (secret.startsWith('dss_') && this.#sessions) {
      const session = await this.#sessions(secret, this.clock());
      if (!session) throw authError('unknown, expired or ended console session');
      return session;
    }
    if (!secret.startsWith(SECRET_PREFIX.apiToken)) throw authError('not an API token');
    const now = this.clock();
    const token = await this.store.findApiToken(sha256Hex(secret), now);
    if (!token) throw authError('unknown, expired or revoked API token');
    const user = await this.store.getUser(token.user);
    if (!user || user.disabled) throw authError('the token’s user is disabled');
    // A token never carries more than its user has now (the user may have been narrowed since).
    const scope = scopeContains(user.scope, token.scope) ? token.scope : undefined;
    if (!scope) throw authError('the token’s scope is no longer inside its user’s scope');
    const role = roleAtLeast(user.role, token.role) ? token.role : user.role;
    // "Last used" for token lists (cloud/auth/accounts.ts), written at most once a minute per token.
    if (token.lastUsedAt === undefined || now - token.lastUsedAt >= TOKEN_USE_RESOLUTION_MS)
      await this.store.touchApiToken(token.id, now);
    return { kind: 'user', userId: user.id, username: user.username, scope, role, tokenId: token.id };
  }

  /** Password login (HTTP Basic) with a lock after LOCKOUT.attempts failures in a row. */
  async password(header: string | undefined): Promise<UserPrincipal> {
    const { username, password } = basicOf(header);
    const now = this.clock();
    const user = await this.store.getUserByName(username);
    if (!user?.passwordHash || user.disabled) {
      await verifyPassword(password, await dummyHash());
      throw authError('wrong user name or password');
    }
    if (user.lockedUntil !== undefined && user.lockedUntil > now)
      throw new DoorstepError('CLOUD_ERR_ACCOUNT_LOCKED', {
        username,
        until: new Date(user.lockedUntil).toISOString(),
        attempts: LOCKOUT.attempts,
      });
    if (!(await verifyPassword(password, user.passwordHash))) {
      const failed = (user.lockedUntil !== undefined ? 0 : user.failedLogins) + 1;
      const locked = failed >= LOCKOUT.attempts;
      await this.store.updateUserLogin(user.id, {
        failedLogins: locked ? 0 : failed,
        lockedUntil: locked ? now + LOCKOUT.durationMs : undefined,
      });
      if (locked)
        throw new DoorstepError('CLOUD_ERR_ACCOUNT_LOCKED', {
          username,
          until: new Date(now + LOCKOUT.durationMs).toISOString(),
          attempts: LOCKOUT.attempts,
        });
      throw authError('wrong user name or password');
    }
    if (user.failedLogins !== 0 || user.lockedUntil !== undefined)
      await this.store.updateUserLogin(user.id, { failedLogins: 0, lockedUntil: undefined });
    return { kind: 'user', userId: user.id, username: user.username, scope: user.scope, role: user.role };
  }
}
