/**
 * The town and district console, served by `doorstep cloud`: the page and its static files,
 * sign-in sessions (HttpOnly cookie), server push of the alarm board (SSE), and the few read/write
 * endpoints the pages need beyond the /v1 API (site overview, device detail, district figures,
 * site plans and device markers). Alarm actions go through the /v1 case API itself: the session
 * cookie is accepted there like an API token, with the same scope and role checks.
 */
import { createHash, randomBytes } from 'node:crypto';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { DoorstepError, formatSitePath, ScopePath, scopeContains } from '../../protocol/index.js';
import { FEEDBACK_CAUSE_LABELS, STAGE_LABELS } from '../alarms/contract.js';
import { caseView } from '../alarms/schemas.js';
import { MAX_CASE_LIMIT } from '../alarms/store/port.js';
import type { UserPrincipal } from '../auth/authenticator.js';
import { requireInScope, requireRole } from '../auth/guards.js';
import type { CloudServices } from '../http/context.js';
import { errorBody } from '../http/errors.js';
import { errorResponse, jsonSchemaOf } from '../http/openapi.js';
import type { Router } from '../http/router.js';
import { parseOrThrow } from '../http/validate.js';
import { prepareAssets } from './assets.js';
import { districtFigures } from './figures.js';
import { checkPlanImage } from './plan-image.js';
import { CasePush, type PushMessage } from './push.js';
import { lazyConsoleStore } from './store.js';

export const SESSION_COOKIE = 'ds_session';
/** A session lasts one duty shift and a half; signing in again starts a new one. */
export const SESSION_TTL_MS = 12 * 3600_000;
const SESSION_SECRET = /^dss_[A-Za-z0-9_-]{43}$/;
/** Live connections: per user (tabs, the big screen) and in all. */
export const STREAM_LIMITS = { perUser: 8, total: 1000 } as const;
/** Longest lists in /console/api/overview (≈ 400 bytes a device); the rest is counted. */
export const OVERVIEW_LIMITS = { gateways: 5000, devices: 1000 } as const;
const HEARTBEAT_MS = 15_000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface ConsoleOptions {
  /** How often the board's server push looks at the case-event log for other instances' changes (default 250 ms). */
  pushIntervalMs?: number;
  /** Application-level heartbeat on the live push (default 5000 ms); the page turns stale after 3 missed. */
  pushHeartbeatMs?: number;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The session cookie as @fastify/cookie parsed it (RFC 6265 §5.4). */
const sessionCookie = (request: FastifyRequest): string | undefined => request.cookies[SESSION_COOKIE];

/** The origin this request was addressed to, as a browser would write it in `Origin`. */
function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/**
 * CSRF defence for cookie-authenticated and sign-in requests (OWASP CSRF cheat sheet: SameSite
 * cookies plus verifying the origin with standard headers). A state-changing request must carry
 * `Origin` equal to this server's origin, or — when a browser sends no Origin — `Sec-Fetch-Site:
 * same-origin`. Bearer-token clients (no cookie) are not browsers acting on someone's behalf.
 */
function originRefusal(request: FastifyRequest): string | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined;
  const origin = request.headers.origin;
  if (typeof origin === 'string') {
    return origin === ownOrigin(request) ? undefined : `Origin ${origin} is not ${ownOrigin(request)}`;
  }
  const site = request.headers['sec-fetch-site'];
  return site === 'same-origin' ? undefined : 'no Origin header (nor Sec-Fetch-Site: same-origin)';
}

function refuse(reply: FastifyReply, status: number, error: DoorstepError) {
  return reply.code(status).type('application/json').send(errorBody(error));
}

const SignIn = z
  .object({ username: z.string().min(1).max(128), password: z.string().min(1).max(1024) })
  .strict();
const SiteQuery = z.object({ site: ScopePath }).strict();
/** `v` only busts the browser cache after an upload. */
const PlanQuery = z.object({ site: ScopePath, v: z.string().max(20).optional() }).strict();
const DeviceQuery = z
  .object({ gateway: z.string().min(1).max(64), device: z.string().min(1).max(64) })
  .strict();
const ScopeQuery = z.object({ scope: ScopePath.optional() }).strict();
const PlanBody = z.object({ site: ScopePath, image: z.string().min(1) }).strict();
const MarkerBody = z
  .object({
    site: ScopePath,
    gateway: z.string().min(1).max(64),
    device: z.string().min(1).max(64),
    x: z.number().min(0).max(1),
    y: z.number().min(0).max(1),
  })
  .strict();
