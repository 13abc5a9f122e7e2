import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteCloudStore } from '../../../cloud/store/index.js';
import { ErrorBody } from '../../../protocol/index.js';
import { tempDir } from '../../support/tmp.js';
import {
  ADMIN,
  adminToken,
  basic,
  bearer,
  call,
  enrollGateway,
  makeBatch,
  startTestCloud,
  type TestCloud,
  userToken,
} from './harness.js';

/**
 * Hostile requests on EVERY route, driven by the routes the server registered (fastify's onRoute
 * hook), so a route added tomorrow is covered without touching this file. What each route may
 * answer is read from its own entry in /openapi.json: a refusal must be a status the document
 * lists for that route, in the one ErrorBody shape (the phone pages answer HTML pages), and must
 * change nothing in the database (every table of the SQLite file, compared before and after).
 * test/cloud/ingest/hostile*.test.ts go deeper into /v1/sync; test/cloud/http/scope.test.ts into scopes.
 */

const BODY_LIMIT = 64 * 1024;
const LANE = 'pudong/zhangjiang/lane-100';

/** Values of required query parameters that exist in the test's data. */
const REQUIRED_VALUES: Record<string, string> = { resolution: '1h', gateway: 'gw-a', device: 'gas-1' };

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, unknown>[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, unknown>;
}
interface Route {
  method: 'GET' | 'POST';
  url: string;
  op: Operation;
  /** How the route authenticates, from its documented security. */
  auth: 'none' | 'gateway' | 'token' | 'password';
  params: string[];
  /** Answers pages, not JSON (the phone action pages). */
  html: boolean;
}

/**
 * Tables a refused request may change by design: a refused sync batch is counted in the gateway's
 * health (cloud/ingest, "rejected batches"); a refused password sign-in is counted for its lock
 * (cloud/auth/README.md, "Password sign-in").
 */
const MAY_CHANGE = new Set(['gateway_health', 'signin_attempts']);
/**
 * Columns a refused request may change by design: a verified API token records its last use (to the
 * minute) whatever the route then answers (cloud/auth/accounts.ts, "last used").
 */
const MAY_CHANGE_COLUMNS: Record<string, readonly string[]> = { api_tokens: ['last_used_at'] };
const withoutColumns = (table: string, rows: unknown[]) =>
  rows.map((row) => {
    const copy = { ...(row as Record<string, unknown>) };
    for (const column of MAY_CHANGE_COLUMNS[table] ?? []) delete copy[column];
    return copy;
  });

