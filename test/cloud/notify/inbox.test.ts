/** The duty inbox: a signed webhook in, an HTML page and JSON out. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { DutyInbox, type InboxMessage } from '../../../cloud/notify/inbox.js';
import { createNotifier } from '../../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import { alarmCase, recipient, request, T0, TestTimers } from './support.js';

const SECRET = 'inbox-secret-0123456789';
const inboxes: DutyInbox[] = [];
afterEach(async () => {
  for (const i of inboxes.splice(0)) await i.stop();
});

async function startInbox(now = T0, keep = 200) {
  const inbox = new DutyInbox({ port: 0, secret: SECRET, keep, clock: () => now });
  inboxes.push(inbox);
  await inbox.start();
  return inbox;
}

function notifier(clock = T0) {
  return createNotifier({
    store: new MemoryNotificationStore(),
    clock: () => clock,
    timeoutMs: 10_000,
    timers: new TestTimers((ms) => ms !== 10_000),
  });
}

describe('duty inbox', () => {
  it('receives a signed notification, tells listeners, and serves it as JSON and HTML', async () => {
    const inbox = await startInbox();
    assert.match(inbox.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const heard: InboxMessage[] = [];
    inbox.onMessage((m) => heard.push(m));
    const n = notifier();
    const [r] = await n.deliver(
      request({ recipients: [recipient([{ kind: 'webhook', url: inbox.webhookUrl, secret: SECRET }])] }),
    );
    assert.equal(r?.ok, true);
    assert.equal(heard.length, 1);
    assert.equal(heard[0]?.payload.title, '【提醒】紧急 · 可燃气体高限报警');

    const json = (await (await fetch(`${inbox.url}/messages.json`)).json()) as { items: InboxMessage[] };
    assert.equal(json.items.length, 1);
    assert.equal(json.items[0]?.payload.id, 'req-1');

    const page = await fetch(`${inbox.url}/`);
    assert.match(page.headers.get('content-type') ?? '', /text\/html; charset=utf-8/);
    const html = await page.text();
    assert.match(html, /<meta http-equiv="refresh" content="\d+">/);
    assert.ok(html.includes('【提醒】紧急 · 可燃气体高限报警'));
    assert.ok(html.includes('位置：3号楼2单元 厨房'));
  });

  it('lists newest first, keeps the last N and does not list a resent message twice', async () => {
    const inbox = await startInbox(T0, 2);
    const n = notifier();
    for (const id of ['req-a', 'req-b', 'req-c'])
      await n.deliver(
        request({
          id,
          cases: [alarmCase({ type: id === 'req-c' ? 'smoke' : 'gas_high' })],
          recipients: [recipient([{ kind: 'webhook', url: inbox.webhookUrl, secret: SECRET }])],
        }),
      );
    // The same request again from another instance's store: the inbox answers 200 and ignores it.
    await notifier().deliver(
      request({
        id: 'req-c',
        recipients: [recipient([{ kind: 'webhook', url: inbox.webhookUrl, secret: SECRET }])],
      }),
    );
    assert.deepEqual(
      inbox.messages().map((m) => m.payload.id),
      ['req-c', 'req-b'],
    );
    const html = await (await fetch(inbox.url)).text();
    assert.ok(html.indexOf('烟感报警') < html.indexOf('可燃气体高限报警'), 'newest first on the page');
  });

  it('refuses a bad signature, a stale timestamp and a non-notification body', async () => {
    const inbox = await startInbox(T0);
    const body = JSON.stringify({ type: 'doorstep.notification' });
    const sign = (ts: number, b: string, secret = SECRET) =>
      `sha256=${createHmac('sha256', secret).update(`${ts}.${b}`).digest('hex')}`;
    const post = (ts: number, signature: string, b = body) =>
      fetch(inbox.webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-doorstep-timestamp': String(ts),
          'x-doorstep-signature': signature,
        },
        body: b,
      });
    const wrong = await post(T0, sign(T0, body, 'another-secret-000000'));
    assert.equal(wrong.status, 401);
    assert.equal(
      ((await wrong.json()) as { error: { code: string } }).error.code,
      'CLOUD_ERR_NOTIFY_SIGNATURE',
    );
    assert.equal((await post(T0 - 10 * 60_000, sign(T0 - 10 * 60_000, body))).status, 401);
    assert.equal((await post(T0, sign(T0, body))).status, 400);
    assert.equal((await post(T0, sign(T0, 'not json{'), 'not json{')).status, 400);
    assert.equal(inbox.messages().length, 0);
  });

  it('a sender with the wrong secret gets a failed delivery, not a silent one', async () => {
    const inbox = await startInbox();
    const [r] = await notifier().deliver(
      request({
        recipients: [recipient([{ kind: 'webhook', url: inbox.webhookUrl, secret: 'wrong-secret-0000' }])],
      }),
    );
    assert.equal(r?.ok, false);
    assert.equal(r?.attempts, 1);
    assert.match(r?.error ?? '', /HTTP 401/);
  });
});
