/**
 * Slow clients and crowds of sockets (cloud/http/README.md: timeouts and limits): a body trickled
 * a byte a second is cut off at http.requestTimeoutMs, headers at http.headersTimeoutMs, and
 * connections beyond http.maxConnections are closed as they arrive. The rate limiter keys on the
 * verified principal, never on an unverified header. Real servers on loopback port 0.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ADMIN, adminToken, basic, bearer, call, startTestCloud, type TestCloud } from './harness.js';

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Opens a socket and resolves once connected. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Writes `head`, then one byte of `body` every `everyMs` until the server closes the connection or
 * the body is done. Resolves with how many body bytes went out and what the server answered.
 */
function trickle(
  port: number,
  head: string,
  body: string,
  everyMs: number,
): Promise<{ sent: number; answer: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let sent = 0;
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const done = (closedByServer: boolean) => {
      clearInterval(timer);
      socket.destroy();
      resolve({ sent, answer, closedByServer });
    };
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
    });
    socket.on('close', () => done(sent < body.length));
    socket.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' || e.code === 'EPIPE' ? done(true) : reject(e),
    );
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (sent >= body.length || socket.destroyed) return done(false);
        socket.write(body[sent] ?? '');
        sent += 1;
      }, everyMs);
    });
  });
}

describe('request and header timeouts, the connection cap', () => {
  let t: TestCloud;
  before(async () => {
    t = await startTestCloud({
      http: { host: '127.0.0.1', port: 0, requestTimeoutMs: 2000, headersTimeoutMs: 1000, maxConnections: 4 },
    });
  });
  after(() => t?.stop());

  it('cuts off a client sending its body one byte a second (408)', async () => {
    const body = JSON.stringify({ token: 'dse_x', gateway: { id: 'gw-slow' }, pad: 'x'.repeat(40) });
    const head = `POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const r = await trickle(portOf(t.url), head, body, 1000);
    assert.equal(r.closedByServer, true, `sent ${r.sent} of ${body.length} bytes`);
    assert.ok(r.sent < body.length);
    assert.match(r.answer, /^HTTP\/1\.1 408 /);
  });

  it('cuts off a client trickling its headers', async () => {
    const head = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n';
    const r = await trickle(portOf(t.url), head, 'X-Slow: '.padEnd(60, 'a'), 500);
    assert.equal(r.closedByServer, true, `sent ${r.sent} header bytes`);
    assert.match(r.answer, /^HTTP\/1\.1 408 /);
  });

  it('closes connections beyond http.maxConnections and serves again once they go', async () => {
    const held = await Promise.all(Array.from({ length: 4 }, () => open(portOf(t.url))));
    const extra = await open(portOf(t.url));
    const closed = await new Promise<boolean>((resolve) => {
      extra.once('close', () => resolve(true));
      extra.once('error', () => {});
      extra.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });
    assert.equal(closed, true);
    for (const s of held) s.destroy();
    // The server counts a connection until it has seen it close.
    const server = t.cloud.app.server;
    const count = () => new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    while ((await count()) >= 4) await new Promise((r) => setImmediate(r));
    assert.equal((await call(t.url, 'GET', '/healthz')).status, 200);
  });
});

describe('the rate limiter keys on the verified principal or the source address', () => {
  let t: TestCloud;
  let token: string;
  before(async () => {
    t = await startTestCloud({
      http: { host: '127.0.0.1', port: 0, rateLimit: { max: 5, timeWindowMs: 60_000 } },
    });
    token = await adminToken(t.url); // one request of 127.0.0.1's five
  });
  after(() => t?.stop());

  it('random bearer headers from one address share that address’s bucket', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (
          await call(t.url, 'GET', '/v1/sites', {
            auth: bearer(`dsa_${randomBytes(24).toString('base64url')}`),
          })
        ).status,
      );
    assert.deepEqual(statuses, [401, 401, 401, 401, 429]);
  });

  it('a verified credential has its principal’s bucket, shared by all of that user’s tokens', async () => {
    // Another token of the same user, minted from another address (127.0.0.1's bucket is spent).
    const second = await fetchToken('127.0.0.2');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await call(t.url, 'GET', '/v1/sites', { auth: bearer(i % 2 ? second : token) })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
  });

  async function fetchToken(from: string): Promise<string> {
    const { request } = await import('node:http');
    const url = new URL(t.url);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/v1/api-tokens',
          method: 'POST',
          localAddress: from,
          headers: {
            authorization: basic(ADMIN.username, ADMIN.password),
            'content-type': 'application/json',
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
          });
          res.on('end', () =>
            res.statusCode === 201 ? resolve(JSON.parse(text).token) : reject(new Error(text)),
          );
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
  }
});