describe('hostile requests on every route', () => {
  const dir = tempDir('doorstep-hostile-routes-');
  const registered: { method: string; url: string }[] = [];
  let t: TestCloud;
  let store: SqliteCloudStore;
  const routes: Route[] = [];
  let admin = '';
  let townB = '';
  let gateway = '';
  let caseId = '';
  let origin = '';

  /** Every table of the cloud's database, row by row. */
  const dump = () => {
    const handle = store.handle();
    if (handle.kind !== 'sqlite') throw new Error('sqlite expected');
    const tables = handle.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as { name: string }[];
    return Object.fromEntries(
      tables
        .filter(({ name }) => !MAY_CHANGE.has(name))
        .map(({ name }) => [name, withoutColumns(name, handle.db.prepare(`SELECT * FROM "${name}"`).all())]),
    );
  };

  before(async () => {
    store = new SqliteCloudStore({ path: join(dir.path, 'cloud.db') });
    t = await startTestCloud(
      { http: { port: 0, bodyLimitBytes: BODY_LIMIT, rateLimit: { max: 1_000_000, timeWindowMs: 60_000 } } },
      { store, noEscalation: true },
      (cloud) =>
        cloud.app.addHook('onRoute', (route) => {
          for (const method of [route.method].flat())
            if (method !== 'HEAD') registered.push({ method, url: route.url });
        }),
    );
    origin = t.url;
    admin = await adminToken(t.url);
    townB = await userToken(t.url, admin, {
      username: 'huamu-viewer',
      scope: 'pudong/huamu',
      role: 'supervisor',
    });
    gateway = await enrollGateway(t.url, admin, 'gw-a', LANE);
    const sync = await call(t.url, 'POST', '/v1/sync', {
      auth: bearer(gateway),
      json: makeBatch({
        gateway: 'gw-a',
        sitePath: LANE,
        batchSeq: 1,
        firstSeq: 1,
        readings: 2,
        alarms: [{ seq: 3, id: 'gw-a-smoke-000001' }],
      }),
    });
    assert.equal(sync.status, 200, JSON.stringify(sync.body));
    const cases = await call(t.url, 'GET', '/v1/cases', { auth: bearer(admin) });
    caseId = cases.body.items[0].id;

    const doc = await call(t.url, 'GET', '/openapi.json');
    for (const { method, url } of registered) {
      const op = doc.body.paths[url.replace(/:([A-Za-z]+)/g, '{$1}')]?.[method.toLowerCase()] as Operation;
      assert.ok(op, `${method} ${url} is documented`);
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
      routes.push({
        method: method as Route['method'],
        url,
        op,
        auth: schemes.includes('gatewayCredential')
          ? 'gateway'
          : schemes.includes('apiToken')
            ? 'token'
            : schemes.includes('password')
              ? 'password'
              : 'none',
        params: [...url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1] ?? ''),
        html: (op.tags ?? []).includes('phone'),
      });
    }
  });
  after(async () => {
    await t?.stop();
    dir.dispose();
  });

  /**
   * Like the harness's `call`, over node:http with the path sent byte for byte: fetch would
   * resolve `..` and `%2e%2e` before sending, and the server would never see them.
   */
  function rawCall(
    method: string,
    path: string,
    options: NonNullable<Parameters<typeof call>[3]>,
  ): ReturnType<typeof call> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.auth) headers['authorization'] = options.auth;
    let body = options.raw;
    if (options.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(options.json);
    }
    const { hostname, port } = new URL(t.url);
    return new Promise((resolve, reject) => {
      const req = request({ host: hostname, port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Awaited<ReturnType<typeof call>>['body'];
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            parsed = { text };
          }
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
          resolve({ status: res.statusCode ?? 0, headers: h, body: parsed });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** The route's URL with its path parameters filled in (a real case id for `:id`/`:case`). */
  const urlOf = (r: Route, value?: string) =>
    r.url.replace(
      /:([A-Za-z]+)/g,
      (_, name: string) =>
        value ??
        encodeURIComponent(
          name === 'id' || name === 'case'
            ? caseId
            : name === 'path'
              ? LANE
              : name === 'code'
                ? 'PD-ZJ-000123' // a device code of the district's register (cloud/registry)
                : 'x1',
        ),
    );

  /** A working credential of the kind the route takes. */
  const goodAuth = (r: Route) =>
    r.auth === 'gateway'
      ? bearer(gateway)
      : r.auth === 'token'
        ? bearer(admin)
        : r.auth === 'password'
          ? basic(ADMIN.username, ADMIN.password)
          : undefined;

  /**
   * Sends a request and checks the refusal: 4xx, listed for this route in the document, the
   * ErrorBody shape (or a page), nothing changed. Returns the answer for further checks.
   */
  async function refused(
    r: Route,
    what: string,
    options: Parameters<typeof call>[3] & { path?: string },
    allowed?: number[],
  ) {
    const before0 = dump();
    const answer = await rawCall(r.method, options.path ?? urlOf(r), {
      ...options,
      headers: { origin, ...(options.headers ?? {}) },
    });
    const label = `${r.method} ${r.url} ${what}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`;
    assert.ok(answer.status >= 400 && answer.status < 500, label);
    assert.ok(String(answer.status) in r.op.responses, `${label} (status not documented for the route)`);
    if (allowed) assert.ok(allowed.includes(answer.status), `${label} (expected ${allowed.join('/')})`);
    // A URL the router cannot match at all is refused before any route: ErrorBody there too.
    if (r.html && !answer.headers.get('content-type')?.startsWith('application/json'))
      assert.match(answer.headers.get('content-type') ?? '', /^text\/html/, label);
    else assert.ok(ErrorBody.safeParse(answer.body).success, `${label} (not an ErrorBody)`);
    assert.deepEqual(dump(), before0, `${label} changed the database`);
    return answer;
  }

  it('sees every route of the server, with its documented security', () => {
    assert.ok(routes.length >= 45, `${routes.length} routes`);
    for (const path of ['/console/api/me', '/m/:case/:token/ack', '/metrics', '/healthz', '/v1/sync'])
      assert.ok(
        routes.some((r) => r.url === path),
        path,
      );
  });

  it('no credentials, made-up ones and the wrong kind → 401/403 on every authenticated route', async () => {
    const authed = routes.filter((r) => r.auth !== 'none');
    assert.ok(authed.length >= 35);
    for (const r of authed) {
      await refused(r, 'without credentials', {}, [401, 403]);
      await refused(r, 'with a made-up bearer', { auth: bearer(`dsa_${'A'.repeat(43)}`) }, [401, 403]);
      await refused(
        r,
        'with a made-up password',
        { auth: basic('nobody-here', 'wrong password') },
        [401, 403],
      );
      await refused(r, 'with a garbage header', { auth: "Bearer ../../%00 ' OR 1=1" }, [400, 401, 403]);
      const wrongKind = r.auth === 'gateway' ? bearer(admin) : bearer(gateway);
      await refused(r, 'with the wrong kind of credential', { auth: wrongKind }, [401, 403]);
    }
  });

  it('another town’s user → 403 wherever a scope, site or site path is named', async () => {
    let checked = 0;
    for (const r of routes.filter((x) => x.auth === 'token')) {
      const names = (r.op.parameters ?? []).map((p) => p.name);
      const scoped = names.find((n) => n === 'scope' || n === 'site');
      if (scoped) {
        // The other parameters a route requires, with values that exist.
        const required = (r.op.parameters ?? [])
          .filter((p) => p.in === 'query' && p.required && p.name !== scoped)
          .map((p) => `&${p.name}=${REQUIRED_VALUES[p.name] ?? 'x1'}`)
          .join('');
        await refused(
          r,
          `with ${scoped} outside the caller's`,
          {
            auth: bearer(townB),
            path: `${urlOf(r)}?${scoped}=${encodeURIComponent(LANE)}${required}`,
          },
          [403],
        );
        checked++;
      } else if (r.params.includes('path') || r.params.includes('id')) {
        // A case or site of town A, asked for by town B: refused, and it reads like an unknown id.
        await refused(
          r,
          'on another town’s object',
          { auth: bearer(townB), ...(r.method === 'POST' ? { json: {} } : {}) },
          [400, 403, 404],
        );
        checked++;
      }
    }
    assert.ok(checked >= 15, `${checked} routes checked`);
  });

  it('public routes take no harm from credentials they do not need', async () => {
    for (const r of routes.filter((x) => x.auth === 'none' && x.method === 'GET' && x.params.length === 0)) {
      const answer = await call(t.url, 'GET', urlOf(r), { auth: bearer(`dsa_${'B'.repeat(43)}`) });
      assert.ok(String(answer.status) in r.op.responses, `${r.url}: ${answer.status}`);
      assert.ok(answer.status < 500, `${r.url}: ${answer.status}`);
    }
  });

  it('malformed JSON, wrong types, unknown fields, wrong media type and oversized bodies → 4xx naming the problem', async () => {
    const posts = routes.filter((r) => r.method === 'POST' && !r.html);
    assert.ok(posts.length >= 20);
    for (const r of posts) {
      const auth = goodAuth(r);
      const json = { 'content-type': 'application/json' };
      const broken = await refused(r, 'malformed JSON', { auth, raw: '{"a": ', headers: json }, [400]);
      assert.equal(broken.body.error.code, 'CLOUD_ERR_NOT_JSON');
      for (const [what, body] of [
        ['an array', [1, 2]],
        ['a string', 'text'],
        ['a number', 42],
        ['an unknown field', { __hostile: { $gt: '' } }],
      ] as const) {
        const answer = await refused(r, `body ${what}`, { auth, json: body }, [400]);
        assert.equal(answer.body.error.code, 'CLOUD_ERR_VALIDATION', `${r.url} ${what}`);
        assert.ok(answer.body.error.field, `${r.url} ${what}: the field is named`);
      }
      const plain = await refused(
        r,
        'text/plain',
        { auth, raw: 'hello', headers: { 'content-type': 'text/plain' } },
        [415],
      );
      assert.equal(plain.body.error.code, 'CLOUD_ERR_UNSUPPORTED_MEDIA');
      const big = await refused(
        r,
        'oversized',
        { auth, raw: JSON.stringify({ pad: 'x'.repeat(BODY_LIMIT + 10) }), headers: json },
        [413],
      );
      assert.equal(big.body.error.code, 'CLOUD_ERR_TOO_LARGE');
    }
  });

  it('unknown or malformed query parameters on the API routes → 400 naming the parameter', async () => {
    // Files and pages (the console's, the phone's) take cache-busting and language parameters.
    const api = routes.filter((r) => r.method === 'GET' && !r.html && !/^\/console(\/|$)(?!api)/.test(r.url));
    assert.ok(api.length >= 20);
    for (const r of api) {
      const query = (r.op.parameters ?? []).filter((p) => p.in === 'query');
      const required = query
        .filter((p) => p.required)
        .map((p) => `${p.name}=${REQUIRED_VALUES[p.name] ?? 'x1'}&`)
        .join('');
      const answer = await refused(
        r,
        'unknown query field',
        { auth: goodAuth(r), path: `${urlOf(r)}?${required}__hostile=1` },
        [400],
      );
      assert.equal(answer.body.error.field, '__hostile', r.url);
      for (const { name } of query) {
        const others = query
          .filter((p) => p.required && p.name !== name)
          .map((p) => `&${p.name}=${REQUIRED_VALUES[p.name] ?? 'x1'}`)
          .join('');
        const bad = await refused(
          r,
          `${name} of 5000 characters`,
          { auth: goodAuth(r), path: `${urlOf(r)}?${name}=${'9'.repeat(5000)}${others}` },
          [400, 403],
        );
        if (bad.status === 400) assert.equal(bad.body.error.field, name, r.url);
      }
    }
  });

  it('a time range that ends before it starts → 400 naming `to`, on every route that takes one', async () => {
    const ranged = routes.filter((r) => {
      const names = (r.op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      return names.includes('from') && names.includes('to');
    });
    assert.ok(ranged.length >= 4, `${ranged.length} routes`);
    for (const r of ranged) {
      const required = (r.op.parameters ?? [])
        .filter((p) => p.in === 'query' && p.required)
        .map((p) => `&${p.name}=${REQUIRED_VALUES[p.name] ?? 'x1'}`)
        .join('');
      const answer = await refused(
        r,
        'to before from',
        { auth: goodAuth(r), path: `${urlOf(r)}?from=1750000000000&to=1700000000000${required}` },
        [400],
      );
      assert.equal(answer.body.error.field, 'to', r.url);
    }
  });

  it('path parameters with traversal, encoded separators, control characters or huge values → 4xx', async () => {
    const withParams = routes.filter((r) => r.params.length > 0);
    assert.ok(withParams.length >= 15);
    const hostile = [
      '..%2F..%2F..%2Fetc%2Fpasswd',
      '%2e%2e',
      '..',
      '%00',
      '%E2%80%AE',
      'a'.repeat(5000),
      encodeURIComponent('pudong/../../etc'),
      '%252e%252e%252f',
    ];
    for (const r of withParams) {
      for (const value of hostile) {
        const answer = await refused(
          r,
          `with ${value.slice(0, 30)}`,
          {
            auth: goodAuth(r),
            path: urlOf(r, value),
            ...(r.method === 'POST' && !r.html ? { json: {} } : {}),
          },
          [400, 403, 404, 414],
        );
        assert.doesNotMatch(JSON.stringify(answer.body), /root:x:0:0/, 'nothing read from outside');
      }
    }
  });
});
