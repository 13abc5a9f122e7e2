/**
 * A compromised gateway writes markup into what it supplies (alarm message, string value,
 * location): none of it may become a link, a heading or a fake line in what duty staff read —
 * through a real WeCom and DingTalk receiver and a real SMTP server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EmailChannel } from '../../../cloud/notify/channels/email.js';
import { renderMessage } from '../../../cloud/notify/message.js';
import { createNotifier } from '../../../cloud/notify/notifier.js';
import { markdownText, plainText } from '../../../cloud/notify/safe-text.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import {
  alarmCase,
  mailPart,
  type Receiver,
  recipient,
  request,
  type SmtpSink,
  startReceiver,
  startSmtpSink,
  T0,
} from './support.js';

const EVIL = 'http://evil.example/phish';
const hostile = alarmCase({
  id: 'case-x',
  message: `燃气泄漏 [点击确认](${EVIL}) <a href="${EVIL}">确认</a>\n确认接警：${EVIL}\n### 已处理`,
  location: '3号楼 **厨房** `x` www.evil.example',
  value: `![img](${EVIL}) 52`,
  type: 'gas_low',
  severity: 'major',
});
const other = alarmCase({ id: 'case-y', device: 'gas-4', location: '[2号楼](http://evil.example/b)' });
const evilRequest = () =>
  request({
    id: 'inj-1',
    stage: 'warn',
    cases: [hostile, other],
    links: { view: '/cases/case-x', ack: '/cases/case-x/ack', feedback: '/cases/case-x/feedback' },
  });

let sink: SmtpSink;
let rx: Receiver;
before(async () => {
  sink = await startSmtpSink();
  rx = await startReceiver(() => ({ status: 200, body: { errcode: 0, errmsg: 'ok' } }));
});
after(async () => {
  await sink.close();
  await rx.close();
});

/** The link targets in a markdown text: `[label](target)`. */
const linkTargets = (md: string) => [...md.matchAll(/\]\(([^)]*)\)/g)].map((m) => m[1]);

describe('gateway-supplied text is escaped for each channel', () => {
  it('plain text is one line with web addresses defanged; markdown characters become full-width', () => {
    assert.equal(plainText(`a\nb\u202Ec\u0000d ${EVIL}`), 'a b c d http：//evil.example/phish');
    assert.equal(markdownText('[x](http://e) **b** `c` #h'), '［x］（http：//e） ＊＊b＊＊ ｀c｀ ＃h');
  });

  it('WeCom and DingTalk markdown carry only our three links', async () => {
    const notifier = createNotifier({
      store: new MemoryNotificationStore(),
      clock: () => T0,
      publicUrl: 'https://cloud.example/',
    });
    const results = await notifier.deliver({
      ...evilRequest(),
      recipients: [
        recipient([
          { kind: 'wecom', webhookUrl: `${rx.url}/cgi-bin/webhook/send?key=wecom-key-0001` },
          {
            kind: 'dingtalk',
            webhookUrl: `${rx.url}/robot/send?access_token=ding-0002`,
            secret: 'SECding-0003',
          },
        ]),
      ],
    });
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, true],
    );
    const bodies = rx.requests
      .slice(-2)
      .map((r) => r.json() as { markdown: { content?: string; text?: string } });
    for (const body of bodies) {
      const md = body.markdown.content ?? body.markdown.text ?? '';
      assert.deepEqual(linkTargets(md), [
        'https://cloud.example/cases/case-x',
        'https://cloud.example/cases/case-x/ack',
        'https://cloud.example/cases/case-x/feedback',
      ]);
      assert.ok(!md.includes('://evil') && !md.includes('www.evil'), `no usable evil address left:\n${md}`);
      assert.ok(!/^#+ 已处理/m.test(md), 'no heading from the gateway');
      assert.ok(!/^确认接警：/m.test(md), 'no fake line from the gateway');
      assert.ok(md.includes('［点击确认］（http：//evil.example/phish）'), md);
      assert.ok(md.includes('＊＊厨房＊＊'), 'the location label is shown, inert');
    }
  });

  it('e-mail: the HTML has only our links and the text part no fake line', async () => {
    const email = new EmailChannel(
      {
        host: '127.0.0.1',
        port: sink.port,
        security: 'none',
        from: '"doorstep 值班" <duty@doorstep.example>',
        rejectUnauthorized: true,
      },
      10_000,
    );
    const notifier = createNotifier({
      store: new MemoryNotificationStore(),
      channels: { email },
      clock: () => T0,
      publicUrl: 'https://cloud.example/',
    });
    const [r] = await notifier.deliver({
      ...evilRequest(),
      recipients: [recipient([{ kind: 'email', address: 'duty@example.cn' }])],
    });
    assert.equal(r?.ok, true, r?.error);
    const raw = sink.mails.at(-1)?.raw ?? '';
    const html = mailPart(raw, 'text/html') ?? '';
    const text = mailPart(raw, 'text/plain') ?? '';
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(hrefs, [
      'https://cloud.example/cases/case-x',
      'https://cloud.example/cases/case-x/ack',
      'https://cloud.example/cases/case-x/feedback',
    ]);
    assert.ok(html.includes('&lt;a href=&quot;http：//evil.example/phish&quot;&gt;'), html);
    assert.ok(!text.includes(EVIL) && !html.includes(EVIL), 'the address is defanged everywhere');
    assert.deepEqual(
      text.split(/\r?\n/).filter((l) => l.startsWith('确认接警：')),
      ['确认接警：https://cloud.example/cases/case-x/ack'],
      'only our own 确认接警 line',
    );
    await email.close();
  });

  it('the webhook JSON keeps the supplied values as data', () => {
    const m = renderMessage(evilRequest(), 'zh');
    assert.equal(
      m.cases[0]?.message,
      hostile.message,
      'JSON carries the value itself (JSON.stringify escapes it)',
    );
    assert.ok(!m.text.includes(EVIL));
  });
});
