import { randomUUID } from 'node:crypto';
import { DoorstepError, scopeContains } from '../../../protocol/index.js';
import { requireInScope, requireRole } from '../../auth/guards.js';
import { roleAtLeast } from '../../auth/roles.js';
import { newApiTokenSecret, sha256Hex } from '../../auth/secrets.js';
import type { CloudServices } from '../context.js';
import type { Router } from '../router.js';
import { ApiTokenRequest, ApiTokenResponse, CreateUserRequest, UserView } from '../schemas.js';

const DAY_MS = 86_400_000;

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
    async ({ principal, body }) => {
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
    async ({ principal, body }) => {
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
      };
      await s.store.createApiToken(record);
      s.log.info({ user: owner.username, scope, role, by: principal.username }, 'API token created');
      return { id: record.id, token, user: owner.username, scope, role, expiresAt: record.expiresAt };
    },
  );
}
