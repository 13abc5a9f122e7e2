/** E-mail through a real SMTP server (smtp-server) on 127.0.0.1:0. */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { EmailChannel } from '../../../cloud/notify/channels/email.js';
import { createNotifier } from '../../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import {
  mailHeader,
  mailPart,
  recipient,
  request,
  type SmtpSink,
  startSmtpSink,
  T0,
  TestTimers,
} from './support.js';

let sink: SmtpSink;
before(async () => {
  sink = await startSmtpSink();
});
after(async () => {
  await sink.close();
});

describe('e-mail channel', () => {
  it('sends a UTF-8 Chinese message with subject, sender, recipient and links', async () => {
    const email = new EmailChannel(
      {
        host: '127.0.0.1',
        port: sink.port,
        security: 'none',
        auth: { user: 'doorstep', pass: 'smtp-pass-SECRET' },
        from: '"doorstep 值班" <duty@doorstep.example>',
        rejectUnauthorized: true,
      },
      10_000,
    );
    const store = new MemoryNotificationStore();
    const notifier = createNotifier({
      store,
      channels: { email },
      clock: () => T0,
      timeoutMs: 10_000,
      timers: new TestTimers((ms) => ms !== 10_000),
      publicUrl: 'https://cloud.example/',
    });
    try {
      const results = await notifier.deliver(
        request({ recipients: [recipient([{ kind: 'email', address: 'wang@jiedao.example' }])] }),
      );
      assert.deepEqual(
        results.map((r) => [r.channel, r.ok, r.attempts, r.target]),
        [['email', true, 1, 'mailto:wang@jiedao.example']],
      );
    } finally {
      await notifier.close();
    }
    assert.equal(sink.mails.length, 1);
    const mail = sink.mails[0]!;
    assert.deepEqual(sink.auths, [{ user: 'doorstep', pass: 'smtp-pass-SECRET' }]);
    assert.equal(mail.from, 'duty@doorstep.example');
    assert.deepEqual(mail.to, ['wang@jiedao.example']);
    assert.equal(mailHeader(mail.raw, 'Subject'), '【提醒】紧急 · 可燃气体高限报警 · lane-100');
    assert.match(mailHeader(mail.raw, 'From') ?? '', /doorstep 值班.*<duty@doorstep\.example>/);
    assert.equal(mailHeader(mail.raw, 'X-Doorstep-Request'), 'req-1');
    assert.match(mail.raw, /charset=utf-8/i);
    const text = mailPart(mail.raw, 'text/plain') ?? '';
    assert.ok(text.includes('位置：3号楼2单元 厨房'), text);
    assert.ok(text.includes('数值：52.5 %LEL'), text);
    assert.ok(text.includes('时间：2024-05-02 03:12:09（北京时间）'), text);
    assert.ok(text.includes('确认接警：https://cloud.example/cases/case-1/ack'), text);
    const html = mailPart(mail.raw, 'text/html') ?? '';
    assert.ok(html.includes('href="https://cloud.example/cases/case-1/feedback"'), html);
  });

  it('reports a dropped connection as a failed, retried delivery', async () => {
    // A server on 127.0.0.1:0 that hangs up on every connection before the SMTP greeting.
    const rude = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
    after(() => new Promise<void>((resolve) => rude.close(() => resolve())));
    const { port } = rude.address() as AddressInfo;
    const email = new EmailChannel(
      { host: '127.0.0.1', port, security: 'none', from: 'duty@doorstep.example', rejectUnauthorized: true },
      10_000,
    );
    const store = new MemoryNotificationStore();
    const notifier = createNotifier({
      store,
      channels: { email },
      timeoutMs: 10_000,
      retry: { attempts: 2, baseDelayMs: 5 },
      timers: new TestTimers((ms) => ms !== 10_000),
    });
    const [r] = await notifier.deliver(
      request({ recipients: [recipient([{ kind: 'email', address: 'wang@jiedao.example' }])] }),
    );
    await notifier.close();
    assert.equal(r?.ok, false);
    assert.equal(r?.attempts, 2);
    assert.match(r?.error ?? '', /connection closed|ECONNRESET|greeting/i);
  });
});
