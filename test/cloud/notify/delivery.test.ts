/**
 * The notifier's delivery loop: retries with backoff, timeouts, giving up, idempotency across
 * calls and instances, every attempt stored with latency and without secrets.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createNotifier, type NotifierDeps } from '../../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import type { NotificationStore } from '../../../cloud/notify/store/port.js';
import { type Receiver, recipient, request, startReceiver, T0, TestTimers } from './support.js';

const TIMEOUT = 10_000;
const open: Receiver[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

async function receiver(reply: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(reply);
  open.push(r);
  return r;
}

function setup(overrides: Partial<NotifierDeps> = {}) {
  const store = (overrides.store ?? new MemoryNotificationStore()) as NotificationStore;
  const timers = new TestTimers((ms) => ms !== TIMEOUT);
  let tick = 0;
  const notifier = createNotifier({
    store,
    clock: () => T0 + 1_000,
    // Each reading advances 7 ms: every attempt's latency is exactly 7.
    monotonic: () => (tick += 7),
    timers,
    timeoutMs: TIMEOUT,
    retry: { attempts: 3, baseDelayMs: 1_000, factor: 2, maxDelayMs: 60_000 },
    ...overrides,
  });
  return { store, timers, notifier };
}

const WEBHOOK_SECRET = 'whsec-topsecret-42';

describe('notifier delivery', () => {
  it('retries after HTTP 500 with exponential backoff, then delivers', async () => {
    const rx = await receiver((_r, i) => (i < 2 ? { status: 500 } : { status: 200 }));
    const { notifier, store, timers } = setup();
    const [r] = await notifier.deliver(
      request({ recipients: [recipient([{ kind: 'webhook', url: `${rx.url}/h`, secret: WEBHOOK_SECRET }])] }),
    );
    assert.deepEqual([r?.ok, r?.attempts], [true, 3]);
    assert.equal(rx.requests.length, 3);
    assert.deepEqual(
      timers.delays.filter((d) => d !== TIMEOUT),
      [1_000, 2_000],
    );
    const attempts = await store.attemptsByRequest('req-1');
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.status, a.httpStatus, a.latencyMs]),
      [
        [1, 'failed', 500, 7],
        [2, 'failed', 500, 7],
        [3, 'ok', 200, 7],
      ],
    );
    assert.equal((await store.deliveriesByRequest('req-1'))[0]?.state, 'delivered');
  });

  it('retries after a timeout, then delivers', async () => {
    const rx = await receiver((_r, i) => (i === 0 ? 'hang' : { status: 200 }));
    const { notifier, store, timers } = setup();
    const done = notifier.deliver(
      request({ recipients: [recipient([{ kind: 'webhook', url: `${rx.url}/h`, secret: WEBHOOK_SECRET }])] }),
    );
    await rx.waitFor(1);
    assert.equal(timers.fire(TIMEOUT), 1, 'the first attempt timer was pending');
    const [r] = await done;
    assert.deepEqual([r?.ok, r?.attempts], [true, 2]);
    const attempts = await store.attemptsByRequest('req-1');
    assert.deepEqual(
      attempts.map((a) => a.status),
      ['timeout', 'ok'],
    );
    assert.match(attempts[0]?.error ?? '', /timed out after 10000 ms/);
  });

  it('gives up after the configured attempts with a failed result', async () => {
    const rx = await receiver(() => ({ status: 503 }));
    const { notifier, store } = setup();
    const [r] = await notifier.deliver(
      request({ recipients: [recipient([{ kind: 'webhook', url: `${rx.url}/h`, secret: WEBHOOK_SECRET }])] }),
    );
    assert.equal(r?.ok, false);
    assert.equal(r?.attempts, 3);
    assert.match(r?.error ?? '', /HTTP 503/);
    assert.equal(rx.requests.length, 3);
    const [d] = await store.deliveriesByRequest('req-1');
    assert.deepEqual([d?.state, d?.attempts], ['failed', 3]);
  });

  it('delivers the same request once, however often it is asked', async () => {
    const rx = await receiver(() => ({ status: 200 }));
    const { notifier, store } = setup();
    const req = request({
      recipients: [recipient([{ kind: 'webhook', url: `${rx.url}/h`, secret: WEBHOOK_SECRET }])],
    });
    const [first] = await notifier.deliver(req);
    const [second] = await notifier.deliver(req);
    assert.deepEqual([first?.ok, first?.attempts, first?.skipped], [true, 1, undefined]);
    assert.deepEqual([second?.ok, second?.attempts, second?.skipped], [true, 0, 'delivered']);
    assert.equal(rx.requests.length, 1);
    // A second instance on the same store does not send it either.
    const other = setup({ store });
    const [third] = await other.notifier.deliver(req);
    assert.equal(third?.skipped, 'delivered');
    assert.equal(rx.requests.length, 1);
    assert.equal((await store.attemptsByRequest('req-1')).length, 1);
  });

  it('leaves a delivery another instance is sending to that instance', async () => {
    const rx = await receiver((_r, i) => (i === 0 ? 'hang' : { status: 200 }));
    const a = setup();
    const b = setup({ store: a.store });
    const req = request({
      recipients: [recipient([{ kind: 'webhook', url: `${rx.url}/h`, secret: WEBHOOK_SECRET }])],
    });
    const first = a.notifier.deliver(req);
    await rx.waitFor(1);
    const [parallel] = await b.notifier.deliver(req);
    assert.deepEqual([parallel?.ok, parallel?.skipped, parallel?.attempts], [false, 'in_progress', 0]);
    a.timers.fire(TIMEOUT);
    const [r] = await first;
    assert.deepEqual([r?.ok, r?.attempts], [true, 2]);
    assert.equal(rx.requests.length, 2, 'the hung attempt and its retry, nothing from b');
  });

  it('sends again after a failed delivery, numbering attempts on', async () => {
    let up = false;
    const rx = await receiver(() => (up ? { status: 200 } : { status: 500 }));
    const { notifier, store } = setup({ retry: { attempts: 2, baseDelayMs: 1_000 } });
    const req = request({
      recipients: [recipient([{ kind: 'webhook', url: `${rx.url}/h`, secret: WEBHOOK_SECRET }])],
    });
    assert.equal((await notifier.deliver(req))[0]?.ok, false);
    up = true;
    const [r] = await notifier.deliver(req);
    assert.deepEqual([r?.ok, r?.attempts], [true, 1]);
    assert.deepEqual(
      (await store.attemptsByRequest('req-1')).map((a) => [a.attempt, a.status]),
      [
        [1, 'failed'],
        [2, 'failed'],
        [3, 'ok'],
      ],
    );
  });

  it('stores targets and errors without secrets', async () => {
    const rx = await receiver((r) =>
      r.url.startsWith('/robot')
        ? { status: 200, body: { errcode: 310000, errmsg: 'keywords not in content' } }
        : { status: 200, body: { errcode: 93000, errmsg: 'invalid webhook url, key=wecom-key-SECRET-9999' } },
    );
    const { notifier, store } = setup();
    const wecomKey = 'wecom-key-SECRET-9999';
    const dingToken = 'ding-token-SECRET-8888';
    const dingSecret = 'SECding-hmac-SECRET-7777';
    const results = await notifier.deliver(
      request({
        recipients: [
          recipient([
            { kind: 'wecom', webhookUrl: `${rx.url}/cgi-bin/webhook/send?key=${wecomKey}` },
            {
              kind: 'dingtalk',
              webhookUrl: `${rx.url}/robot/send?access_token=${dingToken}`,
              secret: dingSecret,
            },
            {
              kind: 'webhook',
              url: rx.url.replace('http://', 'http://user:pw-SECRET@') + '/x',
              secret: WEBHOOK_SECRET,
            },
          ]),
        ],
      }),
    );
    assert.equal(results.length, 3);
    const stored = JSON.stringify([
      await store.attemptsByRequest('req-1'),
      await store.deliveriesByRequest('req-1'),
      results,
    ]);
    for (const secret of [wecomKey, dingToken, dingSecret, WEBHOOK_SECRET, 'pw-SECRET'])
      assert.ok(!stored.includes(secret), `${secret} leaked: ${stored}`);
    const targets = (await store.deliveriesByRequest('req-1')).map((d) => d.target).sort();
    assert.ok(targets.includes(`${rx.url}/cgi-bin/webhook/send?key=***9999`), targets.join());
    assert.ok(targets.includes(`${rx.url}/robot/send?access_token=***8888`), targets.join());
    assert.ok(stored.includes('[redacted]'), 'the errmsg echoing the key was scrubbed');
  });

  it('stores one failed attempt for an address nothing can send to', async () => {
    const { notifier, store } = setup();
    const results = await notifier.deliver(
      request({
        recipients: [
          recipient([
            { kind: 'email', address: 'duty@example.cn' },
            { kind: 'wecom', webhookUrl: 'ftp://example.cn/x' },
          ]),
        ],
      }),
    );
    assert.deepEqual(
      results.map((r) => [r.channel, r.ok, r.attempts]),
      [
        ['email', false, 1],
        ['wecom', false, 1],
      ],
    );
    assert.match(results[0]?.error ?? '', /no email channel is configured/);
    assert.match(results[1]?.error ?? '', /unsupported scheme ftp:/);
    assert.equal((await store.attemptsByRequest('req-1')).length, 2);
  });

  it('still sends when the store is down (a duplicate is better than silence)', async () => {
    const rx = await receiver(() => ({ status: 200 }));
    const broken = new MemoryNotificationStore();
    broken.claim = async () => {
      throw new Error('database is locked');
    };
    broken.recordAttempt = async () => {
      throw new Error('database is locked');
    };
    const { notifier } = setup({ store: broken });
    const [r] = await notifier.deliver(
      request({ recipients: [recipient([{ kind: 'webhook', url: `${rx.url}/h`, secret: WEBHOOK_SECRET }])] }),
    );
    assert.equal(r?.ok, true);
    assert.equal(rx.requests.length, 1);
  });

  it('writes each recipient in their language and finds attempts by case', async () => {
    const rx = await receiver(() => ({ status: 200 }));
    const { notifier, store } = setup({ language: 'zh' });
    await notifier.deliver(
      request({
        recipients: [
          recipient([{ kind: 'webhook', url: `${rx.url}/zh`, secret: WEBHOOK_SECRET }]),
          recipient([{ kind: 'webhook', url: `${rx.url}/en`, secret: WEBHOOK_SECRET }], {
            id: 'u-smith',
            name: 'Smith',
            lang: 'en',
          }),
        ],
      }),
    );
    const byPath = new Map(rx.requests.map((r) => [r.url, r.json() as { title: string; language: string }]));
    assert.equal(byPath.get('/zh')?.title, '【提醒】紧急 · 可燃气体高限报警');
    assert.equal(byPath.get('/en')?.title, '[Reminder] Critical · Combustible gas high-level alarm');
    assert.equal(byPath.get('/en')?.language, 'en');
    const byCase = await store.attemptsByCase('case-1');
    assert.deepEqual(byCase.map((a) => a.recipient).sort(), ['u-smith', 'u-wang']);
    assert.deepEqual(await store.attemptsByCase('case-unknown'), []);
  });
});
