/**
 * Action links without a browser: the token format (as cloud/phone/token.ts documents it), one
 * link per case of a grouped message bound to its recipient (rendered and delivered through real
 * webhook receivers), hostile gateway text on the phone page, and photo types by their bytes.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseCloudConfig } from '../../cloud/config/load.js';
import { renderMessage, type WebhookPayload } from '../../cloud/notify/message.js';
import { createNotifier } from '../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../cloud/notify/store/index.js';
import { casePage, messagePage } from '../../cloud/phone/page.js';
import { sniffImage } from '../../cloud/phone/photo.js';
import { LinkSigner, phonePath } from '../../cloud/phone/token.js';
import { startTestCloud } from '../cloud/http/harness.js';
import { alarmCase, recipient, request, startReceiver, T0 } from '../cloud/notify/support.js';

const SECRET = 'unit-test-link-secret-0123456789abcdef';

/** A token made by hand from the documented format, with any claims. */
function handMade(claims: Record<string, unknown>, secret = SECRET): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const mac = createHmac('sha256', secret).update(`doorstep-link\n${payload}`).digest('base64url');
  return `${payload}.${mac}`;
}

describe('link tokens', () => {
  const now = T0;
  const signer = new LinkSigner(SECRET, 24 * 3_600_000, () => now);

  it('verify what they sign: recipient, case, expiry and purpose', () => {
    const token = signer.sign('duty-wang', 'case-1');
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/, 'base64url payload and HMAC-SHA256');
    assert.deepEqual(signer.verify(token), {
      ok: true,
      claims: { purpose: 'case', recipient: 'duty-wang', caseId: 'case-1', expiresAt: now + 24 * 3_600_000 },
    });
    // The documented format, computed independently.
    assert.equal(token, handMade({ v: 1, p: 'case', r: 'duty-wang', c: 'case-1', e: now + 24 * 3_600_000 }));
  });

  it('refuse a changed recipient, case or expiry, another secret, and a changed signature', () => {
    const token = signer.sign('duty-wang', 'case-1');
    const [, mac] = token.split('.');
    for (const claims of [
      { v: 1, p: 'case', r: 'duty-li', c: 'case-1', e: now + 24 * 3_600_000 },
      { v: 1, p: 'case', r: 'duty-wang', c: 'case-2', e: now + 24 * 3_600_000 },
      { v: 1, p: 'case', r: 'duty-wang', c: 'case-1', e: now + 48 * 3_600_000 },
    ]) {
      const forged = `${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}`;
      assert.deepEqual(signer.verify(forged), { ok: false, why: 'signature' }, JSON.stringify(claims));
    }
    assert.equal(new LinkSigner('another-secret-of-at-least-32-characters', 1).verify(token).ok, false);
    const flipped = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    assert.deepEqual(signer.verify(flipped), { ok: false, why: 'signature' });
  });

  it('refuse expired, malformed and other-purpose tokens, naming which', () => {
    const expired = signer.sign('duty-wang', 'case-1', now);
    const check = signer.verify(expired);
    assert.equal(check.ok, false);
    assert.equal(!check.ok && check.why, 'expired');
    assert.equal(!check.ok && check.claims?.caseId, 'case-1');
    for (const bad of ['', 'abc', 'a.b.c', '.x', `${'a'.repeat(2000)}.b`])
      assert.equal(signer.verify(bad).ok, false, bad);
    assert.deepEqual(signer.verify(handMade({ v: 1, p: 'admin', r: 'x', c: 'case-1', e: now + 1 })), {
      ok: false,
      why: 'purpose',
      claims: { purpose: 'admin', recipient: 'x', caseId: 'case-1', expiresAt: now + 1 },
    });
    assert.deepEqual(signer.verify(handMade({ v: 2, p: 'case', r: 'x', c: 'case-1', e: now + 1 })), {
      ok: false,
      why: 'malformed',
    });
    assert.deepEqual(signer.verify(handMade({ v: 1, p: 'case', r: 'x', c: 'case-1', e: 'never' })), {
      ok: false,
      why: 'malformed',
    });
  });

  it('a configured secret is shared across instances; without one each start draws its own', () => {
    const a = new LinkSigner(SECRET, 1000, () => now);
    const b = new LinkSigner(SECRET, 1000, () => now);
    assert.equal(b.verify(a.sign('p', 'c')).ok, true);
    assert.equal(a.ephemeral, false);
    const x = new LinkSigner(undefined, 1000, () => now);
    const y = new LinkSigner(undefined, 1000, () => now);
    assert.equal(x.ephemeral, true);
    assert.equal(y.verify(x.sign('p', 'c')).ok, false);
  });
});

