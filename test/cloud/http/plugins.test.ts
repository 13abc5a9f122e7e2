import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { STATIC_DIR } from '../../../cloud/console/assets.js';
import { ADMIN, call, startTestCloud, type TestCloud } from './harness.js';

/**
 * What the fastify plugins give (cloud/http/plugins.ts, cloud/console/routes.ts): the console's
 * files pre-compressed with ETags and 304s (@fastify/static), the security headers on every answer
 * (@fastify/helmet), the session cookie's attributes (@fastify/cookie).
 */
describe('console files and security headers', () => {
  let t: TestCloud;
  before(async () => {
    t = await startTestCloud();
  });
  after(() => t?.stop());

  const appJs = readFileSync(`${STATIC_DIR}app.js`);

  it('serves each file as brotli, gzip or plain by Accept-Encoding, the same bytes each way', async () => {
    const br = await fetch(`${t.url}/console/static/app.js`, { headers: { 'accept-encoding': 'br' } });
    assert.equal(br.headers.get('content-encoding'), 'br');
    assert.match(br.headers.get('vary') ?? '', /accept-encoding/i);
    // fetch decodes br itself; the length on the wire is the compressed one.
    assert.ok(Number(br.headers.get('content-length')) < appJs.length / 2);
    assert.deepEqual(Buffer.from(await br.arrayBuffer()), appJs);
    const gz = await fetch(`${t.url}/console/static/app.js`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers.get('content-encoding'), 'gzip');
    assert.deepEqual(Buffer.from(await gz.arrayBuffer()), appJs);
    const plain = await fetch(`${t.url}/console/static/app.js`, {
      headers: { 'accept-encoding': 'identity' },
    });
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.deepEqual(Buffer.from(await plain.arrayBuffer()), appJs);
    assert.match(plain.headers.get('content-type') ?? '', /javascript/);
  });

  it('answers a matching If-None-Match with 304 and no body; the page is revalidated every load', async () => {
    const first = await fetch(`${t.url}/console`, { headers: { 'accept-encoding': 'br' } });
    assert.equal(first.status, 200);
    assert.match(await first.text(), /<html/);
    const etag = first.headers.get('etag');
    assert.ok(etag, 'an ETag');
    assert.equal(first.headers.get('cache-control'), 'no-cache');
    // As a browser revalidates (fetch itself would add Cache-Control: no-cache, which forces a 200).
    const again = await fetch(`${t.url}/console`, {
      headers: { 'accept-encoding': 'br', 'if-none-match': etag, 'cache-control': 'max-age=0' },
    });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    const slash = await fetch(`${t.url}/console/`);
    assert.match(await slash.text(), /<html/);
  });

  it('an unknown or hidden file is 404/400 naming it, never a file outside the folder', async () => {
    const missing = await call(t.url, 'GET', '/console/static/nothing.js');
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /console file/);
    // In the source folder, but not served (only .html/.js/.css/.svg/.png are).
    assert.equal((await call(t.url, 'GET', '/console/static/tsconfig.json')).status, 404);
    assert.equal((await call(t.url, 'GET', '/console/static/.hidden')).status, 400);
    assert.equal((await call(t.url, 'GET', '/console/static/app.js.br')).status, 404);
  });

  it('every answer carries the console CSP, nosniff, no-referrer and no framing; no HSTS over http', async () => {
    for (const path of ['/console', '/console/static/app.js', '/healthz', '/v1/nothing-here']) {
      const r = await fetch(`${t.url}${path}`);
      const csp = r.headers.get('content-security-policy') ?? '';
      for (const directive of [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ])
        assert.ok(csp.includes(directive), `${path}: ${directive} in ${csp}`);
      assert.doesNotMatch(csp, /upgrade-insecure-requests/, 'plain http on a LAN keeps working');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer', path);
      assert.equal(r.headers.get('x-frame-options'), 'SAMEORIGIN', path);
      assert.equal(r.headers.get('strict-transport-security'), null, path);
      await r.arrayBuffer();
    }
  });

  it('a route with a stricter CSP of its own keeps it: the phone pages send only theirs', async () => {
    const r = await fetch(`${t.url}/m/case-1/not-a-token`);
    assert.equal(r.status, 403);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /^default-src 'none'/, csp);
    assert.doesNotMatch(csp, /default-src 'self'/, 'not merged with the console policy');
    await r.arrayBuffer();
  });

  it('the session cookie is HttpOnly, SameSite=Strict, Path=/, 12 h; sign-out clears it', async () => {
    const origin = t.url;
    const r = await call(t.url, 'POST', '/console/api/session', {
      json: { username: ADMIN.username, password: ADMIN.password },
      headers: { origin },
    });
    assert.equal(r.status, 200);
    const cookie = r.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^ds_session=dss_[A-Za-z0-9_-]{43};/);
    for (const attribute of ['Max-Age=43200', 'Path=/', 'HttpOnly', 'SameSite=Strict'])
      assert.ok(cookie.includes(attribute), `${attribute} in ${cookie}`);
    const session = cookie.split(';')[0] ?? '';
    // The parsed cookie authenticates (the console hook reads it through @fastify/cookie).
    const me = await call(t.url, 'GET', '/console/api/me', { headers: { cookie: `other=1; ${session}` } });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    const out = await call(t.url, 'POST', '/console/api/session/end', {
      json: {},
      headers: { cookie: session, origin },
    });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie') ?? '', /^ds_session=;.*Max-Age=0/);
    assert.equal((await call(t.url, 'GET', '/console/api/me', { headers: { cookie: session } })).status, 401);
  });
});
