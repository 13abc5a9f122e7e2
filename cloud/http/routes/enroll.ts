import { randomUUID } from 'node:crypto';
import { DoorstepError, formatSitePath, scopeContains } from '../../../protocol/index.js';
import { requireInScope, requireRole } from '../../auth/guards.js';
import { scopeDepth } from '../../auth/roles.js';
import { enrollmentScopeOf, newEnrollmentSecret, newGatewaySecret, sha256Hex } from '../../auth/secrets.js';
import type { GatewayRecord } from '../../store/port.js';
import type { CloudServices } from '../context.js';
import type { Router } from '../router.js';
import {
  EnrollmentTokenRequest,
  EnrollmentTokenResponse,
  EnrollRequest,
  EnrollResponse,
  GatewayIdParams,
  RevokeResponse,
  RotateResponse,
} from '../schemas.js';

const HOUR_MS = 3_600_000;

export function gatewayView(g: GatewayRecord) {
  return {
    id: g.id,
    ...(g.name ? { name: g.name } : {}),
    site: g.site,
    status: g.status,
    createdAt: g.createdAt,
  };
}

/** Enrolment, enrolment tokens, gateway credential rotation and revocation. */
export function enrollRoutes(router: Router, s: CloudServices): void {
  const syncUrl = () =>
    new URL('/v1/sync', s.config.publicUrl ?? `http://${s.config.http.host}:${s.config.http.port}`).href;

  router.add(
    {
      method: 'POST',
      url: '/v1/enrollment-tokens',
      summary: 'Issue an enrolment token for a town or community (secret shown once)',
      tag: 'enrolment',
      auth: 'token',
      body: EnrollmentTokenRequest,
      status: 201,
      response: EnrollmentTokenResponse,
      errors: [400, 401, 403],
    },
    async ({ principal, body }) => {
      requireRole(principal, 'supervisor', 'issue enrolment tokens');
      requireInScope(principal, body.scope, 'scope');
      if (scopeDepth(body.scope) < 2)
        throw new DoorstepError('CLOUD_ERR_VALIDATION', {
          field: 'scope',
          reason: 'must be a town or a community',
        });
      if (!scopeContains(s.config.district.slug, body.scope))
        throw new DoorstepError('CLOUD_ERR_SCOPE', {
          what: 'scope',
          path: body.scope,
          scope: s.config.district.slug,
        });
      if (body.ttlHours > s.config.credentials.maxEnrollmentTtlHours)
        throw new DoorstepError('CLOUD_ERR_VALIDATION', {
          field: 'ttlHours',
          reason: `must be at most ${s.config.credentials.maxEnrollmentTtlHours}`,
        });
      const now = s.clock();
      const token = newEnrollmentSecret(body.scope);
      const record = {
        id: randomUUID(),
        secretHash: sha256Hex(token),
        scope: body.scope,
        createdBy: principal.userId,
        createdAt: now,
        expiresAt: now + Math.round(body.ttlHours * HOUR_MS),
        usesLeft: body.uses,
      };
      await s.store.createEnrollmentToken(record);
      return {
        id: record.id,
        token,
        scope: record.scope,
        usesLeft: record.usesLeft,
        expiresAt: record.expiresAt,
      };
    },
  );

  router.add(
    {
      method: 'POST',
      url: '/v1/enroll',
      summary: 'Enrol a gateway with an enrolment token; returns its credential (shown once)',
      tag: 'enrolment',
      auth: 'none',
      body: EnrollRequest,
      status: 201,
      response: EnrollResponse,
      errors: [400, 401, 403, 409],
    },
    async ({ body }) => {
      const site = formatSitePath(body.gateway.site);
      // Every refusal comes before the token is consumed, so a refused enrolment changes nothing.
      // Each one has its own code: the installer on site must know whether to retype the token,
      // ask for a new one, or fix the site (wrong, expired, used up, out of scope).
      const tokenScope = enrollmentScopeOf(body.token);
      if (tokenScope === undefined) throw new DoorstepError('CLOUD_ERR_ENROLL_TOKEN');
      const known = await s.store.findEnrollmentToken(sha256Hex(body.token));
      if (!known) throw new DoorstepError('CLOUD_ERR_ENROLL_TOKEN');
      if (s.clock() >= known.expiresAt)
        throw new DoorstepError('CLOUD_ERR_ENROLL_TOKEN_EXPIRED', {
          expiresAt: new Date(known.expiresAt).toISOString(),
        });
      if (known.usesLeft <= 0) throw new DoorstepError('CLOUD_ERR_ENROLL_TOKEN_USED');
      if (!scopeContains(tokenScope, site))
        throw new DoorstepError('CLOUD_ERR_SCOPE', { what: 'gateway.site', path: site, scope: tokenScope });
      if (await s.store.getGateway(body.gateway.id))
        throw new DoorstepError('CLOUD_ERR_CONFLICT', { what: 'gateway', id: body.gateway.id });
      const sites = await s.store.listSites(site);
      if (!sites.some((n) => n.path === site))
        throw new DoorstepError('CLOUD_ERR_VALIDATION', {
          field: 'gateway.site',
          reason: `community ${site} is not in the site registry`,
        });
      const now = s.clock();
      const token = await s.store.consumeEnrollmentToken(sha256Hex(body.token), now);
      // Checked above; only another enrolment racing for its last use gets here.
      if (!token) throw new DoorstepError('CLOUD_ERR_ENROLL_TOKEN_USED');
      if (!scopeContains(token.scope, site))
        // Unreachable unless the store and the token text disagree; refuse rather than trust either.
        throw new DoorstepError('CLOUD_ERR_SCOPE', { what: 'gateway.site', path: site, scope: token.scope });
      const gateway: GatewayRecord = {
        id: body.gateway.id,
        site: body.gateway.site,
        ...(body.gateway.name ? { name: body.gateway.name } : {}),
        status: 'active',
        createdAt: now,
      };
      await s.store.createGateway(gateway);
      const secret = newGatewaySecret();
      const credential = {
        id: randomUUID(),
        gateway: gateway.id,
        secretHash: sha256Hex(secret),
        createdAt: now,
      };
      await s.store.addGatewayCredential(credential);
      s.log.info({ gateway: gateway.id, site, token: token.id }, 'gateway enrolled');
      return { gateway: gatewayView(gateway), credential: { id: credential.id, secret }, syncUrl: syncUrl() };
    },
  );

  router.add(
    {
      method: 'POST',
      url: '/v1/gateway/credentials/rotate',
      summary: 'Issue a new credential to the calling gateway; the others stay valid for the grace period',
      tag: 'enrolment',
      auth: 'gateway',
      status: 201,
      response: RotateResponse,
      errors: [401, 403],
    },
    async ({ principal }) => {
      const now = s.clock();
      // A credential in its grace period only bridges the switch; letting it rotate would let a
      // copy stolen before the rotation mint fresh credentials forever.
      const retiring = principal.credential.expiresAt;
      if (retiring !== undefined)
        throw new DoorstepError('CLOUD_ERR_CREDENTIAL_RETIRED', {
          credential: principal.credential.id,
          until: new Date(retiring).toISOString(),
        });
      const secret = newGatewaySecret();
      const gateway = principal.gateway.id;
      const credential = { id: randomUUID(), gateway, secretHash: sha256Hex(secret), createdAt: now };
      await s.store.addGatewayCredential(credential);
      const previousValidUntil = now + Math.round(s.config.credentials.rotationGraceHours * HOUR_MS);
      await s.store.expireOtherCredentials(gateway, credential.id, previousValidUntil);
      s.log.info({ gateway, credential: credential.id }, 'gateway credential rotated');
      return { credential: { id: credential.id, secret }, previousValidUntil };
    },
  );

  router.add(
    {
      method: 'POST',
      url: '/v1/gateways/:id/revoke',
      summary: 'Revoke a gateway and every credential of it (supervisor or admin in scope)',
      tag: 'enrolment',
      auth: 'token',
      params: GatewayIdParams,
      status: 200,
      response: RevokeResponse,
      errors: [400, 401, 403],
    },
    async ({ principal, params }) => {
      requireRole(principal, 'supervisor', 'revoke gateways');
      const gateway = await s.store.getGateway(params.id);
      // Unknown and out-of-scope gateways get the same answer: no probing of other towns' ids.
      if (!gateway || !scopeContains(principal.scope, gateway.site))
        throw new DoorstepError('CLOUD_ERR_SCOPE', {
          what: 'gateway',
          path: params.id,
          scope: principal.scope,
        });
      await s.store.setGatewayStatus(gateway.id, 'revoked');
      const credentialsRevoked = await s.store.revokeGatewayCredentials(gateway.id, s.clock());
      s.log.warn({ gateway: gateway.id, by: principal.username }, 'gateway revoked');
      return { gateway: gateway.id, status: 'revoked' as const, credentialsRevoked };
    },
  );
}
