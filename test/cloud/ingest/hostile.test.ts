import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  adminToken,
  bearer,
  call,
  enrollGateway,
  makeBatch,
  startTestCloud,
  type TestCloud,
} from '../http/harness.js';

const LANE = 'pudong/zhangjiang/lane-100';
const BODY_LIMIT = 64 * 1024;
const INFLATE_LIMIT = 256 * 1024;

/**
 * Hostile and broken sync requests: each gets a clear 4xx naming the code (and the field where
 * one is at fault), and nothing is stored (docs/architecture.md invariant 12).
 */
describe('cloud sync: hostile requests', () => {
  let t: TestCloud;
  let secret: string;
  before(async () => {
    t = await startTestCloud({
      http: { port: 0, bodyLimitBytes: BODY_LIMIT, maxInflatedBytes: INFLATE_LIMIT },
    });
    const admin = await adminToken(t.url);
    secret = await enrollGateway(t.url, admin, 'gw-h', LANE);
    await enrollGateway(t.url, admin, 'gw-other', 'pudong/huamu/garden-1');
  });
  after(() => t?.stop());

  let before0: { alarms: number; events: number; telemetry: number };
  beforeEach(async () => {
    before0 = await t.store.countRecords();
  });
  const nothingStored = async () => assert.deepEqual(await t.store.countRecords(), before0);
  const good = () =>
    makeBatch({
      gateway: 'gw-h',
      sitePath: LANE,
      batchSeq: 1,
      firstSeq: 1,
      readings: 3,
      alarms: [{ seq: 4, id: 'gw-h-smoke-000001' }],
    });
  const sync = (opts: Parameters<typeof call>[3]) => call(t.url, 'POST', '/v1/sync', opts);

  it('oversized body → 413 CLOUD_ERR_TOO_LARGE', async () => {
    const big = { ...good(), padding: 'x'.repeat(BODY_LIMIT + 10) };
    const r = await sync({ auth: bearer(secret), json: big });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, 'CLOUD_ERR_TOO_LARGE');
    await nothingStored();
  });

  it('gzip bomb (small on the wire, huge inflated) → 413', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    assert.ok(bomb.length < BODY_LIMIT, `bomb is ${bomb.length} bytes on the wire`);
    const r = await sync({
      auth: bearer(secret),
      raw: bomb,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, 'CLOUD_ERR_TOO_LARGE');
    assert.match(r.body.error.message, /inflation/);
    await nothingStored();
  });

  it('broken gzip → 400 CLOUD_ERR_BAD_ENCODING', async () => {
    const broken = gzipSync(JSON.stringify(good())).subarray(0, 30);
    const r = await sync({
      auth: bearer(secret),
      raw: broken,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'CLOUD_ERR_BAD_ENCODING');
    await nothingStored();
  });

  it('unsupported Content-Encoding and Content-Type → 415', async () => {
    const br = await sync({
      auth: bearer(secret),
      raw: JSON.stringify(good()),
      headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
    });
    assert.equal(br.status, 415);
    assert.equal(br.body.error.code, 'CLOUD_ERR_UNSUPPORTED_MEDIA');
    const text = await sync({
      auth: bearer(secret),
      raw: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(text.status, 415);
    assert.equal(text.body.error.code, 'CLOUD_ERR_UNSUPPORTED_MEDIA');
    await nothingStored();
  });

  it('non-JSON → 400 CLOUD_ERR_NOT_JSON', async () => {
    const r = await sync({
      auth: bearer(secret),
      raw: '{"v":1,',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'CLOUD_ERR_NOT_JSON');
    const proto = await sync({
      auth: bearer(secret),
      raw: '{"__proto__":{"admin":true}}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(proto.status, 400);
    await nothingStored();
  });

  it('wrong types → 400 naming the field (telemetry.ts)', async () => {
    const b = good();
    const bad = { ...b, telemetry: { ...b.telemetry, ts: ['soon', 1, 2] } };
    const r = await sync({ auth: bearer(secret), json: bad, gzip: true });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'CLOUD_ERR_VALIDATION');
    assert.equal(r.body.error.field, 'telemetry.ts[0]');
    assert.match(r.body.error.message, /^telemetry\.ts\[0\]: /);
    const seq = await sync({ auth: bearer(secret), json: { ...b, batchSeq: 'one' } });
    assert.equal(seq.body.error.field, 'batchSeq');
    const alarm = structuredClone(b);
    (alarm.alarms?.[0]?.transition as { severity: string }).severity = 'apocalyptic';
    const a = await sync({ auth: bearer(secret), json: alarm });
    assert.equal(a.body.error.field, 'alarms[0].transition.severity');
    await nothingStored();
  });

  it('unknown JSON fields → 400 naming the unknown field', async () => {
    const r = await sync({ auth: bearer(secret), json: { ...good(), extra: true } });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.field, 'extra');
    const nested = good();
    const withNested = { ...nested, alarms: [{ ...nested.alarms?.[0], sneaky: 1 }] };
    const n = await sync({ auth: bearer(secret), json: withNested });
    assert.equal(n.status, 400);
    assert.equal(n.body.error.field, 'alarms[0].sneaky');
    await nothingStored();
  });

  it('a rejected batch is counted in the gateway health', async () => {
    const health = await t.store.listGatewayHealth(LANE);
    const mine = health.find((h) => h.gateway === 'gw-h');
    assert.ok(mine && mine.rejectedBatches >= 1, JSON.stringify(health));
  });

  it('missing, wrong and malformed credentials → 401 with WWW-Authenticate', async () => {
    for (const auth of [undefined, bearer('dsg_wrongwrongwrong'), 'Token abc', bearer('dsa_not-a-gateway')]) {
      const r = await sync({ ...(auth ? { auth } : {}), json: good() });
      assert.equal(r.status, 401, String(auth));
      assert.equal(r.body.error.code, 'CLOUD_ERR_AUTH');
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    await nothingStored();
  });

  it("another gateway's id in the body → 403; so is another gateway's alarm or another site", async () => {
    const asOther = makeBatch({
      gateway: 'gw-other',
      sitePath: 'pudong/huamu/garden-1',
      batchSeq: 1,
      firstSeq: 1,
      readings: 2,
    });
    const r = await sync({ auth: bearer(secret), json: asOther });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'CLOUD_ERR_GATEWAY_MISMATCH');
    assert.equal(r.body.error.field, 'gateway');

    const forged = good();
    (forged.alarms?.[0]?.transition as { gateway: string }).gateway = 'gw-other';
    const f = await sync({ auth: bearer(secret), json: forged });
    assert.equal(f.status, 403);
    assert.equal(f.body.error.field, 'alarms[0].transition.gateway');

    const moved = makeBatch({
      gateway: 'gw-h',
      sitePath: 'pudong/huamu/garden-1',
      batchSeq: 1,
      firstSeq: 1,
      readings: 2,
    });
    const m = await sync({ auth: bearer(secret), json: moved });
    assert.equal(m.status, 403);
    assert.equal(m.body.error.code, 'CLOUD_ERR_SITE_MISMATCH');
    await nothingStored();
  });

  it('after all that, the good batch is stored exactly once', async () => {
    const r = await sync({ auth: bearer(secret), json: good(), gzip: true });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.stored, { alarms: 1, events: 0, telemetry: 3 });
    assert.deepEqual(await t.store.countRecords('gw-other'), { alarms: 0, events: 0, telemetry: 0 });
  });

  it('rejections are counted by code in /metrics', async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    for (const code of [
      'CLOUD_ERR_TOO_LARGE',
      'CLOUD_ERR_BAD_ENCODING',
      'CLOUD_ERR_VALIDATION',
      'CLOUD_ERR_AUTH',
    ])
      assert.match(text, new RegExp(`doorstep_cloud_ingest_rejections_total\\{code="${code}"\\} [1-9]`));
  });
});
