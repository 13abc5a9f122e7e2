/**
 * Test harness for the cloud HTTP service: a real fastify listening on 127.0.0.1:0 over a
 * MemoryCloudStore, a controllable clock, and small clients for the endpoints. Each test file
 * starts its own cloud and stops it in `after`, so nothing outlives a failing test.
 */
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { buildCloud, type Cloud, type CloudDeps } from '../../../cloud/build.js';
import { parseCloudConfig } from '../../../cloud/config/load.js';
import type { CloudConfigInput } from '../../../cloud/config/schema.js';
import { MemoryFeedSink } from '../../../cloud/feed-sink.js';
import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import type { CloudStore } from '../../../cloud/store/port.js';
import { packTelemetry, type SitePath, type UplinkBatchInput } from '../../../protocol/index.js';

export const ADMIN = { username: 'admin', password: 'correct horse battery' };

export const SITES = [
  { path: 'pudong/zhangjiang', name: '张江镇' },
  { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
  { path: 'pudong/zhangjiang/lane-200', name: '200 弄' },
  { path: 'pudong/huamu', name: '花木街道' },
  { path: 'pudong/huamu/garden-1', name: '花园一村' },
];

export function site(path: string): SitePath {
  const [district = '', town = '', community = ''] = path.split('/');
  return { district, town, community };
}

export function testConfig(overrides: Partial<CloudConfigInput> = {}) {
  return parseCloudConfig({
    district: { slug: 'pudong', name: '浦东新区' },
    http: { host: '127.0.0.1', port: 0, ...(overrides.http ?? {}) },
    storage: { kind: 'memory' },
    bootstrap: { admin: ADMIN, sites: SITES },
    log: { level: 'silent' },
    ...Object.fromEntries(Object.entries(overrides).filter(([k]) => k !== 'http')),
  });
}

export interface TestCloud {
  url: string;
  cloud: Cloud;
  store: CloudStore;
  feed: MemoryFeedSink;
  clock: { now: number };
  stop(): Promise<void>;
}

export async function startTestCloud(
  overrides: Partial<CloudConfigInput> = {},
  deps: Partial<CloudDeps> = {},
  /** Runs on the built cloud before it starts (e.g. an onRoute hook that sees every route). */
  beforeStart?: (cloud: Cloud) => void,
): Promise<TestCloud> {
  const store = deps.store ?? new MemoryCloudStore();
  await store.migrate();
  const feed = new MemoryFeedSink();
  const clock = { now: Date.UTC(2025, 5, 1, 8, 0, 0) };
  const cloud = buildCloud(testConfig(overrides), {
    store,
    feed,
    clock: () => clock.now,
    logger: pino({ level: 'silent' }),
    ...deps,
  });
  beforeStart?.(cloud);
  const url = await cloud.start();
  return {
    url,
    cloud,
    store,
    feed,
    clock,
    async stop() {
      await cloud.stop();
      await store.close();
    },
  };
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers field by field
type AnyBody = Record<string, any>;

export async function call(
  url: string,
  method: 'GET' | 'POST',
  path: string,
  options: {
    auth?: string;
    json?: unknown;
    raw?: Buffer | string;
    headers?: Record<string, string>;
    gzip?: boolean;
  } = {},
): Promise<Answer<AnyBody>> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.auth) headers.authorization = options.auth;
  let body: Buffer | string | undefined = options.raw;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
    if (options.gzip) {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
    }
  }
  const res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: AnyBody;
  try {
    parsed = text ? (JSON.parse(text) as AnyBody) : {};
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export const bearer = (secret: string) => `Bearer ${secret}`;
export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** An API token for the bootstrap admin (district scope). */
export async function adminToken(url: string): Promise<string> {
  const r = await call(url, 'POST', '/v1/api-tokens', {
    auth: basic(ADMIN.username, ADMIN.password),
    json: {},
  });
  if (r.status !== 201) throw new Error(`admin token: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token as string;
}

/** Creates a user (as admin) and returns an API token for it. */
export async function userToken(
  url: string,
  admin: string,
  user: { username: string; scope: string; role: 'viewer' | 'duty' | 'supervisor' | 'admin' },
): Promise<string> {
  const password = `${user.username}-password-123`;
  const c = await call(url, 'POST', '/v1/users', { auth: bearer(admin), json: { ...user, password } });
  if (c.status !== 201) throw new Error(`create user: ${c.status} ${JSON.stringify(c.body)}`);
  const t = await call(url, 'POST', '/v1/api-tokens', { auth: basic(user.username, password), json: {} });
  if (t.status !== 201) throw new Error(`user token: ${t.status} ${JSON.stringify(t.body)}`);
  return t.body.token as string;
}

export async function enrollmentToken(url: string, auth: string, scope: string, uses = 1, ttlHours = 24) {
  const r = await call(url, 'POST', '/v1/enrollment-tokens', {
    auth: bearer(auth),
    json: { scope, uses, ttlHours },
  });
  if (r.status !== 201) throw new Error(`enrollment token: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token as string;
}

/** Enrols a gateway with a fresh one-use token; returns its credential secret. */
export async function enrollGateway(
  url: string,
  admin: string,
  id: string,
  sitePath: string,
): Promise<string> {
  const token = await enrollmentToken(url, admin, sitePath);
  const r = await call(url, 'POST', '/v1/enroll', { json: { token, gateway: { id, site: site(sitePath) } } });
  if (r.status !== 201) throw new Error(`enroll: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.credential.secret as string;
}

/**
 * A batch with `readings` telemetry rows (seq from `firstSeq`) and optional alarms, the way an
 * edge outbox would cut it.
 */
export function makeBatch(opts: {
  gateway: string;
  sitePath: string;
  batchSeq: number;
  firstSeq: number;
  readings?: number;
  alarms?: Array<{
    seq: number;
    id: string;
    type?: string;
    state?: 'raised' | 'cleared' | 'reset';
    device?: string;
  }>;
  ts?: number;
  clockOffsetMs?: number;
}): UplinkBatchInput {
  const ts = opts.ts ?? Date.UTC(2025, 5, 1, 8, 0, 0);
  const rows = Array.from({ length: opts.readings ?? 0 }, (_, i) => ({
    seq: opts.firstSeq + i,
    device: 'gas-1',
    point: 'gas',
    unit: '%LEL',
    value: 2 + (i % 5),
    quality: 'good' as const,
    ts: ts + i * 1000,
  }));
  return {
    v: 1 as const,
    gateway: opts.gateway,
    site: site(opts.sitePath),
    batchSeq: opts.batchSeq,
    sentAt: ts,
    alarms: (opts.alarms ?? []).map((a) => ({
      seq: a.seq,
      transition: {
        id: a.id,
        gateway: opts.gateway,
        device: a.device ?? 'smoke-1',
        type: a.type ?? 'smoke',
        severity: 'critical' as const,
        state: a.state ?? 'raised',
        ts,
        latched: true,
      },
    })),
    events: [],
    ...(rows.length > 0 ? { telemetry: packTelemetry(rows) } : {}),
    ...(opts.clockOffsetMs !== undefined
      ? {
          health: {
            software: 'doorstep-test',
            uptimeS: 10,
            outbox: { pending: { alarm: 0, event: 0, telemetry: 0 }, dropped: {}, quarantined: 0 },
            clockOffsetMs: opts.clockOffsetMs,
          },
        }
      : {}),
  };
}
