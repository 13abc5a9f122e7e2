import { DoorstepError } from '../../../protocol/index.js';
import type { CloudServices } from '../context.js';
import { openApiDocument } from '../openapi.js';
import type { Router } from '../router.js';
import { HealthzResponse } from '../schemas.js';

/** Liveness, metrics and the API document. */
export function opsRoutes(router: Router, s: CloudServices, version: string): void {
  router.add(
    {
      method: 'GET',
      url: '/healthz',
      summary: 'Service health: 200 when the store answers',
      tag: 'ops',
      auth: 'none',
      status: 200,
      response: HealthzResponse,
      errors: [503],
    },
    async () => {
      try {
        // The port has no ping: a lookup by primary key is the cheapest round trip to the store.
        await s.store.getGateway('healthz-probe');
      } catch (error) {
        throw new DoorstepError(
          'CLOUD_ERR_UNAVAILABLE',
          { reason: error instanceof Error ? error.message : String(error) },
          { cause: error },
        );
      }
      return { status: 'ok' as const, district: s.config.district.slug };
    },
  );

  router.add(
    {
      method: 'GET',
      url: '/metrics',
      summary: 'Prometheus metrics (text exposition format)',
      tag: 'ops',
      auth: 'none',
      status: 200,
      raw: 'text/plain; version=0.0.4; charset=utf-8',
      errors: [],
    },
    async () => s.metrics.registry.metrics(),
  );

  router.add(
    {
      method: 'GET',
      url: '/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document',
      tag: 'ops',
      auth: 'none',
      status: 200,
      errors: [],
    },
    async () => openApiDocument(router.specs, { title: 'doorstep cloud', version }),
  );
}
