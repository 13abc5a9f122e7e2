/**
 * One dead endpoint delays nobody else: a webhook that accepts the connection and never answers
 * (black-holed) fills only its own lane, and once it has failed `failuresToOpen` times in a row its
 * circuit opens — further attempts fail at once, so the escalation's fallback takes over.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { createNotifier } from '../../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import { type Receiver, recipient, request, startReceiver } from './support.js';

const SECRET = 'lanes-test-secret-0123';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** Accepts TCP connections, reads the requests and never says a word. */
async function blackHole(): Promise<{ url: string; connections: () => number; requests: () => number }> {
  const sockets: Socket[] = [];
  let requests = 0;
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      requests += chunk.toString('latin1').split('POST /hook').length - 1;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${port}/hook`,
    connections: () => sockets.length,
    requests: () => requests,
  };
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver(() => ({ status: 200 }));
  closers.push(() => r.close());
  return r;
}

describe('notifier lanes: per-endpoint queue, timeout and circuit breaker', () => {
  it('a black-holed endpoint (30 s timeout) does not delay another endpoint', {
    timeout: 60_000,
  }, async () => {
    const hole = await blackHole();
    const good = await receiver();
    const notifier = createNotifier({
      store: new MemoryNotificationStore(),
      timeoutMs: 2_000,
      perChannel: { webhook: { timeoutMs: 30_000 } },
      retry: { attempts: 1 },
    });
    const stuck = notifier.deliver(
      request({
        id: 'hole-1',
        stage: 'warn',
        recipients: [recipient([{ kind: 'webhook', url: hole.url, secret: SECRET }], { id: 'a' })],
      }),
    );
    let stuckDone = false;
    stuck.then(() => {
      stuckDone = true;
    });
    // A burst behind it to the same black hole fills its lane (concurrency 4) …
    for (let i = 0; i < 6; i++)
      void notifier.deliver(
        request({
          id: `hole-more-${i}`,
          recipients: [recipient([{ kind: 'webhook', url: hole.url, secret: SECRET }], { id: 'a' })],
        }),
      );
    await new Promise((r) => setTimeout(r, 200));
    // … and the other endpoint's first notices still leave at once, one after another.
    const took: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const [r] = await notifier.deliver(
        request({
          id: `good-${i}`,
          stage: 'warn',
          recipients: [recipient([{ kind: 'webhook', url: `${good.url}/ok`, secret: SECRET }], { id: 'b' })],
        }),
      );
      assert.equal(r?.ok, true);
      took.push(performance.now() - t0);
    }
    assert.ok(Math.max(...took) < 5_000, `each delivery took ${took.map((t) => t.toFixed(0)).join(', ')} ms`);
    assert.equal(good.requests.length, 5);
    assert.equal(stuckDone, false, 'the black-holed delivery is still waiting for its 30 s timeout');
    assert.ok(hole.requests() <= 4, `at most the lane's concurrency in flight (${hole.requests()})`);
  });

  it('after 3 failed attempts in a row the circuit opens: attempts fail at once, then one trial', async () => {
    const hole = await blackHole();
    let now = 1_000_000;
    const store = new MemoryNotificationStore();
    const notifier = createNotifier({
      store,
      clock: () => now,
      timeoutMs: 300,
      retry: { attempts: 3, baseDelayMs: 10, factor: 1, maxDelayMs: 10 },
      endpoints: { failuresToOpen: 3, openMs: 30_000 },
    });
    const to = recipient([{ kind: 'webhook', url: hole.url, secret: SECRET }]);
    const [first] = await notifier.deliver(request({ id: 'c-1', recipients: [to] }));
    assert.deepEqual([first?.ok, first?.attempts], [false, 3]);
    assert.equal(hole.requests(), 3);
    const t0 = performance.now();
    const [second] = await notifier.deliver(request({ id: 'c-2', recipients: [to] }));
    const took = performance.now() - t0;
    assert.equal(second?.ok, false);
    assert.equal(second?.attempts, 1, 'refused once, not retried');
    assert.match(second?.error ?? '', /circuit open: 3 failed attempts in a row/);
    assert.ok(took < 250, `refused without waiting for a timeout (${took.toFixed(0)} ms)`);
    assert.equal(hole.requests(), 3, 'nothing sent while open');
    const [stored] = await store.attemptsByRequest('c-2');
    assert.deepEqual([stored?.status, stored?.latencyMs], ['failed', 0]);
    // After openMs one trial goes through (half-open); it fails, the circuit opens again.
    now += 30_000;
    const [third] = await notifier.deliver(request({ id: 'c-3', recipients: [to] }));
    // the trial timed out; its retry found the circuit open again
    assert.deepEqual([third?.ok, third?.attempts], [false, 2]);
    assert.match(third?.error ?? '', /circuit open/);
    assert.equal(hole.requests(), 4, 'exactly one trial request');
    const [fourth] = await notifier.deliver(request({ id: 'c-4', recipients: [to] }));
    assert.match(fourth?.error ?? '', /circuit open/);
    assert.equal(hole.requests(), 4);
  });

  it('reports each recipient as soon as its own addresses are done', { timeout: 60_000 }, async () => {
    const hole = await blackHole();
    const good = await receiver();
    const notifier = createNotifier({
      store: new MemoryNotificationStore(),
      timeoutMs: 30_000,
      retry: { attempts: 1 },
    });
    const reported: string[] = [];
    const all = notifier.deliver(
      request({
        id: 'each-1',
        stage: 'warn',
        recipients: [
          recipient([{ kind: 'webhook', url: hole.url, secret: SECRET }], { id: 'slow' }),
          recipient([{ kind: 'webhook', url: `${good.url}/ok`, secret: SECRET }], { id: 'fast' }),
        ],
      }),
      { onRecipient: (id, results) => reported.push(`${id}:${results.every((r) => r.ok)}`) },
    );
    const deadline = Date.now() + 5_000;
    while (reported.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(reported, ['fast:true'], 'the fast recipient was reported while the slow one hangs');
    void all.catch(() => {});
  });
});
