import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ADMIN, call, startTestCloud, type TestCloud } from './harness.js';

/**
 * Behind a TLS-terminating proxy the cloud speaks plain http on its own port. With
 * `http.trustProxy` it believes X-Forwarded-Proto: the session cookie is Secure and answers carry
 * HSTS (RFC 6797) exactly as with its own TLS; without trustProxy the header is ignored.
 */
const clouds: TestCloud[] = [];
after(async () => {
  for (const c of clouds) await c.stop();
});

async function signIn(t: TestCloud, forwarded: string | undefined) {
  const host = new URL(t.url).host;
  const origin = `${forwarded ?? 'http'}://${host}`;
  return call(t.url, 'POST', '/console/api/session', {
    json: { username: ADMIN.username, password: ADMIN.password },
    headers: { origin, ...(forwarded ? { 'x-forwarded-proto': forwarded } : {}) },
  });
}

describe('https behind a trusted proxy', () => {
  it('trustProxy + X-Forwarded-Proto: https → Secure cookie and HSTS; plain http → neither', async () => {
    const t = await startTestCloud({ http: { host: '127.0.0.1', port: 0, trustProxy: true } });
    clouds.push(t);
    const viaProxy = await signIn(t, 'https');
    assert.equal(viaProxy.status, 200, JSON.stringify(viaProxy.body));
    assert.match(viaProxy.headers.get('set-cookie') ?? '', /; Secure/);
    assert.equal(viaProxy.headers.get('strict-transport-security'), 'max-age=31536000');
    const direct = await signIn(t, undefined);
    assert.equal(direct.status, 200);
    assert.doesNotMatch(direct.headers.get('set-cookie') ?? '', /Secure/);
    assert.equal(direct.headers.get('strict-transport-security'), null);
  });

  it('without trustProxy a forged X-Forwarded-Proto changes nothing', async () => {
    const t = await startTestCloud();
    clouds.push(t);
    const host = new URL(t.url).host;
    const forged = await call(t.url, 'POST', '/console/api/session', {
      json: { username: ADMIN.username, password: ADMIN.password },
      headers: { origin: `http://${host}`, 'x-forwarded-proto': 'https' },
    });
    assert.equal(forged.status, 200);
    assert.doesNotMatch(forged.headers.get('set-cookie') ?? '', /Secure/);
    assert.equal(forged.headers.get('strict-transport-security'), null);
  });
});
