import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorBody } from '../../../protocol/index.js';
import {
  adminToken,
  bearer,
  call,
  enrollGateway,
  makeBatch,
  startTestCloud,
  type TestCloud,
} from './harness.js';

/** Endpoints the service must have (the brief's list plus user creation); there are more. */
const ROUTES = [
  'GET /console/api/device',
  'GET /console/api/district',
  'GET /console/api/events',
  'GET /console/api/markers',
  'GET /console/api/me',
  'GET /console/api/overview',
  'GET /healthz',
  'GET /metrics',
  'GET /openapi.json',
  'GET /v1/alarms',
  'GET /v1/cases',
  'GET /v1/cases/{id}',
  'GET /v1/cases/{id}/photo',
  'GET /v1/devices',
  'GET /v1/gateways',
  'GET /v1/health/devices',
  'GET /v1/health/gateways',
  'GET /v1/readings',
  'GET /v1/registry/devices',
  'GET /v1/registry/devices.csv',
  'GET /v1/registry/devices.xlsx',
  'GET /v1/registry/devices/{code}',
  'GET /v1/rollups',
  'GET /v1/sites',
  'GET /v1/sites/{path}/on-duty',
  'POST /console/api/markers',
  'POST /console/api/plan',
  'POST /console/api/session',
  'POST /console/api/session/end',
  'POST /v1/api-tokens',
  'POST /v1/cases/{id}/ack',
  'POST /v1/cases/{id}/close',
  'POST /v1/cases/{id}/feedback',
  'POST /v1/cases/{id}/out-of-service',
  'POST /v1/cases/{id}/reset',
  'POST /v1/cases/{id}/return-to-service',
  'POST /v1/cases/{id}/shelve',
  'POST /v1/cases/{id}/silence',
  'POST /v1/cases/{id}/unshelve',
  'POST /v1/enroll',
  'POST /v1/enrollment-tokens',
  'POST /v1/gateway/credentials/rotate',
  'POST /v1/gateways/{id}/revoke',
  'POST /v1/sync',
  'POST /v1/users',
  'GET /v1/users',
  'GET /v1/users/{username}/api-tokens',
  'POST /v1/users/{username}/api-tokens/{id}/revoke',
  'POST /v1/users/{username}/disable',
  'POST /v1/users/{username}/enable',
  'POST /v1/users/{username}/password',
  'POST /v1/users/{username}/sessions/end',
  'POST /v1/me/password',
  'GET /v1/account-audit',
];

