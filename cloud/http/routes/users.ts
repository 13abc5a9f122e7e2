import { createHash, randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { DoorstepError, scopeContains } from '../../../protocol/index.js';
import type { AccountActor } from '../../auth/accounts.js';
import type { UserPrincipal } from '../../auth/authenticator.js';
import { requireInScope, requireRole } from '../../auth/guards.js';
import { roleAtLeast } from '../../auth/roles.js';
import { newApiTokenSecret, sha256Hex } from '../../auth/secrets.js';
import type { ApiTokenRecord, UserRecord } from '../../store/port.js';
import type { CloudServices } from '../context.js';
import type { Router } from '../router.js';
import {
  AccountAuditList,
  AccountAuditQuery,
  ApiTokenList,
  ApiTokenRequest,
  ApiTokenResponse,
  ChangePasswordRequest,
  CreateUserRequest,
  ResetPasswordRequest,
  RevokeTokenResponse,
  SessionsEndedResponse,
  UserList,
  UsernameParams,
  UserStateResponse,
  UsersQuery,
  UserTokenParams,
  UserView,
} from '../schemas.js';

const DAY_MS = 86_400_000;

/** Who acts: the principal, its address, and its console session (when it came with one). */
export function actorOf(request: FastifyRequest, principal: UserPrincipal): AccountActor {
  const secret = /^Bearer[ ]+(dss_[A-Za-z0-9_-]+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  return {
    principal,
    ip: request.ip,
    ...(secret ? { sessionIdHash: createHash('sha256').update(secret).digest('hex') } : {}),
  };
}

export function accountView(u: UserRecord) {
  return {
    id: u.id,
    username: u.username,
    scope: u.scope,
    role: u.role,
    ...(u.displayName ? { displayName: u.displayName } : {}),
    createdAt: u.createdAt,
    disabled: u.disabled,
    ...(u.lockedUntil !== undefined ? { lockedUntil: u.lockedUntil } : {}),
    hasPassword: u.passwordHash !== undefined,
  };
}

export function tokenView(t: ApiTokenRecord, now: number) {
  const state =
    t.revokedAt !== undefined
      ? 'revoked'
      : t.expiresAt !== undefined && now >= t.expiresAt
        ? 'expired'
        : 'active';
  return {
    id: t.id,
    ...(t.label ? { label: t.label } : {}),
    scope: t.scope,
    role: t.role,
    createdAt: t.createdAt,
    ...(t.expiresAt !== undefined ? { expiresAt: t.expiresAt } : {}),
    ...(t.lastUsedAt !== undefined ? { lastUsedAt: t.lastUsedAt } : {}),
    ...(t.revokedAt !== undefined ? { revokedAt: t.revokedAt } : {}),
    state: state as 'active' | 'expired' | 'revoked',
  };
}

/** Users (created by an admin inside its scope) and their API tokens (minted with a password). */
export function userRoutes(router: Router, s: CloudServices): void {
  router.add(
    {
      method: 'POST',
      url: '/v1/users',
      summary: 'Create a user inside your scope (admin)',
      tag: 'users',
      auth: 'token',
      body: CreateUserRequest,
      status: 201,
      response: UserView,
      errors: [400, 401, 403, 409],
    },
    async ({ principal, body, request }) => {
      requireRole(principal, 'admin', 'create users');
      requireInScope(principal, body.scope, 'scope');
      if (await s.store.getUserByName(body.username))
        throw new DoorstepError('CLOUD_ERR_CONFLICT', { what: 'user', id: body.username });
      const user = {
        id: randomUUID(),
        username: body.username,
        ...(body.password ? { passwordHash: await s.auth.hashPassword(body.password) } : {}),
        scope: body.scope,
        role: body.role,
        ...(body.displayName ? { displayName: body.displayName } : {}),
        createdAt: s.clock(),
        disabled: false,
        failedLogins: 0,
      };
      await s.store.createUser(user);
      await s.accounts.audit(actorOf(request, principal), 'user.created', user, { role: user.role });
      s.log.info(
        { user: user.username, scope: user.scope, role: user.role, by: principal.username },
        'user created',
      );
      return {
        id: user.id,
        username: user.username,
        scope: user.scope,
        role: user.role,
        ...(user.displayName ? { displayName: user.displayName } : {}),
      };
    },
  );

  router.add(
    {
      method: 'POST',
      url: '/v1/api-tokens',
      summary: 'Mint an API token (HTTP Basic): for yourself, or as admin for a user in your scope',
      tag: 'users',
      auth: 'password',
      body: ApiTokenRequest,
      status: 201,
      response: ApiTokenResponse,
      errors: [400, 401, 403, 429, 503],
    },
    async ({ principal, body, request }) => {
      let owner = {
        id: principal.userId,
        username: principal.username,
        scope: principal.scope,
        role: principal.role,
      };
      if (body.user !== undefined && body.user !== principal.username) {
        requireRole(principal, 'admin', 'mint tokens for other users');
        const user = await s.store.getUserByName(body.user);
        // Unknown and out-of-scope users get the same answer.
        if (!user || user.disabled || !scopeContains(principal.scope, user.scope))
          throw new DoorstepError('CLOUD_ERR_SCOPE', {
            what: 'user',
            path: body.user,
            scope: principal.scope,
          });
        owner = { id: user.id, username: user.username, scope: user.scope, role: user.role };
      }
      const scope = body.scope ?? owner.scope;
      requireInScope(owner, scope, 'scope');
      const role = body.role ?? owner.role;
      if (!roleAtLeast(owner.role, role))
        throw new DoorstepError('CLOUD_ERR_FORBIDDEN', {
          role: owner.role,
          action: `hold a ${role} token`,
          needed: role,
        });
      const maxDays = s.config.credentials.apiTokenTtlDays;
      if (body.ttlDays !== undefined && body.ttlDays > maxDays)
        throw new DoorstepError('CLOUD_ERR_VALIDATION', {
          field: 'ttlDays',
          reason: `must be at most ${maxDays}`,
        });
      const now = s.clock();
      const token = newApiTokenSecret();
      const record = {
        id: randomUUID(),
        user: owner.id,
        secretHash: sha256Hex(token),
        scope,
        role,
        createdAt: now,
        expiresAt: now + Math.round((body.ttlDays ?? maxDays) * DAY_MS),
        ...(body.label ? { label: body.label } : {}),
      };
      await s.store.createApiToken(record);
      await s.accounts.audit(actorOf(request, principal), 'token.created', owner, {
        token: record.id,
        scope,
        role,
        ...(body.label ? { label: body.label } : {}),
      });
      s.log.info({ user: owner.username, scope, role, by: principal.username }, 'API token created');
      return { id: record.id, token, user: owner.username, scope, role, expiresAt: record.expiresAt };
    },
  );

  accountRoutes(router, s);
}

/**
 * The account life cycle (cloud/auth/accounts.ts): every route is scope- and role-checked and
 * audited there; users are named by user name, like POST /v1/api-tokens does.
 */
function accountRoutes(router: Router, s: CloudServices): void {
  router.add(
    {
      method: 'GET',
      url: '/v1/users',
      summary: 'Users inside your scope, or a narrower `scope` (admin)',
      tag: 'users',
      auth: 'token',
      query: UsersQuery,
      status: 200,
      response: UserList,
      errors: [400, 401, 403],
    },
    async ({ principal, query, request }) => {
      const scope = query.scope ?? principal.scope;
      const users = await s.accounts.list(actorOf(request, principal), scope);
      return { scope, items: users.map(accountView) };
    },
  );

  router.add(
    {
      method: 'GET',
      url: '/v1/users/:username/api-tokens',
      summary: 'A user’s API tokens (never their secrets): yours, or as admin a user in your scope',
      tag: 'users',
      auth: 'token',
      params: UsernameParams,
      status: 200,
      response: ApiTokenList,
      errors: [400, 401, 403],
    },
    async ({ principal, params, request }) => {
      const { user, tokens } = await s.accounts.tokens(actorOf(request, principal), params.username);
      const now = s.clock();
      return { user: user.username, items: tokens.map((t) => tokenView(t, now)) };
    },
  );

  router.add(
    {
      method: 'POST',
      url: '/v1/users/:username/api-tokens/:id/revoke',
      summary: 'Revoke one API token at once: yours, or as admin one of a user in your scope',
      tag: 'users',
      auth: 'token',
      params: UserTokenParams,
      status: 200,
      response: RevokeTokenResponse,
      errors: [400, 401, 403, 404],
    },
    async ({ principal, params, request }) => {
      const token = await s.accounts.revokeToken(actorOf(request, principal), params.username, params.id);
      s.log.info({ user: params.username, token: token.id, by: principal.username }, 'API token revoked');
      return { user: params.username, token: tokenView(token, s.clock()) };
    },
  );

  for (const disabled of [true, false]) {
    router.add(
      {
        method: 'POST',
        url: `/v1/users/:username/${disabled ? 'disable' : 'enable'}`,
        summary: disabled
          ? 'Disable a user in your scope (admin): no sign-in, its sessions end and its tokens are refused at once'
          : 'Re-enable a disabled user in your scope (admin); its unexpired, unrevoked tokens work again',
        tag: 'users',
        auth: 'token',
        params: UsernameParams,
        status: 200,
        response: UserStateResponse,
        errors: [400, 401, 403],
      },
      async ({ principal, params, request }) => {
        const r = await s.accounts.setDisabled(actorOf(request, principal), params.username, disabled);
        s.log.info(
          { user: params.username, by: principal.username, sessionsEnded: r.sessionsEnded },
          disabled ? 'user disabled' : 'user enabled',
        );
        return { user: accountView(r.user), sessionsEnded: r.sessionsEnded };
      },
    );
  }

  router.add(
    {
      method: 'POST',
      url: '/v1/me/password',
      summary: 'Change your own password (the current one is checked); your other sessions end',
      tag: 'users',
      auth: 'token',
      body: ChangePasswordRequest,
      status: 200,
      response: SessionsEndedResponse,
      errors: [400, 401, 403],
    },
    async ({ principal, body, request }) => {
      const r = await s.accounts.changePassword(actorOf(request, principal), body.current, body.password);
      s.log.info({ user: principal.username, sessionsEnded: r.sessionsEnded }, 'password changed');
      return { user: principal.username, sessionsEnded: r.sessionsEnded };
    },
  );

  router.add(
    {
      method: 'POST',
      url: '/v1/users/:username/password',
      summary: 'Reset the password of a user in your scope (admin); every session of that user ends',
      tag: 'users',
      auth: 'token',
      params: UsernameParams,
      body: ResetPasswordRequest,
      status: 200,
      response: SessionsEndedResponse,
      errors: [400, 401, 403],
    },
    async ({ principal, params, body, request }) => {
      const r = await s.accounts.resetPassword(actorOf(request, principal), params.username, body.password);
      s.log.info(
        { user: params.username, by: principal.username, sessionsEnded: r.sessionsEnded },
        'password reset',
      );
      return { user: params.username, sessionsEnded: r.sessionsEnded };
    },
  );

  router.add(
    {
      method: 'POST',
      url: '/v1/users/:username/sessions/end',
      summary:
        'End every console session of a user: yours (but the calling one), or as admin a user in your scope',
      tag: 'users',
      auth: 'token',
      params: UsernameParams,
      status: 200,
      response: SessionsEndedResponse,
      errors: [400, 401, 403],
    },
    async ({ principal, params, request }) => {
      const r = await s.accounts.endSessions(actorOf(request, principal), params.username);
      s.log.info(
        { user: params.username, by: principal.username, sessionsEnded: r.sessionsEnded },
        'sessions ended',
      );
      return { user: params.username, sessionsEnded: r.sessionsEnded };
    },
  );

  router.add(
    {
      method: 'GET',
      url: '/v1/account-audit',
      summary:
        'Account audit trail inside your scope, newest first: who changed which account, when, from where (admin)',
      tag: 'users',
      auth: 'token',
      query: AccountAuditQuery,
      status: 200,
      response: AccountAuditList,
      errors: [400, 401, 403],
    },
    async ({ principal, query, request }) => {
      const entries = await s.accounts.trail(actorOf(request, principal), {
        ...(query.scope ? { scope: query.scope } : {}),
        ...(query.user ? { username: query.user } : {}),
        ...(query.limit ? { limit: query.limit } : {}),
      });
      return {
        items: entries.map((e) => ({
          at: e.at,
          actor: e.actor,
          action: e.action,
          user: e.username,
          scope: e.scope,
          ...(e.ip ? { ip: e.ip } : {}),
          ...(e.detail ? { detail: e.detail } : {}),
        })),
      };
    },
  );
}
