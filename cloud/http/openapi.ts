import { z } from 'zod';
import { ErrorBody } from '../../protocol/index.js';
import type { RouteSpec } from './router.js';

type Json = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

const REASONS: Record<number, string> = {
  400: 'Invalid request: error.field names the offending field',
  401: 'Missing, wrong, expired or revoked credentials',
  403: 'Outside the caller’s scope, role too low, or a gateway writing as another',
  404: 'Unknown route or object',
  409: 'Already exists',
  413: 'Body too large (as sent, or after gzip inflation)',
  415: 'Not application/json, or an unsupported Content-Encoding',
  429: 'Rate limit exceeded',
  503: 'Store unreachable or service stopping',
};

/** Query parameters of an object schema, one entry per key (OpenAPI 3.1 §4.8.12). */
function parameters(spec: RouteSpec): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [
    ['path', spec.params],
    ['query', spec.query],
  ] as const) {
    if (!(schema instanceof z.ZodObject)) continue;
    for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      out.push({
        name,
        in: where,
        required: where === 'path' || !field.safeParse(undefined).success,
        schema: schemaOf(field, 'input'),
      });
    }
  }
  return out;
}

const SECURITY: Record<RouteSpec['auth'], Json[] | undefined> = {
  none: [],
  gateway: [{ gatewayCredential: [] }],
  token: [{ apiToken: [] }],
  password: [{ password: [] }],
};

/**
 * The OpenAPI 3.1 document of the routes actually registered, with request and response schemas
 * generated from the same zod schemas that validate requests (JSON Schema 2020-12, which
 * OpenAPI 3.1 uses as its schema dialect).
 */
export function openApiDocument(specs: readonly RouteSpec[], info: { title: string; version: string }): Json {
  const paths: Record<string, Record<string, Json>> = {};
  const error = schemaOf(ErrorBody, 'output');
  for (const spec of specs) {
    const path = spec.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const responses: Json = {
      [spec.status]: spec.raw
        ? { description: 'OK', content: { [spec.raw]: { schema: { type: 'string' } } } }
        : {
            description: 'OK',
            content: {
              'application/json': { schema: spec.response ? schemaOf(spec.response, 'output') : {} },
            },
          },
    };
    for (const status of spec.errors)
      responses[status] = {
        description: REASONS[status] ?? 'Error',
        content: { 'application/json': { schema: error } },
      };
    paths[path] ??= {};
    paths[path][spec.method.toLowerCase()] = {
      summary: spec.summary,
      tags: [spec.tag],
      operationId: `${spec.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      security: SECURITY[spec.auth],
      parameters: parameters(spec),
      ...(spec.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schemaOf(spec.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'doorstep district cloud: enrolment, sync, scoped queries' },
    paths,
    components: {
      securitySchemes: {
        gatewayCredential: { type: 'http', scheme: 'bearer', description: 'gateway credential (dsg_…)' },
        apiToken: { type: 'http', scheme: 'bearer', description: 'API token (dsa_…)' },
        password: { type: 'http', scheme: 'basic', description: 'user name and password' },
      },
    },
  };
}
