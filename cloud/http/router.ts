import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { DoorstepError } from '../../protocol/index.js';
import type { Authenticator, GatewayPrincipal, UserPrincipal } from '../auth/authenticator.js';
import { routeSchema } from './openapi.js';
import { parseOrThrow } from './validate.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, set by the route's authentication hook before the body is read. */
    principal?: GatewayPrincipal | UserPrincipal;
  }
}

/**
 * How a route authenticates. gateway: bearer gateway credential; token: bearer API token;
 * password: HTTP Basic (only where a person mints an API token); none: public or self-checking
 * (enrolment proves itself with its token in the body).
 */
export type AuthKind = 'none' | 'gateway' | 'token' | 'password';

export interface RouteSpec {
  method: 'GET' | 'POST';
  url: string;
  summary: string;
  tag: string;
  auth: AuthKind;
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  /** Success status and body; `raw` for non-JSON answers (metrics). */
  status: number;
  response?: z.ZodType;
  raw?: string;
  /** Error statuses this route may answer with, for the document. */
  errors: number[];
}

export interface HandlerInput<B, Q, P, A> {
  request: FastifyRequest;
  reply: FastifyReply;
  principal: A;
  body: B;
  query: Q;
  params: P;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
type PrincipalOf<K extends AuthKind> = K extends 'gateway'
  ? GatewayPrincipal
  : K extends 'token' | 'password'
    ? UserPrincipal
    : undefined;

/** Fastify's own validation and serialisation stand aside: zod parses, the handler's object is sent as is. */
const noValidation = () => () => true;
const asJson = () => (data: unknown) => JSON.stringify(data);

/** Nothing sent, or an empty object (what `fetch` helpers send by habit). */
const isEmpty = (value: unknown) =>
  value === undefined ||
  value === null ||
  (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0);

/**
 * Registers routes on a fastify instance with a route schema generated from their zod schemas,
 * which @fastify/swagger turns into /openapi.json: the document lists exactly the routes that
 * exist. A route that takes no body or no query refuses one (an ignored field would let a client
 * believe it did something). Authentication runs in preParsing — before the
 * body is read or inflated, so an unauthenticated client cannot make the service inflate anything,
 * and after the rate limiter's onRequest hook, so failed attempts (a guessed token, a made-up
 * bearer header) are counted against their address like any other request.
 */
export class Router {
  constructor(
    private readonly app: FastifyInstance,
    private readonly auth: Authenticator,
  ) {}

  add<S extends RouteSpec & { auth: K }, K extends AuthKind>(
    spec: S,
    handler: (
      input: HandlerInput<Out<S['body']>, Out<S['query']>, Out<S['params']>, PrincipalOf<S['auth']>>,
    ) => Promise<unknown>,
  ): void {
    const auth = this.auth;
    this.app.route({
      method: spec.method,
      url: spec.url,
      schema: routeSchema(spec),
      validatorCompiler: noValidation,
      serializerCompiler: asJson,
      preParsing: async (request, _reply, payload) => {
        const header = request.headers.authorization;
        if (spec.auth === 'gateway') request.principal = await auth.gateway(header);
        else if (spec.auth === 'token') request.principal = await auth.apiToken(header);
        else if (spec.auth === 'password') request.principal = await auth.password(header, request.ip);
        return payload;
      },
      handler: async (request, reply) => {
        refuseUnexpected('(body)', spec.body, request.body);
        refuseUnexpected('(query)', spec.query, request.query);
        const body = spec.body ? parseOrThrow(spec.body, request.body) : undefined;
        const query = spec.query ? parseOrThrow(spec.query, { ...(request.query as object) }) : undefined;
        const params = spec.params ? parseOrThrow(spec.params, request.params) : undefined;
        refuseReversedRange(query);
        const result = await handler({
          request,
          reply,
          principal: request.principal as PrincipalOf<S['auth']>,
          body: body as Out<S['body']>,
          query: query as Out<S['query']>,
          params: params as Out<S['params']>,
        });
        reply.code(spec.status);
        if (spec.raw) reply.type(spec.raw);
        return result;
      },
    });
  }
}

function refuseUnexpected(where: string, schema: z.ZodType | undefined, value: unknown): void {
  if (schema || isEmpty(value)) return;
  const first =
    typeof value === 'object' && !Array.isArray(value) ? Object.keys(value as object)[0] : undefined;
  throw new DoorstepError('CLOUD_ERR_VALIDATION', {
    field: first ?? where,
    reason: first ? 'unknown field (this route takes none)' : 'this route takes no body',
  });
}

/**
 * A time range (`from`, `to`, ms) must not end before it starts. Ranges are not clamped otherwise:
 * every range query costs what it returns (at most its `limit`), whatever the span it names
 * (test/cloud/store/contract-time-bounds.ts measures each one on SQLite and PostgreSQL).
 */
function refuseReversedRange(query: unknown): void {
  const q = query as { from?: unknown; to?: unknown } | undefined;
  if (typeof q?.from === 'number' && typeof q.to === 'number' && q.to <= q.from)
    throw new DoorstepError('CLOUD_ERR_VALIDATION', { field: 'to', reason: 'must be later than from' });
}
