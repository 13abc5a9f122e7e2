import { UplinkBatch, UplinkResponse } from '../../../protocol/index.js';
import type { CloudServices } from '../context.js';
import type { Router } from '../router.js';

/** The one write path of gateways: POST /v1/sync (protocol/sync.ts). */
export function syncRoutes(router: Router, s: CloudServices): void {
  router.add(
    {
      method: 'POST',
      url: '/v1/sync',
      summary:
        'Upload one batch (JSON, optionally Content-Encoding: gzip); answered with its acknowledgement and pending commands',
      tag: 'sync',
      auth: 'gateway',
      body: UplinkBatch,
      status: 200,
      response: UplinkResponse,
      errors: [400, 401, 403, 413, 415, 429, 503],
    },
    async ({ principal, body }) => s.ingest.sync(principal, body),
  );
}