describe('links in messages', () => {
  const signer = new LinkSigner(SECRET, 3_600_000, () => T0);
  const two = request({
    cases: [
      alarmCase(),
      alarmCase({ id: 'case-2', device: 'smoke-7', type: 'smoke', location: '5号楼 楼道' }),
    ],
  });

  it('a grouped message carries one link per case, in text, HTML, markdown and the webhook JSON', () => {
    const caseLink = (c: { id: string }) => phonePath(c.id, signer.sign('u-wang', c.id));
    const m = renderMessage(two, 'zh', { publicUrl: 'https://cloud.example/', caseLink });
    const [l1, l2] = m.cases.map((c) => c.link ?? '');
    assert.ok(
      l1?.startsWith('https://cloud.example/m/case-1/') && l2?.startsWith('https://cloud.example/m/case-2/'),
    );
    assert.notEqual(l1, l2);
    for (const link of [l1, l2]) {
      const [caseId, token] = (link ?? '').split('/').slice(-2);
      const check = signer.verify(token ?? '');
      assert.ok(check.ok && check.claims.caseId === caseId && check.claims.recipient === 'u-wang');
      assert.ok(m.text.includes(`处理：${link}`), m.text);
      assert.ok(m.html.includes(`href="${link}"`));
      assert.ok(m.markdown(4096).includes(`[处理](${link})`), m.markdown(4096));
    }
    assert.deepEqual(m.links, { view: l1, ack: `${l1}#ack`, feedback: `${l1}#feedback` });
    // Without a signer the request's own links stay as they were.
    assert.equal(renderMessage(two, 'zh').links.ack, '/cases/case-1/ack');
  });

  it('the notifier signs each recipient’s links for that recipient', async () => {
    const seen: WebhookPayload[] = [];
    const receiver = await startReceiver((r) => {
      seen.push(r.json() as WebhookPayload);
      return { status: 200 };
    });
    try {
      const notifier = createNotifier({
        store: new MemoryNotificationStore(),
        clock: () => T0,
        publicUrl: 'https://cloud.example/',
        caseLink: (c, r) => phonePath(c.id, signer.sign(r.id, c.id)),
      });
      const address = { kind: 'webhook' as const, url: receiver.url, secret: 'webhook-secret-0123456789' };
      const results = await notifier.deliver({
        ...two,
        recipients: [recipient([address]), recipient([address], { id: 'u-li', name: '李值班' })],
      });
      assert.ok(results.every((r) => r.ok));
      assert.equal(seen.length, 2);
      for (const p of seen)
        for (const c of p.cases) {
          const check = signer.verify(c.link?.split('/').at(-1) ?? '');
          assert.ok(check.ok, c.link);
          assert.equal(check.ok && check.claims.recipient, p.recipient.id);
          assert.equal(check.ok && check.claims.caseId, c.id);
        }
      await notifier.close();
    } finally {
      await receiver.close();
    }
  });
});

