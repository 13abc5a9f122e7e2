import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../../common/log.js';
import { DoorstepError } from '../../protocol/index.js';
import { sha256Hex } from '../auth/secrets.js';
import type { CloudConfig } from '../config/schema.js';
import { BULK_BODY_BYTES, BulkGate } from '../ingest/bulk-gate.js';
import { decodeBody } from '../ingest/inflate.js';
import { errorBody, statusOf, toDoorstepError } from './errors.js';
import type { CloudMetrics } from './metrics.js';
import { registerPlugins } from './plugins.js';

export interface AppOptions {
  http: CloudConfig['http'];
  logger: Logger;
  metrics: CloudMetrics;
  /** Certificate and key, read by main (the composition root does no I/O). */
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** Called for every refused /v1/sync request (metrics, gateway health). */
  onSyncRejected?: (gateway: string | undefined, code: string, status: number) => Promise<void>;
  /**
   * Who a bearer Authorization header (gateway, API token, console session) proves to be — a key
   * such as `gateway:gw-1` or `user:<id>` — or a rejection when it proves nothing. Only proven
   * principals get a rate-limit bucket of their own; everything else counts per address.
   */
  verifiedPrincipal?: (header: string) => Promise<string>;
}

/** Headers recently seen valid, so the limiter checks each one against the store once a minute. */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 20_000;

/**
 * The fastify instance with everything that is not a route: body parsing with gzip and size
 * limits, the one error shape, rate limits, request metrics. Routes are added by the caller inside
 * a plugin registered after this (so the rate limiter's onRoute hook sees them).
 */
/** Sync bodies this small on the wire are alarm-sized (one alarm batch is ~300–600 bytes gzip'd). */
const SMALL_WIRE_BYTES = 1024;

