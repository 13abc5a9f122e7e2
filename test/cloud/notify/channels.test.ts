/**
 * Each channel's exact wire format against HTTP receivers on 127.0.0.1:0, with the signatures
 * recomputed here from the vendors' documented recipes (not with the code under test).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { createNotifier } from '../../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import { alarmCase, type Receiver, recipient, request, startReceiver, T0, TestTimers } from './support.js';

const open: Receiver[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

async function receiver(reply: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(reply);
  open.push(r);
  return r;
}

function notifier(store = new MemoryNotificationStore()) {
  return {
    store,
    notifier: createNotifier({
      store,
      clock: () => T0 + 5_000,
      // Backoff fires at once; the 10 s attempt timeout never does here.
      timeoutMs: 10_000,
      timers: new TestTimers((ms) => ms !== 10_000),
      retry: { attempts: 3, baseDelayMs: 1_000 },
      publicUrl: 'https://cloud.example/',
    }),
  };
}

describe('generic webhook', () => {
  it('POSTs the notification JSON signed with HMAC-SHA256 over timestamp.body', async () => {
    const rx = await receiver(() => ({ status: 204 }));
    const secret = 'whsec-0123456789abcdef';
    const { notifier: n } = notifier();
    const results = await n.deliver(
      request({
        recipients: [recipient([{ kind: 'webhook', url: `${rx.url}/hook?token=abc12345xyz`, secret }])],
      }),
    );
    assert.deepEqual(
      results.map((r) => [r.ok, r.attempts, r.channel]),
      [[true, 1, 'webhook']],
    );
    const [got] = rx.requests;
    assert.ok(got);
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/hook?token=abc12345xyz');
    assert.match(String(got.headers['content-type']), /^application\/json/);
    const ts = String(got.headers['x-doorstep-timestamp']);
    assert.equal(ts, String(T0 + 5_000));
    const expected = createHmac('sha256', secret)
      .update(`${ts}.${got.body.toString('utf8')}`)
      .digest('hex');
    assert.equal(got.headers['x-doorstep-signature'], `sha256=${expected}`);
    const body = got.json() as Record<string, unknown> & { cases: Record<string, unknown>[] };
    assert.equal(body.type, 'doorstep.notification');
    assert.equal(body.id, 'req-1');
    assert.equal(body.stage, 'remind');
    assert.equal(body.stageLabel, '提醒');
    assert.equal(body.language, 'zh');
    assert.equal(body.reason, '未在3分钟内确认');
    assert.deepEqual(body.links, {
      view: 'https://cloud.example/cases/case-1',
      ack: 'https://cloud.example/cases/case-1/ack',
      feedback: 'https://cloud.example/cases/case-1/feedback',
    });
    assert.deepEqual(
      [body.cases[0]?.sitePath, body.cases[0]?.location, body.cases[0]?.device, body.cases[0]?.value],
      ['pudong/zhangjiang/lane-100', '3号楼2单元 厨房', 'gas-3', 52.5],
    );
    assert.equal(body.cases[0]?.unit, '%LEL');
    assert.equal(body.cases[0]?.typeLabel, '可燃气体高限报警');
  });

  it('does not retry a 4xx (a configuration error) and reports it', async () => {
    const rx = await receiver(() => ({ status: 404 }));
    const { notifier: n, store } = notifier();
    const [r] = await n.deliver(
      request({
        recipients: [recipient([{ kind: 'webhook', url: `${rx.url}/x`, secret: 's3cret-s3cret' }])],
      }),
    );
    assert.equal(r?.ok, false);
    assert.equal(r?.attempts, 1);
    assert.match(r?.error ?? '', /HTTP 404/);
    assert.equal(rx.requests.length, 1);
    const [a] = await store.attemptsByRequest('req-1');
    assert.equal(a?.httpStatus, 404);
  });
});

describe('WeCom group robot', () => {
  it('POSTs markdown content ≤ 4096 bytes and needs errcode 0', async () => {
    const rx = await receiver(() => ({ status: 200, body: { errcode: 0, errmsg: 'ok' } }));
    const { notifier: n } = notifier();
    const url = `${rx.url}/cgi-bin/webhook/send?key=693axxx6-7aoc-4bc4-97a0-0ec2sifa5aaa`;
    const [r] = await n.deliver(request({ recipients: [recipient([{ kind: 'wecom', webhookUrl: url }])] }));
    assert.equal(r?.ok, true);
    const got = rx.requests[0]!;
    assert.equal(got.url, '/cgi-bin/webhook/send?key=693axxx6-7aoc-4bc4-97a0-0ec2sifa5aaa');
    const body = got.json() as { msgtype: string; markdown: { content: string } };
    assert.deepEqual(Object.keys(body).sort(), ['markdown', 'msgtype']);
    assert.equal(body.msgtype, 'markdown');
    assert.ok(Buffer.byteLength(body.markdown.content) <= 4096);
    assert.ok(body.markdown.content.startsWith('### 【提醒】紧急 · 可燃气体高限报警'));
    assert.ok(body.markdown.content.includes('[确认接警](https://cloud.example/cases/case-1/ack)'));
    assert.ok(body.markdown.content.includes('**数值**：52.5 %LEL'));
  });

  it('treats HTTP 200 with errcode 45009 as a failure, retries, then succeeds', async () => {
    const rx = await receiver((_r, i) =>
      i === 0
        ? { status: 200, body: { errcode: 45009, errmsg: 'api freq out of limit' } }
        : { status: 200, body: { errcode: 0, errmsg: 'ok' } },
    );
    const { notifier: n, store } = notifier();
    const [r] = await n.deliver(
      request({
        recipients: [recipient([{ kind: 'wecom', webhookUrl: `${rx.url}/send?key=k-1234567890` }])],
      }),
    );
    assert.equal(r?.ok, true);
    assert.equal(r?.attempts, 2);
    const attempts = await store.attemptsByRequest('req-1');
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.status, a.httpStatus, a.errcode]),
      [
        [1, 'failed', 200, 45009],
        [2, 'ok', 200, 0],
      ],
    );
    assert.match(attempts[0]?.error ?? '', /errcode 45009: api freq out of limit/);
  });

  it('gives up at once on a permanent errcode (93000 invalid webhook url)', async () => {
    const rx = await receiver(() => ({
      status: 200,
      body: { errcode: 93000, errmsg: 'invalid webhook url' },
    }));
    const { notifier: n } = notifier();
    const [r] = await n.deliver(
      request({ recipients: [recipient([{ kind: 'wecom', webhookUrl: `${rx.url}/send?key=bad-key-000` }])] }),
    );
    assert.equal(r?.ok, false);
    assert.equal(r?.attempts, 1);
    assert.match(r?.error ?? '', /93000/);
  });
});

describe('DingTalk robot (signed)', () => {
  it('adds timestamp and sign = urlEncode(base64(HMAC-SHA256(secret, ts\\nsecret))) and posts markdown', async () => {
    const rx = await receiver(() => ({ status: 200, body: { errcode: 0, errmsg: 'ok' } }));
    const secret = 'SEC1234567890abcdef';
    const { notifier: n } = notifier();
    const [r] = await n.deliver(
      request({
        recipients: [
          recipient(
            [{ kind: 'dingtalk', webhookUrl: `${rx.url}/robot/send?access_token=tok-abcdef123456`, secret }],
            {
              lang: 'en',
            },
          ),
        ],
      }),
    );
    assert.equal(r?.ok, true);
    const got = rx.requests[0]!;
    const url = new URL(got.url, rx.url);
    assert.equal(url.pathname, '/robot/send');
    assert.equal(url.searchParams.get('access_token'), 'tok-abcdef123456');
    const ts = T0 + 5_000;
    assert.equal(url.searchParams.get('timestamp'), String(ts));
    const sign = createHmac('sha256', secret).update(`${ts}\n${secret}`).digest('base64');
    assert.equal(url.searchParams.get('sign'), sign);
    // urlEncode: the raw query must carry the base64 with +, / and = percent-encoded.
    const rawSign = /[?&]sign=([^&]*)/.exec(got.url)?.[1] ?? '';
    assert.doesNotMatch(rawSign, /[+/=]/);
    assert.equal(decodeURIComponent(rawSign), sign);
    const body = got.json() as { msgtype: string; markdown: { title: string; text: string } };
    assert.equal(body.msgtype, 'markdown');
    assert.equal(body.markdown.title, '[Reminder] Critical · Combustible gas high-level alarm');
    assert.ok(body.markdown.text.includes('[Acknowledge](https://cloud.example/cases/case-1/ack)'));
  });

  it('fails on errcode 310000 (sign not match) without retrying', async () => {
    const rx = await receiver(() => ({ status: 200, body: { errcode: 310000, errmsg: 'sign not match' } }));
    const { notifier: n } = notifier();
    const [r] = await n.deliver(
      request({
        recipients: [
          recipient([
            {
              kind: 'dingtalk',
              webhookUrl: `${rx.url}/robot/send?access_token=t-123456789`,
              secret: 'wrong-secret',
            },
          ]),
        ],
      }),
    );
    assert.equal(r?.ok, false);
    assert.equal(r?.attempts, 1);
    assert.match(r?.error ?? '', /errcode 310000/);
  });
});

describe('@mentions of the person on duty', () => {
  it('WeCom: a recipient with a phone gets a text message with mentioned_mobile_list (markdown cannot @ by mobile)', async () => {
    const rx = await receiver(() => ({ status: 200, body: { errcode: 0, errmsg: 'ok' } }));
    const { notifier: n } = notifier();
    const url = `${rx.url}/cgi-bin/webhook/send?key=693axxx6-7aoc-4bc4-97a0-0ec2sifa5aaa`;
    const [r] = await n.deliver(
      request({ recipients: [recipient([{ kind: 'wecom', webhookUrl: url }], { phone: '+8613800138000' })] }),
    );
    assert.equal(r?.ok, true);
    const body = rx.requests[0]!.json() as {
      msgtype: string;
      text: { content: string; mentioned_mobile_list: string[] };
    };
    assert.equal(body.msgtype, 'text');
    // WeCom lists mainland mobiles as 11 digits; content is at most 2048 bytes of UTF-8.
    assert.deepEqual(body.text.mentioned_mobile_list, ['13800138000']);
    assert.ok(Buffer.byteLength(body.text.content) <= 2048);
    assert.ok(body.text.content.startsWith('【提醒】紧急 · 可燃气体高限报警'));
    assert.ok(body.text.content.includes('确认接警：https://cloud.example/cases/case-1/ack'));
  });

  it('WeCom: a long grouped message is shortened to 2048 bytes and keeps the acknowledge link', async () => {
    const rx = await receiver(() => ({ status: 200, body: { errcode: 0, errmsg: 'ok' } }));
    const { notifier: n } = notifier();
    const cases = Array.from({ length: 60 }, (_, i) =>
      alarmCase({ id: `case-${i}`, location: `${i}号楼 一个很长很长的位置说明文字`, device: `gas-${i}` }),
    );
    const [r] = await n.deliver(
      request({
        cases,
        recipients: [
          recipient([{ kind: 'wecom', webhookUrl: `${rx.url}/send?key=k-1234567890` }], {
            phone: '+8613900139000',
          }),
        ],
      }),
    );
    assert.equal(r?.ok, true);
    const body = rx.requests[0]!.json() as { text: { content: string; mentioned_mobile_list: string[] } };
    assert.ok(Buffer.byteLength(body.text.content) <= 2048, `${Buffer.byteLength(body.text.content)} bytes`);
    assert.ok(body.text.content.includes('等 60 条'));
    assert.ok(body.text.content.endsWith('确认接警：https://cloud.example/cases/case-1/ack'));
    assert.deepEqual(body.text.mentioned_mobile_list, ['13900139000']);
  });

  it('DingTalk: at.atMobiles names the number and the markdown text carries @<number>', async () => {
    const rx = await receiver((got) => {
      // DingTalk shows the @ only when the number also appears in the text.
      const b = JSON.parse(got.body.toString('utf8')) as {
        markdown: { text: string };
        at?: { atMobiles: string[] };
      };
      const ok = (b.at?.atMobiles ?? []).every((m) => b.markdown.text.includes(`@${m}`));
      return {
        status: 200,
        body: ok ? { errcode: 0, errmsg: 'ok' } : { errcode: 400, errmsg: 'at not in text' },
      };
    });
    const { notifier: n } = notifier();
    const [r] = await n.deliver(
      request({
        recipients: [
          recipient(
            [
              {
                kind: 'dingtalk',
                webhookUrl: `${rx.url}/robot/send?access_token=tok-abcdef123456`,
                secret: 'SEC12345678',
              },
            ],
            { phone: '+8613800138000' },
          ),
        ],
      }),
    );
    assert.equal(r?.ok, true);
    const body = rx.requests[0]!.json() as {
      msgtype: string;
      markdown: { text: string };
      at: { atMobiles: string[]; isAtAll: boolean };
    };
    assert.equal(body.msgtype, 'markdown');
    assert.deepEqual(body.at, { atMobiles: ['13800138000'], isAtAll: false });
    assert.ok(body.markdown.text.endsWith('@13800138000'));
    assert.ok(Buffer.byteLength(body.markdown.text) <= 5000);
  });

  it('no phone: WeCom stays markdown and DingTalk carries no at object', async () => {
    const rx = await receiver(() => ({ status: 200, body: { errcode: 0, errmsg: 'ok' } }));
    const { notifier: n } = notifier();
    await n.deliver(
      request({
        recipients: [
          recipient([
            { kind: 'wecom', webhookUrl: `${rx.url}/send?key=k-1234567890` },
            {
              kind: 'dingtalk',
              webhookUrl: `${rx.url}/robot/send?access_token=tok-abcdef123456`,
              secret: 'SEC12345678',
            },
          ]),
        ],
      }),
    );
    const bodies = rx.requests.map((q) => q.json() as Record<string, unknown>);
    assert.deepEqual(bodies.map((b) => b.msgtype).sort(), ['markdown', 'markdown']);
    assert.ok(bodies.every((b) => !('at' in b)));
  });
});