describe('the phone page', () => {
  const hostile = '<img src=x onerror=alert(1)>[点击确认](http://evil.example/)\n确认接警：http://evil';
  const c = alarmCase({
    location: hostile,
    message: hostile,
    value: hostile,
    acked: true,
    ackedBy: { id: 'x', name: '<b>x</b>' },
    ackedAt: T0,
  });

  it('escapes everything a gateway supplies and keeps its addresses inert', () => {
    const html = casePage({
      lang: 'zh',
      case: c,
      siteLabel: '浦东新区 / 张江镇 / <i>100弄</i>',
      path: '/m/case-1/tok',
      recipientName: '<script>王</script>',
      expiresAt: T0 + 1,
    });
    assert.ok(
      !/<img|<script|<b>|<i>|onerror=alert\(1\)>/.test(html.replace(/<img src="[^"]*" alt/g, '')),
      html,
    );
    assert.ok(!html.includes('http://evil'), 'addresses defanged');
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(html.includes('已由 &lt;b&gt;x&lt;/b&gt; 于'));
    assert.ok(!html.includes('id="ack-button"'), 'no 确认 once acknowledged');
    assert.ok(html.includes('action="/m/case-1/tok/feedback"'));
  });

  it('reads in English with ?lang=en and names the value with its unit', () => {
    const html = casePage({
      lang: 'en',
      case: alarmCase({ value: 52.5 }),
      siteLabel: '浦东新区 / 张江镇 / 100弄',
      path: '/m/case-1/tok',
      recipientName: 'Wang',
      expiresAt: T0 + 1,
    });
    assert.ok(html.includes('52.5 %LEL'));
    assert.ok(html.includes('Combustible gas'));
    assert.ok(html.includes('action="/m/case-1/tok/ack?lang=en"'));
    assert.ok(messagePage('en', '<x>', '<y>').includes('&lt;x&gt;'));
  });
});

describe('photo types', () => {
  it('by their first bytes only', () => {
    assert.equal(sniffImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0])), 'image/jpeg');
    assert.equal(
      sniffImage(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0])),
      'image/png',
    );
    const webp = Buffer.concat([
      Buffer.from('RIFF'),
      Buffer.alloc(4),
      Buffer.from('WEBPVP8 '),
      Buffer.alloc(8),
    ]);
    assert.equal(sniffImage(webp), 'image/webp');
    const wav = Buffer.concat([
      Buffer.from('RIFF'),
      Buffer.alloc(4),
      Buffer.from('WAVEfmt '),
      Buffer.alloc(8),
    ]);
    assert.equal(sniffImage(wav), undefined);
    assert.equal(sniffImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), undefined);
    assert.equal(sniffImage(Buffer.from('GIF89a......')), undefined);
    assert.equal(sniffImage(Buffer.alloc(0)), undefined);
  });
});

describe('phone routes on a running cloud', () => {
  it('are rate limited per IP like other public routes, send no cookie, keep the token out of Referer; HEAD is not routed (a preview’s HEAD leaves no view)', async () => {
    const secret = 'rate-limit-test-secret-0123456789abcdef';
    const t = await startTestCloud({
      http: { host: '127.0.0.1', port: 0, rateLimit: { max: 4, timeWindowMs: 60_000 } },
      notify: { links: { secret, ttlHours: 1 } },
    });
    try {
      const signer = new LinkSigner(secret, 3_600_000, () => t.clock.now);
      const path = phonePath('no-such-case', signer.sign('duty-wang', 'no-such-case'));
      const first = await fetch(`${t.url}${path}`);
      assert.equal(first.status, 404);
      assert.match(await first.text(), /报警不存在/);
      assert.equal(first.headers.get('set-cookie'), null);
      assert.equal(first.headers.get('referrer-policy'), 'no-referrer');
      assert.match(first.headers.get('content-security-policy') ?? '', /form-action 'self'/);
      assert.equal((await fetch(`${t.url}${path}`, { method: 'HEAD' })).status, 404);
      let last = 0;
      for (let i = 0; i < 4; i++) last = (await fetch(`${t.url}${path}x`)).status;
      assert.equal(last, 429);
      const limited = await fetch(`${t.url}${path}`);
      assert.equal(limited.status, 429);
      assert.match(await limited.text(), /请求过于频繁/);
    } finally {
      await t.stop();
    }
  });
});

describe('link configuration', () => {
  it('refuses a short secret or a lifetime out of range, naming the field', () => {
    const base = {
      district: { slug: 'pudong', name: '浦东新区' },
      http: { host: '127.0.0.1', port: 0 },
      storage: { kind: 'memory' },
    };
    assert.throws(
      () => parseCloudConfig({ ...base, notify: { links: { secret: 'short' } } }),
      /notify\.links\.secret: must be at least 32 characters/,
    );
    assert.throws(
      () => parseCloudConfig({ ...base, notify: { links: { secret: 'x'.repeat(32), ttlHours: 0 } } }),
      /notify\.links\.ttlHours/,
    );
    assert.equal(parseCloudConfig({ ...base, notify: {} }).notify?.links.ttlHours, 24);
  });
});