export function createApp(options: AppOptions & { bulk?: BulkGate }): FastifyInstance {
  const { http, metrics } = options;
  // Node's http server enforces requestTimeout and headersTimeout only when it looks at its
  // connections, every connectionsCheckingInterval (30 s by default): look often enough that a
  // timeout holds to about a quarter of itself.
  const checkingMs = Math.max(50, Math.min(1000, Math.floor(http.headersTimeoutMs / 4)));
  const nodeServer = { headersTimeout: http.headersTimeoutMs, connectionsCheckingInterval: checkingMs };
  const serverOptions = {
    loggerInstance: options.logger,
    bodyLimit: http.bodyLimitBytes,
    trustProxy: http.trustProxy,
    // A slow client (one byte now and then) cannot hold a connection for ever: RFC 9110 §15.5.9
    // (408) once the whole request has taken requestTimeoutMs; an idle socket closes after
    // idleTimeoutMs (cloud/http/README.md: timeouts).
    requestTimeout: http.requestTimeoutMs,
    connectionTimeout: http.idleTimeoutMs,
    http: nodeServer,
    // Graceful stop: close idle keep-alive sockets, let in-flight requests finish (RFC 9112 §9.6).
    forceCloseConnections: 'idle' as const,
    return503OnClosing: true,
    // A signed action link's token is one path segment of ~150–300 characters (cloud/phone/token.ts).
    routerOptions: { maxParamLength: 1024 },
    // A URL the router cannot match (bad percent-encoding, a segment over maxParamLength) is
    // refused before any route, in the one ErrorBody shape like every other refusal.
    frameworkErrors: (error: { code?: string }, _request: FastifyRequest, reply: FastifyReply) =>
      reply
        .code(400)
        .type('application/json')
        .send(
          errorBody(
            new DoorstepError('CLOUD_ERR_VALIDATION', {
              field: '(path)',
              reason:
                error.code === 'FST_ERR_MAX_PARAM_LENGTH'
                  ? 'a path segment is longer than 1024 characters'
                  : 'the path is not valid',
            }),
          ),
        ),
  };
  // One instance type for http and https (their raw server types differ; routes do not care), with
  // fastify's base logger type rather than pino's own.
  const app = (options.tls
    ? Fastify({ ...serverOptions, https: { cert: options.tls.cert, key: options.tls.key, ...nodeServer } })
    : Fastify(serverOptions)) as unknown as FastifyInstance;
  // Connections beyond the cap are closed as they arrive (net.Server#maxConnections), so a crowd of
  // idle sockets cannot take the file descriptors the gateways and the store need.
  app.server.maxConnections = http.maxConnections;

  // JSON only, optionally gzip-encoded. bodyLimit applies to the bytes on the wire; the inflated
  // size is capped separately (gzip bombs). Prototype poisoning is refused by fastify's parser.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  // Bulk sync batches go through one at a time, from inflating to the answer (cloud/ingest/bulk-gate.ts).
  const bulk = options.bulk ?? new BulkGate();
  // A bulk request holds the gate until it has been answered (or abandoned).
  app.addHook('onResponse', async (request) => bulk.leave(request));
  app.addHook('onRequestAbort', async (request) => bulk.leave(request));
  // A small sync request (an alarm, live telemetry) is registered once its body is inflated: a
  // bulk batch holding the gate then waits at its next checkpoint (whenNoSmall: before parsing and
  // before its store transaction) until the small one has been answered. Nothing registered small
  // requests before, so the checkpoint never waited.
  const smallEnds = new WeakMap<FastifyRequest, () => void>();
  const smallSync = new WeakSet<FastifyRequest>();
  // Milliseconds since the request arrived at which a small sync request passed each step, for the
  // slow-request log: tells event-loop waits apart from inflating, parsing and storing.
  const steps = new WeakMap<FastifyRequest, Record<string, number>>();
  const step = (request: FastifyRequest, name: string) => {
    const marks = steps.get(request);
    if (marks) marks[name] = Math.round(performance.now() - marks['t0']!);
  };
  const endSmall = (request: FastifyRequest) => {
    smallEnds.get(request)?.();
    smallEnds.delete(request);
  };
  // A body of at most SMALL_WIRE_BYTES is small whatever it inflates to (bounded by the inflation
  // cap): registered as soon as its headers are in, so bulk work yields before its body is even read.
  app.addHook('onRequest', async (request) => {
    if (request.method !== 'POST' || !request.url.startsWith('/v1/sync')) return;
    const length = Number(request.headers['content-length'] ?? Number.NaN);
    if (length <= SMALL_WIRE_BYTES) {
      steps.set(request, { t0: performance.now() });
      smallSync.add(request);
      smallEnds.set(request, bulk.smallStarted());
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    endSmall(request);
    // Small sync requests carry alarms: a slow one is logged with its time in the server, so that
    // waiting outside the ingest service (event loop, body reading) can be told from store time.
    if (smallSync.has(request) && reply.elapsedTime > 50)
      request.log.warn(
        { elapsedMs: Math.round(reply.elapsedTime), steps: { ...steps.get(request), t0: undefined } },
        'slow small sync request',
      );
  });
  app.addHook('onRequestAbort', async (request) => endSmall(request));
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer' },
    async (request: FastifyRequest, raw: Buffer) => {
      step(request, 'bodyRead');
      // Only an authenticated gateway's sync batch is inflated: the route's authentication ran in
      // onRequest, before the body was read. Every other route — enrolment, sign-in, the console —
      // takes plain JSON only, so a stranger cannot make the service inflate anything (a 31.7 KB
      // gzip body to /v1/enroll used to inflate to 32 MB before the token was even looked at).
      const mayInflate = request.routeOptions.url === '/v1/sync' && request.principal?.kind === 'gateway';
      const inflated = await decodeBody(
        raw,
        request.headers['content-encoding'],
        http.maxInflatedBytes,
        mayInflate ? undefined : 'this route takes plain JSON only',
      );
      step(request, 'inflated');
      // Bulk or small by the inflated size: columnar telemetry compresses ~30×, so a 5 000-reading
      // batch is ~3 KiB on the wire — the compressed size let every bulk batch pass as small, and
      // the gate never held one back. Inflation itself runs on the thread pool, outside the gate.
      if (request.url.startsWith('/v1/sync')) {
        if (inflated.length > BULK_BODY_BYTES) {
          await bulk.enter(request);
          await bulk.whenNoSmall();
        } else if (!smallSync.has(request)) {
          smallSync.add(request);
          smallEnds.set(request, bulk.smallStarted());
        }
      }
      const text = inflated.toString('utf8');
      if (text.trim() === '') throw new DoorstepError('CLOUD_ERR_NOT_JSON', { reason: 'the body is empty' });
      return new Promise((resolve, reject) => {
        jsonParser(request, text, (error, value) => {
          step(request, 'parsed');
          if (error) reject(new DoorstepError('CLOUD_ERR_NOT_JSON', { reason: error.message }));
          else resolve(value);
        });
      });
    },
  );

  // Cookies, security headers (helmet), the generated OpenAPI document (swagger): cloud/http/plugins.ts.
  registerPlugins(app);

  const verified = new Map<string, { key: string; until: number }>();
  app.register(rateLimit, {
    global: true,
    max: http.rateLimit.max,
    timeWindow: http.rateLimit.timeWindowMs,
    // Per principal: a district's gateways often share one carrier-grade NAT address, so an IP
    // limit would throttle them together. Keyed on the principal only once its credential has
    // proved valid — never on anything derived from an unverified header, which a client can vary
    // at will to buy a fresh bucket per request. Invalid credentials, passwords and anonymous
    // requests share their address's bucket (behind trustProxy, the client address the proxy
    // reports); one user's tokens and sessions share the user's bucket.
    keyGenerator: async (request) => {
      const header = request.headers.authorization;
      const check = options.verifiedPrincipal;
      if (!header || !check || !/^Bearer /i.test(header)) return `ip:${request.ip}`;
      // Cached by the header's hash, so no secret is held in memory longer than the request.
      const cacheKey = sha256Hex(header);
      const seen = verified.get(cacheKey);
      if (seen !== undefined && seen.until > Date.now()) return seen.key;
      const principal = await check(header).catch(() => undefined);
      if (!principal) return `ip:${request.ip}`;
      if (verified.size >= VERIFIED_MAX) verified.clear();
      verified.set(cacheKey, { key: principal, until: Date.now() + VERIFIED_TTL_MS });
      return principal;
    },
    errorResponseBuilder: (_request, context) =>
      new DoorstepError('CLOUD_ERR_RATE_LIMITED', { retryAfter: context.after }),
  });

  app.setErrorHandler(async (error, request, reply) => {
    const e = toDoorstepError(error, request.id, http.bodyLimitBytes);
    const status = statusOf(e);
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      metrics.storeErrors.inc({ route: request.routeOptions.url ?? 'unmatched' });
    } else request.log.info({ code: e.code, field: e.details['field'] }, 'request refused');
    if (request.routeOptions.url === '/v1/sync' && options.onSyncRejected) {
      const gw = request.principal?.kind === 'gateway' ? request.principal.gateway.id : undefined;
      await options.onSyncRejected(gw, e.code, status);
    }
    // RFC 9110 §11.6.1: a 401 names the scheme the client should use.
    if (status === 401)
      reply.header(
        'www-authenticate',
        request.routeOptions.url === '/v1/api-tokens' ? 'Basic realm="doorstep"' : 'Bearer realm="doorstep"',
      );
    // RFC 9110 §10.2.3: when to come back (sign-in locks, the sign-in rate, a full password pool).
    const retryAfter = e.details['retryAfterSeconds'];
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    reply.code(status).type('application/json');
    return errorBody(e);
  });

  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    return errorBody(
      new DoorstepError('CLOUD_ERR_NOT_FOUND', {
        what: 'route',
        id: `${request.method} ${request.url.split('?')[0]}`,
      }),
    );
  });

  // Graceful stop: answers sent after close() began carry `Connection: close` (RFC 9112 §9.6), so
  // a keep-alive client of an in-flight request does not hold the server open after its answer.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('preHandler', async (request) => step(request, 'handler'));
  app.addHook('onSend', async (request, reply, payload) => {
    step(request, 'send');
    if (closing) reply.header('connection', 'close');
    // HSTS (RFC 6797) on every https answer, ours or a trusted proxy's: browsers then refuse plain
    // http to this host for a year, so a sign-in is never sent in clear after the first visit.
    if (request.protocol === 'https') reply.header('strict-transport-security', 'max-age=31536000');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.requestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  return app;
}
