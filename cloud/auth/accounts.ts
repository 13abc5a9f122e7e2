/**
 * The account life cycle: list users, their API tokens (revoke one), disable and re-enable a user,
 * change one's own password, reset another's, end all of a user's sessions. One service behind
 * the /v1 routes (cloud/http/routes/users.ts), the console's users page and `doorstep user`, so
 * the three check and audit alike:
 *
 * - **Scope and role**: acting on another user needs the admin role and that user's scope inside
 *   the admin's (docs/architecture.md invariant 11). Unknown and out-of-scope users get the same
 *   403, so names in other towns cannot be probed. Listing and revoking one's own tokens and
 *   changing one's own password need no role.
 * - **At once**: a revoked token, a disabled user and ended sessions are refused on the very next
 *   request (the authenticator reads the store each time); live console streams of the user are
 *   closed through `onSessionsEnded`.
 * - **Audited**: every change appends to `account_audit` (who, when, from where, what), filed
 *   under the target user's scope.
 */
import { DoorstepError, scopeContains } from '../../protocol/index.js';
import type { AccountAuditEntry, ApiTokenRecord, CloudStore, UserRecord } from '../store/port.js';
import type { UserPrincipal } from './authenticator.js';
import { requireInScope, requireRole } from './guards.js';
import { checkPasswordPolicy } from './password-policy.js';

/** Who acts, from where, and (for a console session) which session, kept on a password change. */
export interface AccountActor {
  principal: UserPrincipal;
  ip?: string;
  /** sha256 of the caller's console session secret, when the request came with one. */
  sessionIdHash?: string;
}

/** The part of the console's session store this service needs (cloud/console/store.ts). */
export interface SessionEnder {
  revokeUserSessions(user: string, now: number, exceptIdHash?: string): Promise<number>;
}

export interface AccountsOptions {
  store: CloudStore;
  sessions: () => Promise<SessionEnder>;
  clock: () => number;
  /**
   * Checks `password` for the principal's user (the sign-in check, with its lock per user name and
   * source address: `source` is the caller's address).
   */
  verifyPassword: (username: string, password: string, source?: string) => Promise<void>;
  /** Hashes a new password on the cloud's password pool (common/password-pool.ts), not libuv's. */
  hashPassword: (plain: string) => Promise<string>;
}

export class Accounts {
  readonly #listeners = new Set<(userId: string, exceptIdHash?: string) => void>();
  constructor(private readonly o: AccountsOptions) {}