describe('cloud ops endpoints', () => {
  let t: TestCloud;
  /** Every route the server registered, as fastify's onRoute hook saw it (HEAD twins left out). */
  const registered: { method: string; url: string }[] = [];
  before(async () => {
    t = await startTestCloud({}, {}, (cloud) =>
      cloud.app.addHook('onRoute', (route) => {
        for (const method of [route.method].flat())
          if (method !== 'HEAD') registered.push({ method, url: route.url });
      }),
    );
  });
  after(() => t?.stop());

  it('/openapi.json is OpenAPI 3.1 and documents every registered route, with schemas from zod', async () => {
    const r = await call(t.url, 'GET', '/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    const listed = Object.entries(r.body.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const route of ROUTES) assert.ok(listed.includes(route), `${route} is documented`);
    // Every route, console, phone and ops ones included: one without a schema has no summary, no
    // tag and no documented answer, and fails here.
    assert.ok(registered.length >= ROUTES.length + 8, `${registered.length} routes seen`);
    for (const { method, url } of registered) {
      const path = url.replace(/:([A-Za-z]+)/g, '{$1}');
      const op = r.body.paths[path]?.[method.toLowerCase()];
      assert.ok(op, `${method} ${url} is in the document`);
      assert.ok(op.summary && op.tags?.length, `${method} ${url} has a summary and a tag`);
      const statuses = Object.keys(op.responses ?? {}).map(Number);
      assert.ok(
        statuses.some((s) => s >= 200 && s < 400),
        `${method} ${url} documents its answer`,
      );
      assert.ok(statuses.includes(429), `${method} ${url} documents the rate limit`);
    }
    assert.equal(listed.length, registered.length, 'nothing documented that is not registered');
    const sync = r.body.paths['/v1/sync'].post;
    const batch = sync.requestBody.content['application/json'].schema;
    assert.ok(batch.properties.telemetry && batch.properties.batchSeq, 'UplinkBatch schema inlined');
    assert.equal(batch.additionalProperties, false);
    assert.ok(sync.responses['200'].content['application/json'].schema.properties.ackedBatchSeq);
    assert.ok(sync.responses['413'], 'error statuses documented');
    const readings = r.body.paths['/v1/readings'].get.parameters.map((p: { name: string }) => p.name);
    assert.deepEqual(readings.sort(), ['device', 'from', 'gateway', 'limit', 'point', 'scope', 'to']);
  });

  it('every documented route exists on the server (no 404 "unknown route")', async () => {
    for (const route of ROUTES) {
      const [method, path = ''] = route.split(' ');
      const r = await call(t.url, method as 'GET' | 'POST', path.replace('{id}', 'gw-x'));
      assert.ok(!(r.status === 404 && r.body.error?.code === 'CLOUD_ERR_NOT_FOUND'), `${route}: ${r.status}`);
    }
  });

  it('an unknown route is a 404 ErrorBody', async () => {
    const r = await call(t.url, 'GET', '/v1/nothing-here');
    assert.equal(r.status, 404);
    assert.equal(ErrorBody.parse(r.body).error.code, 'CLOUD_ERR_NOT_FOUND');
  });

  it('/healthz answers 200 while the store is open and 503 once it is not', async () => {
    const ok = await call(t.url, 'GET', '/healthz');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { status: 'ok', district: 'pudong' });
    const broken = await startTestCloud();
    try {
      await broken.store.close();
      const r = await call(broken.url, 'GET', '/healthz');
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'CLOUD_ERR_UNAVAILABLE');
    } finally {
      await broken.cloud.stop();
    }
  });

  it('/metrics is Prometheus text from the service’s own registry', async () => {
    const res = await fetch(`${t.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /# TYPE doorstep_cloud_http_request_duration_seconds histogram/);
    assert.match(text, /# TYPE doorstep_cloud_store_errors_total counter/);
    assert.doesNotMatch(text, /process_cpu_seconds_total/, 'no default global metrics mixed in');
  });
});

describe('cloud rate limiting', () => {
  let t: TestCloud;
  let admin = '';
  before(async () => {
    t = await startTestCloud({ http: { port: 0, rateLimit: { max: 5, timeWindowMs: 3_600_000 } } });
  });
  after(() => t?.stop());

  it('limits per credential: the 6th request in the window is 429, another credential is unaffected', async () => {
    admin = await adminToken(t.url); // 1 request from this address (Basic: limited per address)
    const secret = await enrollGateway(t.url, admin, 'gw-rl', 'pudong/zhangjiang/lane-100');
    const statuses: number[] = [];
    for (let n = 1; n <= 6; n++) {
      const r = await call(t.url, 'POST', '/v1/sync', {
        auth: bearer(secret),
        json: makeBatch({
          gateway: 'gw-rl',
          sitePath: 'pudong/zhangjiang/lane-100',
          batchSeq: n,
          firstSeq: n,
          readings: 1,
        }),
      });
      statuses.push(r.status);
      if (r.status === 429) {
        assert.equal(r.body.error.code, 'CLOUD_ERR_RATE_LIMITED');
        assert.ok(r.headers.get('retry-after'), 'Retry-After header (RFC 6585 §4)');
      }
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    assert.equal((await t.store.countRecords('gw-rl')).telemetry, 5, 'the refused batch stored nothing');
    const viewer = await call(t.url, 'GET', '/v1/sites', { auth: bearer(admin) });
    assert.equal(viewer.status, 200, 'the admin token has its own budget');
  });

  it('made-up bearer headers share their address’s budget instead of buying a fresh one each', async () => {
    const statuses: number[] = [];
    for (let n = 0; n < 6; n++) {
      const forged = `Bearer dsa_${Math.random().toString(36).slice(2)}${n}`;
      statuses.push((await call(t.url, 'GET', '/v1/sites', { auth: forged })).status);
    }
    // The address already spent part of its 5 on the admin's Basic sign-in and the enrolment.
    assert.ok(statuses.includes(429), `one address, one budget: ${statuses.join(',')}`);
    assert.ok(
      statuses.every((s) => s === 401 || s === 429),
      statuses.join(','),
    );
    const valid = await call(t.url, 'GET', '/v1/sites', { auth: bearer(admin) });
    assert.equal(valid.status, 200, 'a valid credential keeps its own budget');
  });
});