const Json = z.record(z.string(), z.unknown());
/** One file of the folder: no path separators, no dot files (so no `..`). */
const StaticParams = z
  .object({
    file: z
      .string()
      .max(64)
      .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/, 'a file name of the console'),
  })
  .strict();

export function consoleRoutes(
  router: Router,
  app: FastifyInstance,
  s: CloudServices,
  options: ConsoleOptions = {},
): { push: CasePush } {
  const consoleStore = lazyConsoleStore(s.store);
  const push = new CasePush(
    s.alarms,
    s.clock,
    s.log.child({ svc: 'console' }),
    options.pushIntervalMs,
    options.pushHeartbeatMs,
  );
  // This instance's case changes reach the boards at once; other instances' at the next look.
  const unring = s.alarms.onAppend(() => push.wake());
  const tls = Boolean(s.config.http.tls);

  // Sessions resolve to the user as stored now: a disabled or narrowed user loses access at once.
  s.auth.acceptSessions(async (secret, now) => {
    const session = await (await consoleStore()).findSession(sha256(secret), now);
    if (!session) return undefined;
    const user = await s.store.getUser(session.user);
    if (!user || user.disabled) return undefined;
    return { kind: 'user', userId: user.id, username: user.username, scope: user.scope, role: user.role };
  });

  // The cookie becomes the bearer credential of the request (when it has none), after the origin
  // check; sign-in and sign-out are origin-checked too (login CSRF). Runs before every route.
  app.addHook('onRequest', async (request, reply) => {
    const url = request.url;
    const cookie = request.headers.authorization ? undefined : sessionCookie(request);
    const usesCookie = cookie !== undefined && SESSION_SECRET.test(cookie);
    if (usesCookie || url.startsWith('/console/api/')) {
      const why = originRefusal(request);
      if (why)
        return refuse(
          reply,
          403,
          new DoorstepError('CLOUD_ERR_CONSOLE_ORIGIN', {
            method: request.method,
            url: url.split('?')[0],
            reason: why,
          }),
        );
    }
    if (usesCookie) request.headers.authorization = `Bearer ${cookie}`;
  });

  // Secure whenever the browser reached us over https: our own TLS, or a proxy that terminates it
  // and says so in X-Forwarded-Proto (believed only with http.trustProxy; fastify's request.protocol).
  const setCookie = (request: FastifyRequest, reply: FastifyReply, value: string, maxAgeS: number) =>
    reply.setCookie(SESSION_COOKIE, value, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      maxAge: maxAgeS,
      secure: tls || request.protocol === 'https',
    });

  // ── sessions ─────────────────────────────────────────────────────────────────────────────
  router.add(
    {
      method: 'POST',
      url: '/console/api/session',
      summary: 'Console sign-in: user name and password → session cookie (HttpOnly, SameSite=Strict)',
      tag: 'console',
      auth: 'none',
      body: SignIn,
      status: 200,
      response: Json,
      errors: [400, 401, 403, 429, 503],
    },
    async ({ body, reply, request }) => {
      const basic = `Basic ${Buffer.from(`${body.username}:${body.password}`).toString('base64')}`;
      // The cloud's own password check (cloud/auth/README.md): scrypt on its own threads, the same
      // answers for unknown users, a lock per user name and source address.
      const principal = await s.auth.password(basic, request.ip);
      const store = await consoleStore();
      const now = s.clock();
      await store.purgeSessions(now - 86_400_000);
      const secret = `dss_${randomBytes(32).toString('base64url')}`;
      await store.createSession({
        idHash: sha256(secret),
        user: principal.userId,
        createdAt: now,
        expiresAt: now + SESSION_TTL_MS,
      });
      setCookie(request, reply, secret, SESSION_TTL_MS / 1000);
      reply.header('cache-control', 'no-store');
      return { user: { username: principal.username, scope: principal.scope, role: principal.role } };
    },
  );

  const streamsBySession = new Map<string, Set<() => void>>();
  router.add(
    {
      method: 'POST',
      url: '/console/api/session/end',
      summary: 'Console sign-out: ends the session (its live connections too) and clears the cookie',
      tag: 'console',
      auth: 'token',
      status: 200,
      response: Json,
      errors: [401, 403],
    },
    async ({ request, reply }) => {
      // The session is the cookie's, or the bearer's when a client signed out with the session
      // secret in `Authorization: Bearer dss_…` (both are accepted as credentials, so both end).
      const cookie = sessionCookie(request);
      const bearer = /^Bearer[ ]+(dss_[A-Za-z0-9_-]+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
      for (const secret of new Set([cookie, bearer])) {
        if (!secret || !SESSION_SECRET.test(secret)) continue;
        const hash = sha256(secret);
        await (await consoleStore()).revokeSession(hash, s.clock());
        for (const end of streamsBySession.get(hash) ?? []) end();
      }
      setCookie(request, reply, '', 0);
      return { signedOut: true };
    },
  );

  router.add(
    {
      method: 'GET',
      url: '/console/api/me',
      summary: 'Who is signed in, their sites, and the labels the console shows',
      tag: 'console',
      auth: 'token',
      status: 200,
      response: Json,
      errors: [401],
    },
    async ({ principal }) => {
      const user = await s.store.getUser(principal.userId);
      return {
        user: {
          username: principal.username,
          displayName: user?.displayName ?? principal.username,
          scope: principal.scope,
          role: principal.role,
        },
        district: s.config.district,
        sites: await s.store.listSites(principal.scope),
        labels: { stages: STAGE_LABELS, causes: FEEDBACK_CAUSE_LABELS },
        serverTime: s.clock(),
        timeZone: 'Asia/Shanghai',
      };
    },
  );

  // ── server push ──────────────────────────────────────────────────────────────────────────
  const streams = new Set<() => void>();
  const perUser = new Map<string, number>();
  // Each user's live streams with the session they came with, so that ending a user's sessions or
  // disabling the user (cloud/auth/accounts.ts) closes them at once, not at the next ping.
  const streamsByUser = new Map<string, Map<() => void, string | undefined>>();
  const unlisten = s.accounts.onSessionsEnded((userId, keep) => {
    for (const [end, session] of streamsByUser.get(userId) ?? [])
      if (keep === undefined || session !== keep) end();
  });
  router.add(
    {
      method: 'GET',
      url: '/console/api/events',
      summary:
        'Server-sent events of the alarm board in the caller’s scope: `snapshot` (open cases), then `changes`',
      tag: 'console',
      auth: 'token',
      query: ScopeQuery,
      status: 200,
      raw: 'text/event-stream',
      errors: [401, 403, 429],
    },
    async ({ principal, query, request, reply }) => {
      const scope = query.scope ?? principal.scope;
      requireInScope(principal, scope, 'scope');
      const mine = perUser.get(principal.userId) ?? 0;
      reply.hijack();
      if (mine >= STREAM_LIMITS.perUser || streams.size >= STREAM_LIMITS.total) {
        const full = mine >= STREAM_LIMITS.perUser;
        const refusal = new DoorstepError('CLOUD_ERR_SESSION_LIMIT', {
          who: full ? principal.username : 'this server',
          count: full ? mine : streams.size,
          limit: full ? STREAM_LIMITS.perUser : STREAM_LIMITS.total,
        });
        reply.raw.writeHead(429, { 'content-type': 'application/json', 'retry-after': '30' });
        reply.raw.end(JSON.stringify(errorBody(refusal)));
        return undefined;
      }
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write('retry: 3000\n\n');
      const header = request.headers.authorization;
      const cookie = sessionCookie(request);
      const sessionHash = cookie && header === `Bearer ${cookie}` ? sha256(cookie) : undefined;
      let ended = false;
      let unsubscribe: (() => void) | undefined;
      const send = (m: PushMessage) => {
        if (!ended) raw.write(`event: ${m.type}\ndata: ${JSON.stringify(m)}\n\n`);
      };
      const heartbeat = setInterval(async () => {
        // The session or token may have ended (sign-out elsewhere, expiry, user disabled).
        try {
          await s.auth.apiToken(header);
          raw.write(': ping\n\n');
        } catch {
          end();
        }
      }, HEARTBEAT_MS);
      heartbeat.unref();
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        unsubscribe?.();
        streams.delete(end);
        perUser.set(principal.userId, (perUser.get(principal.userId) ?? 1) - 1);
        streamsByUser.get(principal.userId)?.delete(end);
        if (sessionHash) streamsBySession.get(sessionHash)?.delete(end);
        raw.end();
      };
      streams.add(end);
      perUser.set(principal.userId, mine + 1);
      let byUser = streamsByUser.get(principal.userId);
      if (!byUser) {
        byUser = new Map();
        streamsByUser.set(principal.userId, byUser);
      }
      byUser.set(end, sessionHash);
      if (sessionHash) {
        let set = streamsBySession.get(sessionHash);
        if (!set) {
          set = new Set();
          streamsBySession.set(sessionHash, set);
        }
        set.add(end);
      }
      raw.on('close', end);
      unsubscribe = await push.subscribe(scope, send);
      if (ended) unsubscribe();
      return undefined;
    },
  );
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
    unring();
    unlisten();
    push.close();
  });

  // ── what the pages read ─────────────────────────────────────────────────────────────────
  router.add(
    {
      method: 'GET',
      url: '/console/api/overview',
      summary:
        'Sites, gateways (with health) and devices (with health, at most OVERVIEW_LIMITS.devices) in scope, with counts of everything and what was left out',
      tag: 'console',
      auth: 'token',
      query: ScopeQuery,
      status: 200,
      response: Json,
      errors: [400, 401, 403],
    },
    async ({ principal, query }) => {
      const scope = query.scope ?? principal.scope;
      requireInScope(principal, scope, 'scope');
      // Bounded whatever the district holds (30 000 devices once made this 22 MB): counts of
      // everything, lists capped, and what was left out said so. A community scope lists its own.
      const [sites, gateways, gatewayHealth, deviceHealth, byState] = await Promise.all([
        s.store.listSites(scope),
        s.store.listGateways(scope),
        s.store.listGatewayHealth(scope),
        s.store.listDeviceHealth(scope, { limit: OVERVIEW_LIMITS.devices }),
        s.store.countDeviceStates(scope),
      ]);
      const inScope = (site: Parameters<typeof formatSitePath>[0]) => scopeContains(scope, site);
      const gh = new Map(gatewayHealth.map((h) => [h.gateway, h]));
      const shownGateways = gateways.filter((g) => inScope(g.site));
      const devices = deviceHealth.filter((d) => inScope(d.site));
      const totalDevices = Object.values(byState).reduce((a, b) => a + b, 0);
      const truncated: Record<string, number> = {};
      if (shownGateways.length > OVERVIEW_LIMITS.gateways)
        truncated['gateways'] = shownGateways.length - OVERVIEW_LIMITS.gateways;
      if (totalDevices > devices.length) truncated['devices'] = totalDevices - devices.length;
      return {
        serverTime: s.clock(),
        sites: sites.filter((x) => scopeContains(scope, x.path)),
        gateways: shownGateways
          .slice(0, OVERVIEW_LIMITS.gateways)
          .map((g) => ({ ...g, sitePath: formatSitePath(g.site), health: gh.get(g.id) ?? null })),
        devices: devices.map(({ device, gateway, site, kind, location, ...health }) => ({
          gateway,
          id: device,
          site,
          ...(kind !== undefined ? { kind } : {}),
          ...(location !== undefined ? { location } : {}),
          sitePath: formatSitePath(site),
          health: { gateway, device, site, ...(kind !== undefined ? { kind } : {}), ...health },
        })),
        counts: { gateways: shownGateways.length, devices: totalDevices, devicesByState: byState },
        limits: OVERVIEW_LIMITS,
        truncated,
      };
    },
  );

  const gatewayInScope = async (principal: UserPrincipal, id: string) => {
    const gateway = await s.store.getGateway(id);
    // Unknown gateways are 403 like foreign ones, so ids of other towns cannot be probed.
    if (!gateway || !scopeContains(principal.scope, gateway.site))
      throw new DoorstepError('CLOUD_ERR_SCOPE', { what: 'gateway', path: id, scope: principal.scope });
    return gateway;
  };

  router.add(
    {
      method: 'GET',
      url: '/console/api/device',
      summary:
        'One device: record, health, readings (24 h raw, 7 d hourly rollups), alarm history, audit trail',
      tag: 'console',
      auth: 'token',
      query: DeviceQuery,
      status: 200,
      response: Json,
      errors: [400, 401, 403, 404],
    },
    async ({ principal, query }) => {
      const gateway = await gatewayInScope(principal, query.gateway);
      const site = formatSitePath(gateway.site);
      const now = s.clock();
      const [devices, health, readings, rollups, cases] = await Promise.all([
        s.store.listDevices(site),
        s.store.listDeviceHealth(site),
        s.store.queryReadings(site, {
          gateway: gateway.id,
          device: query.device,
          from: now - 86_400_000,
          limit: 10_000,
        }),
        s.store.queryRollups(site, {
          resolution: '1h',
          gateway: gateway.id,
          device: query.device,
          from: now - 7 * 86_400_000,
          limit: 10_000,
        }),
        s.alarms.list(site, { limit: MAX_CASE_LIMIT }),
      ]);
      const device = devices.find((d) => d.gateway === gateway.id && d.id === query.device);
      if (!device)
        throw new DoorstepError('CLOUD_ERR_NOT_FOUND', {
          what: 'device',
          id: `${gateway.id}/${query.device}`,
        });
      const mine = cases.filter((c) => c.gateway === gateway.id && c.device === query.device).slice(0, 50);
      const audit = (await Promise.all(mine.slice(0, 5).map((c) => s.alarms.audit(c.id)))).flat();
      return {
        serverTime: now,
        device: { ...device, sitePath: site },
        health: health.find((h) => h.gateway === gateway.id && h.device === query.device) ?? null,
        readings: readings.map((r) => ({
          point: r.point,
          unit: r.unit,
          value: r.value,
          ts: r.cloudTs,
          quality: r.quality,
        })),
        rollups: rollups.map((r) => ({
          point: r.point,
          bucket: r.bucket,
          min: r.min,
          max: r.max,
          avg: r.avg,
        })),
        cases: mine.map(caseView),
        audit: audit.sort((a, b) => b.at - a.at),
      };
    },
  );

  router.add(
    {
      method: 'GET',
      url: '/console/api/district',
      summary:
        'Per-town figures: open, overdue 督办, mean time to acknowledge/close, false-alarm rate, bad actors, offline, red lights',
      tag: 'console',
      auth: 'token',
      status: 200,
      response: Json,
      errors: [401],
    },
    async ({ principal }) => {
      const now = s.clock();
      const windowMs = 7 * 86_400_000;
      const scope = principal.scope;
      const [sites, open, recent, devices] = await Promise.all([
        s.store.listSites(scope),
        s.alarms.list(scope, { open: true, limit: MAX_CASE_LIMIT }),
        s.alarms.list(scope, { from: now - windowMs, limit: MAX_CASE_LIMIT }),
        s.store.listDeviceHealth(scope),
      ]);
      return {
        ...districtFigures({ now, windowMs, sites, open, recent, devices }),
        district: s.config.district,
        truncated: open.length >= MAX_CASE_LIMIT || recent.length >= MAX_CASE_LIMIT,
      };
    },
  );

  // ── site plans and markers ──────────────────────────────────────────────────────────────
  const communityInScope = async (principal: UserPrincipal, site: string) => {
    requireInScope(principal, site, 'site');
    const node = (await s.store.listSites(site)).find((n) => n.path === site);
    if (node?.level !== 'community')
      throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'community', id: site });
  };

  router.add(
    {
      method: 'POST',
      url: '/console/api/plan',
      summary: 'Upload a community site plan: {site, image: data URL of an SVG or PNG ≤ 2 MiB} (supervisor+)',
      tag: 'console',
      auth: 'token',
      body: PlanBody,
      status: 200,
      response: Json,
      errors: [400, 401, 403, 404],
    },
    async ({ principal, body }) => {
      requireRole(principal, 'supervisor', 'upload a site plan');
      await communityInScope(principal, body.site);
      const checked = await checkPlanImage(body.image);
      if (!checked.ok)
        throw new DoorstepError('CLOUD_ERR_VALIDATION', { field: 'image', reason: checked.reason });
      const now = s.clock();
      await (await consoleStore()).putPlan({
        site: body.site,
        type: checked.type,
        data: checked.base64,
        updatedAt: now,
        updatedBy: principal.username,
      });
      return { site: body.site, type: checked.type, bytes: checked.bytes, updatedAt: now };
    },
  );

  // The image itself: not JSON, so a plain route (auth through the same authenticator).
  app.route({
    method: 'GET',
    url: '/console/api/plan',
    schema: {
      summary: 'The community plan image (SVG or PNG), served with a sandbox CSP',
      tags: ['console'],
      security: [{ apiToken: [] }, { consoleSession: [] }],
      querystring: jsonSchemaOf(PlanQuery, 'input'),
      response: {
        200: {
          description: 'The image',
          content: {
            'image/svg+xml': { schema: { type: 'string' } },
            'image/png': { schema: { type: 'string' } },
          },
        },
        ...Object.fromEntries([400, 401, 403, 404, 429].map((status) => [status, errorResponse(status)])),
      },
    },
    // zod parses (below): fastify's own validation stands aside, as in the router.
    validatorCompiler: () => () => true,
    // preParsing, like the router: after the rate limiter has counted the request.
    preParsing: async (request, _reply, payload) => {
      request.principal = await s.auth.apiToken(request.headers.authorization);
      return payload;
    },
    handler: async (request, reply) => {
      const { site } = parseOrThrow(PlanQuery, { ...(request.query as object) });
      const principal = request.principal as UserPrincipal;
      requireInScope(principal, site, 'site');
      const plan = await (await consoleStore()).getPlan(site);
      if (!plan) throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'site plan of', id: site });
      // Shown through <img> only; the sandbox CSP keeps an SVG inert even when opened directly.
      reply
        .type(plan.type)
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'private, no-cache');
      return Buffer.from(plan.data, 'base64');
    },
  });

  router.add(
    {
      method: 'GET',
      url: '/console/api/markers',
      summary: 'Device markers on a community plan, and whether a plan exists',
      tag: 'console',
      auth: 'token',
      query: SiteQuery,
      status: 200,
      response: Json,
      errors: [400, 401, 403],
    },
    async ({ principal, query }) => {
      requireInScope(principal, query.site, 'site');
      const store = await consoleStore();
      const plan = await store.getPlan(query.site);
      return {
        site: query.site,
        plan: plan ? { type: plan.type, updatedAt: plan.updatedAt, updatedBy: plan.updatedBy } : null,
        items: await store.listMarkers(query.site),
      };
    },
  );

  router.add(
    {
      method: 'POST',
      url: '/console/api/markers',
      summary:
        'Place a device on its community plan: {site, gateway, device, x, y} with x, y in 0…1 (supervisor+)',
      tag: 'console',
      auth: 'token',
      body: MarkerBody,
      status: 200,
      response: Json,
      errors: [400, 401, 403, 404],
    },
    async ({ principal, body }) => {
      requireRole(principal, 'supervisor', 'place devices on a site plan');
      await communityInScope(principal, body.site);
      const device = (await s.store.listDevices(body.site)).find(
        (d) => d.gateway === body.gateway && d.id === body.device,
      );
      if (!device)
        throw new DoorstepError('CLOUD_ERR_NOT_FOUND', {
          what: 'device',
          id: `${body.gateway}/${body.device}`,
        });
      const marker = { ...body, updatedAt: s.clock() };
      await (await consoleStore()).putMarker(marker);
      return { marker };
    },
  );

  // ── the page and its files ──────────────────────────────────────────────────────────────
  // @fastify/static serves them, pre-compressed (br/gzip) with ETag and 304 (assets.ts); the
  // security headers (CSP, nosniff, no-referrer) come from helmet for every answer (http/plugins.ts).
  app.register(async (files) => {
    const assets = await prepareAssets();
    files.addHook('onClose', assets.remove);
    const send = (reply: FastifyReply, file: string) => {
      if (!assets.files.has(file))
        throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'console file', id: file });
      return reply.header('cache-control', 'no-cache').sendFile(file);
    };
    await files.register(fastifyStatic, {
      root: assets.root,
      serve: false,
      preCompressed: true,
      // Revalidated on every load (the ETag makes that a 304): a new release shows at once.
      cacheControl: false,
      dotfiles: 'deny',
    });
    const page = {
      tags: ['console'],
      response: {
        200: {
          description: 'The file, br/gzip by Accept-Encoding',
          content: { '*/*': { schema: { type: 'string' } } },
        },
        304: { description: 'Not modified (If-None-Match matched the ETag)', type: 'null' },
        ...Object.fromEntries([400, 404, 429].map((status) => [status, errorResponse(status)])),
      },
    };
    for (const url of ['/console', '/console/'])
      files.get(
        url,
        { schema: { summary: 'The console page (index.html)', ...page } },
        async (_request, reply) => send(reply, 'index.html'),
      );
    files.get(
      '/console/static/:file',
      {
        schema: {
          summary: 'A console script, style sheet or image',
          params: jsonSchemaOf(StaticParams, 'input'),
          ...page,
        },
        validatorCompiler: () => () => true,
      },
      async (request, reply) => {
        const { file } = parseOrThrow(StaticParams, request.params);
        return send(reply, file);
      },
    );
  });

  return { push };
}