  /**
   * Called with the user id (and the session kept, if any) whenever that user's sessions were
   * ended or the user disabled: the console closes the user's live streams.
   */
  onSessionsEnded(listener: (userId: string, exceptIdHash?: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Users inside `scope` (default: the admin's own scope). */
  async list(actor: AccountActor, scope?: string): Promise<UserRecord[]> {
    requireRole(actor.principal, 'admin', 'list users');
    const where = scope ?? actor.principal.scope;
    requireInScope(actor.principal, where, 'scope');
    return this.o.store.listUsers(where);
  }

  /**
   * The user named `username` if the actor may act on it: itself when `self` allows, else an admin
   * whose scope contains the user's. Unknown and out-of-scope names get the same CLOUD_ERR_SCOPE.
   */
  async target(actor: AccountActor, username: string, action: string, self: boolean): Promise<UserRecord> {
    const p = actor.principal;
    if (self && username === p.username) {
      const user = await this.o.store.getUser(p.userId);
      if (user) return user;
    }
    requireRole(p, 'admin', action);
    const user = await this.o.store.getUserByName(username);
    if (!user || !scopeContains(p.scope, user.scope))
      throw new DoorstepError('CLOUD_ERR_SCOPE', { what: 'user', path: username, scope: p.scope });
    return user;
  }

  async tokens(
    actor: AccountActor,
    username: string,
  ): Promise<{ user: UserRecord; tokens: ApiTokenRecord[] }> {
    const user = await this.target(actor, username, 'list other users’ API tokens', true);
    return { user, tokens: await this.o.store.listApiTokens(user.id) };
  }

  async revokeToken(actor: AccountActor, username: string, tokenId: string): Promise<ApiTokenRecord> {
    const user = await this.target(actor, username, 'revoke other users’ API tokens', true);
    const token = (await this.o.store.listApiTokens(user.id)).find((t) => t.id === tokenId);
    if (!token)
      throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: `API token of ${username}:`, id: tokenId });
    const now = this.o.clock();
    if (token.revokedAt === undefined) {
      await this.o.store.revokeApiToken(token.id, now);
      await this.audit(actor, 'token.revoked', user, {
        token: token.id,
        ...(token.label ? { label: token.label } : {}),
      });
    }
    return { ...token, revokedAt: token.revokedAt ?? now };
  }

  /** Disables (ending every session) or re-enables a user; tokens are refused while disabled. */
  async setDisabled(
    actor: AccountActor,
    username: string,
    disabled: boolean,
  ): Promise<{ user: UserRecord; sessionsEnded: number }> {
    const user = await this.target(actor, username, disabled ? 'disable users' : 'enable users', false);
    if (user.id === actor.principal.userId)
      throw new DoorstepError('CLOUD_ERR_ACCOUNT_SELF', { action: disabled ? 'disable' : 'enable' });
    let sessionsEnded = 0;
    if (user.disabled !== disabled) {
      await this.o.store.setUserDisabled(user.id, disabled);
      if (disabled) sessionsEnded = await this.#endSessions(user.id);
      await this.audit(
        actor,
        disabled ? 'user.disabled' : 'user.enabled',
        user,
        disabled ? { sessionsEnded } : undefined,
      );
    } else if (disabled) {
      sessionsEnded = await this.#endSessions(user.id);
    }
    return { user: { ...user, disabled }, sessionsEnded };
  }

  /** Own password: the current one must be right; every other session of the user ends. */
  async changePassword(
    actor: AccountActor,
    current: string,
    next: string,
  ): Promise<{ sessionsEnded: number }> {
    const p = actor.principal;
    const user = await this.o.store.getUser(p.userId);
    if (!user) throw new DoorstepError('CLOUD_ERR_AUTH', { reason: 'the user no longer exists' });
    try {
      await this.o.verifyPassword(user.username, current, actor.ip);
    } catch (error) {
      if (error instanceof DoorstepError && error.code === 'CLOUD_ERR_AUTH')
        throw new DoorstepError('CLOUD_ERR_PASSWORD_CURRENT', { username: user.username });
      throw error;
    }
    checkPasswordPolicy(next, user.username);
    if (next === current)
      throw new DoorstepError('CLOUD_ERR_PASSWORD_POLICY', {
        username: user.username,
        reason: 'is the same as the current one',
      });
    await this.o.store.setUserPassword(user.id, await this.o.hashPassword(next));
    const sessionsEnded = await this.#endSessions(user.id, actor.sessionIdHash);
    await this.audit(actor, 'password.changed', user, { sessionsEnded });
    return { sessionsEnded };
  }

  /** Another user's password, set by an admin in scope; every session of that user ends. */
  async resetPassword(
    actor: AccountActor,
    username: string,
    next: string,
  ): Promise<{ sessionsEnded: number }> {
    const user = await this.target(actor, username, 'reset passwords', false);
    if (user.id === actor.principal.userId)
      throw new DoorstepError('CLOUD_ERR_ACCOUNT_SELF', { action: 'reset the password of' });
    checkPasswordPolicy(next, user.username);
    await this.o.store.setUserPassword(user.id, await this.o.hashPassword(next));
    const sessionsEnded = await this.#endSessions(user.id);
    await this.audit(actor, 'password.reset', user, { sessionsEnded });
    return { sessionsEnded };
  }

  /** Ends every session of a user (one's own: all but the calling one). */
  async endSessions(actor: AccountActor, username: string): Promise<{ sessionsEnded: number }> {
    const user = await this.target(actor, username, 'end other users’ sessions', true);
    const own = user.id === actor.principal.userId;
    const sessionsEnded = await this.#endSessions(user.id, own ? actor.sessionIdHash : undefined);
    await this.audit(actor, 'sessions.ended', user, { sessionsEnded });
    return { sessionsEnded };
  }

  /** The audit trail of accounts inside `scope` (default the admin's), optionally of one user. */
  async trail(
    actor: AccountActor,
    filter: { scope?: string; username?: string; limit?: number },
  ): Promise<AccountAuditEntry[]> {
    requireRole(actor.principal, 'admin', 'read the account audit trail');
    const scope = filter.scope ?? actor.principal.scope;
    requireInScope(actor.principal, scope, 'scope');
    let userId: string | undefined;
    if (filter.username !== undefined)
      userId = (await this.target(actor, filter.username, 'read the account audit trail', false)).id;
    return this.o.store.listAccountAudit(scope, {
      ...(userId ? { userId } : {}),
      ...(filter.limit ? { limit: filter.limit } : {}),
    });
  }

  /** Appends one entry to the account audit trail (also used for user and token creation). */
  async audit(
    actor: AccountActor,
    action: string,
    user: Pick<UserRecord, 'id' | 'username' | 'scope'>,
    detail?: Record<string, unknown>,
  ): Promise<void> {
    await this.o.store.appendAccountAudit({
      at: this.o.clock(),
      actorId: actor.principal.userId,
      actor: actor.principal.username,
      action,
      userId: user.id,
      username: user.username,
      scope: user.scope,
      ...(actor.ip ? { ip: actor.ip } : {}),
      ...(detail ? { detail } : {}),
    });
  }

  async #endSessions(userId: string, except?: string): Promise<number> {
    const n = await (await this.o.sessions()).revokeUserSessions(userId, this.o.clock(), except);
    for (const listener of this.#listeners) listener(userId, except);
    return n;
  }
}
