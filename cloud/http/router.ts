import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Authenticator, GatewayPrincipal, UserPrincipal } from '../auth/authenticator.js';
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

/**
 * Registers routes on a fastify instance and remembers their specs for /openapi.json, so the
 * document lists exactly the routes that exist. Authentication runs in preParsing — before the
 * body is read or inflated, so an unauthenticated client cannot make the service inflate anything,
 * and after the rate limiter's onRequest hook, so failed attempts (a guessed token, a made-up
 * bearer header) are counted against their address like any other request.
 */
export class Router {
  readonly specs: RouteSpec[] = [];
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
    this.specs.push(spec);
    const auth = this.auth;
    this.app.route({
      method: spec.method,
      url: spec.url,
      preParsing: async (request, _reply, payload) => {
        const header = request.headers.authorization;
        if (spec.auth === 'gateway') request.principal = await auth.gateway(header);
        else if (spec.auth === 'token') request.principal = await auth.apiToken(header);
        else if (spec.auth === 'password') request.principal = await auth.password(header, request.ip);
        return payload;
      },
      handler: async (request, reply) => {
        const body = spec.body ? parseOrThrow(spec.body, request.body) : undefined;
        const query = spec.query ? parseOrThrow(spec.query, { ...(request.query as object) }) : undefined;
        const params = spec.params ? parseOrThrow(spec.params, request.params) : undefined;
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
