import { PasswordError, unmatchableHash } from '../../common/password.js';
import { PasswordPool, PasswordPoolBusy } from '../../common/password-pool.js';
import { DoorstepError, scopeContains } from '../../protocol/index.js';
import { SignInConfig } from '../config/schema.js';
import type { CloudStore, GatewayCredentialRecord, GatewayRecord, Role, SignInKey } from '../store/port.js';
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

/**
 * Sign-in defaults (cloud config `signIn`, cloud/auth/README.md). The lock is per (user name,
 * source address) with progressive delays (OWASP authentication cheat sheet: account lockout;
 * NIST SP 800-63B §5.2.2 rate limiting), so a stranger can lock out only their own address.
 */
export const SIGN_IN_DEFAULTS: SignInConfig = SignInConfig.parse({});

/** Answered to a client told to come back: seconds, rounded up, at least 1 (RFC 9110 §10.2.3). */
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** A fixed-window counter in this process (real time, not the service clock: it meters real load). */
class WindowCounter {
  #counts = new Map<string, number>();
  #windowEnds = 0;
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}
  /** Counts one for `key`; the milliseconds to wait when over the limit, else 0. */
  take(key: string): number {
    const now = Date.now();
    if (now >= this.#windowEnds) {
      this.#counts.clear();
      this.#windowEnds = now + this.windowMs;
    }
    const n = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, n);
    return n > this.max ? this.#windowEnds - now : 0;
  }
}

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
  readonly #policy: SignInConfig;
  readonly #passwords: PasswordPool;
  readonly #perSource: WindowCounter;
  readonly #global: WindowCounter;
  /** What unknown (and disabled) users are checked against, so they cost what real ones do. */
  readonly #dummy = unmatchableHash();
  #purgedAt = 0;
  #checks = 0;

  constructor(
    private readonly store: CloudStore,
    private readonly clock: () => number,
    policy: SignInConfig = SIGN_IN_DEFAULTS,
  ) {
    this.#policy = policy;
    this.#passwords = new PasswordPool(policy.pool);
    this.#perSource = new WindowCounter(policy.perSource.max, policy.perSource.windowMs);
    this.#global = new WindowCounter(policy.global.max, policy.global.windowMs);
  }

  /** Hashes a new password on the sign-in pool (scrypt never runs on libuv's thread pool here). */
  async hashPassword(plain: string): Promise<string> {
    try {
      return await this.#passwords.hash(plain);
    } catch (error) {
      if (error instanceof PasswordError)
        throw new DoorstepError('CLOUD_ERR_VALIDATION', { field: 'password', reason: error.reason });
      throw this.#busy(error);
    }
  }

  /** Password checks run by this instance (scrypt against a stored or the dummy hash). */
  get passwordChecks(): number {
    return this.#checks;
  }

  /** Ends the pool's threads (the service is stopping). */
  async close(): Promise<void> {
    await this.#passwords.close();
  }

  #busy(error: unknown): unknown {
    if (!(error instanceof PasswordPoolBusy)) return error;
    return new DoorstepError('CLOUD_ERR_SIGNIN_BUSY', { limit: error.limit, retryAfterSeconds: 1 });
  }

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

  /**
   * Password sign-in (HTTP Basic) from `source` (the client address; behind trustProxy, the one
   * the proxy reports). In order: the per-source and global rates (429), room in the password pool
   * (503), then one attempt is counted for (user name, source) in the store — atomically, before
   * the check, so no more than `lockout.attempts` checks ever run per round whatever arrives at
   * once, on however many instances. The attempt that reaches the threshold and fails locks the
   * key for firstLockMs, doubling with each lock up to maxLockMs. Unknown and disabled users go
   * through the very same steps (checked against an unmatchable hash of the same cost), so the
   * answers — lock included — do not tell which user names exist.
   */
  async password(header: string | undefined, source = 'unknown'): Promise<UserPrincipal> {
    const { username, password } = basicOf(header);
    const wait = Math.max(this.#global.take('all'), this.#perSource.take(source));
    if (wait > 0)
      throw new DoorstepError('CLOUD_ERR_RATE_LIMITED', {
        retryAfter: `${seconds(wait)} s`,
        retryAfterSeconds: seconds(wait),
      });
    if (this.#passwords.inFlight >= this.#passwords.limit)
      throw this.#busy(new PasswordPoolBusy(this.#passwords.limit));
    const { lockout } = this.#policy;
    const now = this.clock();
    await this.#purge(now);
    const key: SignInKey = { username, source };
    const counted = await this.store.countSignInAttempt(
      key,
      now,
      now - lockout.quietMs,
      now - lockout.forgetMs,
    );
    if (counted.lockedUntil !== undefined || counted.attempt > lockout.attempts)
      // Over the threshold while the attempt that reached it is still being checked: its lock
      // is not written yet, so the answer names the lock it will set.
      throw this.#locked(username, counted.lockedUntil ?? now + this.#lockMs(counted.locks), now);
    const user = await this.store.getUserByName(username);
    const usable = user?.passwordHash !== undefined && !user.disabled;
    let ok: boolean;
    try {
      ok = await this.#passwords.verify(password, usable ? user.passwordHash! : this.#dummy);
    } catch (error) {
      throw this.#busy(error);
    }
    this.#checks += 1;
    if (ok && usable) {
      // Forgotten only if no other attempt was counted meanwhile (those stay counted).
      await this.store.clearSignIn(key, counted.attempt);
      return { kind: 'user', userId: user.id, username: user.username, scope: user.scope, role: user.role };
    }
    if (counted.attempt === lockout.attempts) {
      const until = now + this.#lockMs(counted.locks);
      await this.store.lockSignIn(key, until);
      throw this.#locked(username, until, now);
    }
    throw authError('wrong user name or password');
  }

  #lockMs(locks: number): number {
    const { firstLockMs, maxLockMs } = this.#policy.lockout;
    return Math.min(maxLockMs, firstLockMs * 2 ** Math.min(locks, 30));
  }

  #locked(username: string, until: number, now: number): DoorstepError {
    return new DoorstepError('CLOUD_ERR_ACCOUNT_LOCKED', {
      username,
      until: new Date(until).toISOString(),
      attempts: this.#policy.lockout.attempts,
      retryAfterSeconds: seconds(until - now),
    });
  }

  /** Old keys go at most once an hour, on a sign-in (no timer of its own). */
  async #purge(now: number): Promise<void> {
    if (now - this.#purgedAt < 3_600_000) return;
    this.#purgedAt = now;
    await this.store.purgeSignIns(now - this.#policy.lockout.forgetMs);
  }
}
