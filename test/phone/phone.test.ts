/**
 * Action links from a phone, end to end: a real cloud (SQLite in a temp directory, 127.0.0.1),
 * a simulated gateway posting real /v1/sync batches, the escalation engine notifying a person
 * through the signed webhook into the duty inbox (cloud/notify/inbox.ts, which verifies the
 * signature), and headless Debian Chromium at 390 × 844 opening the link taken from the received
 * message. Screenshots are kept in test/artifacts/phone/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { buildCloud, type Cloud } from '../../cloud/build.js';
import { parseCloudConfig } from '../../cloud/config/load.js';
import { DutyInbox } from '../../cloud/notify/inbox.js';
import type { WebhookPayload } from '../../cloud/notify/message.js';
import { LinkSigner } from '../../cloud/phone/token.js';
import { openCloudStore } from '../../cloud/store/index.js';
import { basic, bearer, call, enrollGateway } from '../cloud/http/harness.js';
import { launchChromium, SimGateway } from '../console/harness.js';
import { freePort } from '../support/net.js';
import { tempDir } from '../support/tmp.js';

const ADMIN = { username: 'admin', password: 'phone-admin-password' };
const OFFICER = {
  username: 'zj-duty',
  password: 'phone-officer-pass',
  scope: 'pudong/zhangjiang',
  role: 'duty',
};
const INBOX_SECRET = 'phone-test-inbox-secret';
const LINK_SECRET = 'phone-test-link-secret-0123456789abcdef';
const COMMUNITY = 'pudong/zhangjiang/lane-100';
const ARTIFACTS = new URL('../artifacts/phone/', import.meta.url).pathname;
const shot = (name: string) => `${ARTIFACTS}${name}.png`;

// A 1 × 1 PNG (ISO/IEC 15948) and the first bytes of a WebP (RFC 9649 §2.5).
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const WEBP = Buffer.concat([
  Buffer.from('RIFF'),
  Buffer.from([26, 0, 0, 0]),
  Buffer.from('WEBPVP8L'),
  Buffer.alloc(14),
]);

// The callback of waitForFunction runs in the browser; the Node program has no DOM lib.
// biome-ignore lint/suspicious/noExplicitAny: browser global inside a page callback
declare const document: any;

let cloud: Cloud;
let inbox: DutyInbox;
let browser: Browser;
let launching: Promise<Browser> | undefined;
let url: string;
let adminToken: string;
let gw: SimGateway;
let dir: ReturnType<typeof tempDir>;

before(async () => {
  dir = tempDir('doorstep-phone-');
  mkdirSync(ARTIFACTS, { recursive: true });
  launching = launchChromium();
  launching.catch(() => undefined);
  inbox = new DutyInbox({ port: 0, secret: INBOX_SECRET });
  await inbox.start();
  const channels = [{ kind: 'webhook', url: inbox.webhookUrl, secret: INBOX_SECRET }];
  // The links must be absolute in the message, so the cloud's public URL is known before it listens.
  const port = await freePort();
  const config = parseCloudConfig({
    district: { slug: 'pudong', name: '浦东新区' },
    http: { host: '127.0.0.1', port, rateLimit: { max: 100_000, timeWindowMs: 60_000 } },
    storage: { kind: 'sqlite', path: join(dir.path, 'cloud.db') },
    publicUrl: `http://127.0.0.1:${port}/`,
    bootstrap: {
      admin: ADMIN,
      sites: [
        { path: 'pudong/zhangjiang', name: '张江镇' },
        { path: COMMUNITY, name: '100弄' },
      ],
    },
    notify: { links: { secret: LINK_SECRET, ttlHours: 24 } },
    escalation: {
      people: [
        { id: 'duty-wang', name: '王值班', site: COMMUNITY, roles: ['duty'], channels },
        { id: 'duty-li', name: '李值班', site: COMMUNITY, roles: ['duty'], channels },
      ],
      policies: [
        {
          id: 'phone-test',
          version: 1,
          match: { severities: ['critical', 'major'] },
          steps: [
            {
              delayMs: 0,
              condition: 'always',
              stage: 'warn',
              targets: [{ kind: 'role', role: 'duty', tier: 'community' }],
            },
          ],
          deliveryFailure: { afterFailedSends: 3, fallback: [{ kind: 'person', id: 'duty-li' }] },
        },
      ],
    },
    log: { level: 'silent' },
  });
  cloud = buildCloud(config, { logger: pino({ level: 'silent' }), openStore: openCloudStore });
  url = await cloud.start();
  const t = await call(url, 'POST', '/v1/api-tokens', {
    auth: basic(ADMIN.username, ADMIN.password),
    json: {},
  });
  adminToken = t.body.token as string;
  const u = await call(url, 'POST', '/v1/users', {
    auth: bearer(adminToken),
    json: { ...OFFICER, displayName: '张江值班' },
  });
  assert.equal(u.status, 201, JSON.stringify(u.body));
  gw = new SimGateway(url, 'gw-zj', COMMUNITY, await enrollGateway(url, adminToken, 'gw-zj', COMMUNITY));
  browser = await launching;
});

after(async () => {
  // Also when the setup failed before Chromium was awaited.
  await launching?.then((b) => b.close()).catch(() => undefined);
  await cloud?.stop();
  await inbox?.stop();
  dir?.dispose();
});

async function until<T>(what: string, get: () => T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The message about `alarmId` that reached `person`, from the duty inbox. */
function received(alarmId: string, person: string): Promise<WebhookPayload> {
  return until(`the message about ${alarmId} for ${person}`, () =>
    inbox
      .messages()
      .map((m) => m.payload)
      .find((p) => p.recipient.id === person && p.cases.some((c) => c.id === alarmId)),
  );
}

/** The link of case `alarmId` in a received message. */
function linkOf(p: WebhookPayload, alarmId: string): string {
  const link = p.cases.find((c) => c.id === alarmId)?.link;
  assert.ok(link, `the message carries a link for ${alarmId}: ${JSON.stringify(p.cases)}`);
  assert.ok(p.text.includes(link), 'the link is in the text people read');
  return link;
}

async function raise(type = 'gas_high', device = 'gas-3'): Promise<string> {
  const id = `gw-zj.${device}.${type}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  await gw.sync({ alarms: [{ id, device, type, severity: 'critical', latched: false }] });
  return id;
}

async function phone(): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  return context.newPage();
}

async function caseOf(id: string) {
  const r = await call(url, 'GET', `/v1/cases/${encodeURIComponent(id)}`, { auth: bearer(adminToken) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // biome-ignore lint/suspicious/noExplicitAny: the answer's fields are read one by one
  return r.body as { case: any; audit: any[] };
}

describe('action links on a phone', () => {
  test('link from the received message → 390 px page → 确认 → the console shows it acknowledged by the recipient', async () => {
    const id = await raise();
    // The community's site plan with the detector's marker (what the console's plan page stores).
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200"><rect width="400" height="200" fill="#dde"/><rect x="20" y="20" width="160" height="160" fill="#bbc"/></svg>';
    const plan = await call(url, 'POST', '/console/api/plan', {
      auth: bearer(adminToken),
      headers: { origin: url },
      json: { site: COMMUNITY, image: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` },
    });
    assert.equal(plan.status, 200, JSON.stringify(plan.body));
    const marker = await call(url, 'POST', '/console/api/markers', {
      auth: bearer(adminToken),
      headers: { origin: url },
      json: { site: COMMUNITY, gateway: 'gw-zj', device: 'gas-3', x: 0.25, y: 0.5 },
    });
    assert.equal(marker.status, 200, JSON.stringify(marker.body));
    const message = await received(id, 'duty-wang');
    const link = linkOf(message, id);
    assert.ok(link.startsWith(`${url}/m/`), link);
    assert.equal(message.links.ack, `${link}#ack`, 'the message’s 确认 link opens the case page');
    // The duty inbox's own page offers the same link.
    const inboxPage = await (await fetch(inbox.webhookUrl.replace(/webhook$/, ''))).text();
    assert.ok(inboxPage.includes(`href="${link}"`), 'the inbox page links the case page');

    const page = await phone();
    const res = await page.goto(link);
    assert.equal(res?.status(), 200);
    assert.match((await page.textContent('#type')) ?? '', /可燃气体高限报警/);
    assert.match((await page.textContent('#stage')) ?? '', /预警/);
    const body = (await page.textContent('body')) ?? '';
    assert.ok(body.includes('100弄') && body.includes('张江镇'), 'the community by name');
    assert.ok(!body.includes('pudong/zhangjiang'), 'no raw site path where a person reads');
    assert.ok(body.includes('王值班'), 'names the recipient');
    assert.ok(body.includes('北京时间'));
    // The plan is served with the same token and shown with the marker where the console put it.
    await page.waitForFunction('document.querySelector(".plan img")?.naturalWidth > 0');
    const left = await page.$eval('.marker', (m) => (m as unknown as { style: { left: string } }).style.left);
    assert.equal(left, '25%');
    // Fits the phone: nothing wider than the screen.
    const width = await page.evaluate('document.documentElement.scrollWidth');
    assert.ok(Number(width) <= 390, `page is ${width} px wide`);
    await page.screenshot({ path: shot('phone-case'), fullPage: true });

    await page.tap('#ack-button');
    await page.waitForSelector('#done');
    assert.match((await page.textContent('#ack-state')) ?? '', /已由 王值班 于 .* 确认/);
    assert.equal(await page.$('#ack-button'), null, 'no second 确认 once acknowledged');
    await page.screenshot({ path: shot('phone-acked'), fullPage: true });

    // The other person on duty got their own link; their 确认 after Wang's shows who was first.
    const li = linkOf(await received(id, 'duty-li'), id);
    assert.notEqual(li, link);
    const late = await fetch(`${li}/ack`, { method: 'POST', redirect: 'manual' });
    assert.equal(late.status, 303);
    assert.equal(late.headers.get('location'), new URL(li).pathname);
    const liPage = await (await fetch(li)).text();
    assert.ok(liPage.includes('已由 王值班 于') && liPage.includes('李值班'), 'Li sees who acknowledged');

    const { case: c, audit } = await caseOf(id);
    assert.equal(c.acked, true);
    assert.ok(!audit.some((a) => a.action === 'ack' && a.actor.id === 'duty-li'));
    assert.ok(audit.some((a) => a.action === 'viewed' && a.actor.id === 'duty-li'));
    assert.deepEqual(c.ackedBy, { id: 'duty-wang', name: '王值班' });
    const ack = audit.find((a) => a.action === 'ack');
    assert.equal(ack?.actor.id, 'duty-wang');
    assert.equal(ack?.actor.ip, '127.0.0.1');
    assert.match(ack?.actor.userAgent ?? '', /Chrome/);
    const viewed = audit.filter((a) => a.action === 'viewed' && a.actor.id === 'duty-wang');
    assert.ok(viewed.length >= 2, 'every view audited with the recipient');

    // The town officer's console.
    const desk = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' });
    const officer = await desk.newPage();
    await officer.goto(`${url}/console`);
    await officer.fill('#username', OFFICER.username);
    await officer.fill('#password', OFFICER.password);
    await officer.click('#signin');
    await officer.waitForSelector(`tr.case[data-id="${id}"]`, { timeout: 15_000 });
    await officer.click(`tr.case[data-id="${id}"]`);
    await officer.waitForFunction(
      (name) => (document.querySelector('#detail-state')?.textContent ?? '').includes(name),
      '王值班',
      { timeout: 10_000 },
    );
    assert.match((await officer.textContent('#detail-state')) ?? '', /已确认 \(王值班/);
    await officer.screenshot({ path: shot('console-acked-from-phone') });
    await desk.close();
    await page.context().close();
  });

  test('feedback with a photo; oversize and wrong-type photos are refused by their bytes', async () => {
    const id = await raise('smoke', 'smoke-5');
    const link = linkOf(await received(id, 'duty-li'), id);
    const page = await phone();
    await page.goto(`${link}#feedback`);
    await page.selectOption('#cause', 'false_alarm');
    await page.fill('#note', '厨房油烟，已开窗通风');
    await page.setInputFiles('#photo', { name: 'scene.png', mimeType: 'image/png', buffer: PNG });
    await page.tap('#feedback-button');
    await page.waitForSelector('#done');
    assert.match((await page.textContent('#last-feedback')) ?? '', /误报 · 李值班/);
    await page.screenshot({ path: shot('phone-feedback'), fullPage: true });
    let { case: c } = await caseOf(id);
    assert.equal(c.stage, 'feedback');
    assert.equal(c.feedback.by.id, 'duty-li');
    const photo = await call(url, 'GET', `/v1/cases/${encodeURIComponent(id)}/photo`, {
      auth: bearer(adminToken),
    });
    assert.equal(photo.body.photo, `data:image/png;base64,${PNG.toString('base64')}`);

    // A text file named .jpg, sent as image/jpeg: refused by its bytes, nothing stored.
    await page.goto(link);
    await page.fill('#note', '第二次反馈');
    await page.setInputFiles('#photo', {
      name: 'evil.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.from('<script>alert(1)</script>'),
    });
    const [wrong] = await Promise.all([page.waitForResponse(/\/feedback/), page.tap('#feedback-button')]);
    assert.equal(wrong.status(), 415);
    assert.match((await page.textContent('#title')) ?? '', /照片格式不支持/);
    await page.screenshot({ path: shot('phone-photo-wrong-type') });

    // 2 MB + 1 byte of JPEG: 413, and the page (not a reset connection) says why.
    await page.goto(link);
    await page.fill('#note', '第三次反馈');
    const big = Buffer.alloc(2 * 1024 * 1024 + 1, 0x20);
    big.set([0xff, 0xd8, 0xff, 0xe0]);
    await page.setInputFiles('#photo', { name: 'big.jpg', mimeType: 'image/jpeg', buffer: big });
    const [tooBig] = await Promise.all([page.waitForResponse(/\/feedback/), page.tap('#feedback-button')]);
    assert.equal(tooBig.status(), 413);
    assert.match((await page.textContent('#title')) ?? '', /照片太大/);
    ({ case: c } = await caseOf(id));
    assert.equal(c.feedback.note, '厨房油烟，已开窗通风', 'refused photos changed nothing');

    // WebP is accepted, whatever type the phone claims.
    const form = new FormData();
    form.set('cause', 'real');
    form.set('note', 'webp');
    form.set('photo', new Blob([WEBP], { type: 'application/octet-stream' }), 'x.bin');
    const ok = await fetch(`${link}/feedback`, { method: 'POST', body: form, redirect: 'manual' });
    assert.equal(ok.status, 303);
    const stored = await call(url, 'GET', `/v1/cases/${encodeURIComponent(id)}/photo`, {
      auth: bearer(adminToken),
    });
    assert.match(String(stored.body.photo), /^data:image\/webp;base64,/);
    await page.context().close();
  });

  test('tampered, expired, other-case and closed-case links are refused with a page saying why', async () => {
    const a = await raise('gas_high', 'gas-7');
    const b = await raise('gas_high', 'gas-8');
    const linkA = linkOf(await received(a, 'duty-wang'), a);
    const linkB = linkOf(await received(b, 'duty-wang'), b);
    const tokenA = linkA.split('/').at(-1) ?? '';
    const page = await phone();

    // One character of the signature changed.
    const last = tokenA.at(-2) === 'A' ? 'B' : 'A';
    const tampered = `${linkA.slice(0, -2)}${last}${linkA.slice(-1)}`;
    let res = await page.goto(tampered);
    assert.equal(res?.status(), 403);
    assert.match((await page.textContent('#title')) ?? '', /链接无效/);
    await page.screenshot({ path: shot('phone-link-invalid') });
    // The payload changed to name case B, keeping A's signature.
    const [payload, mac] = tokenA.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
    const forged = `${Buffer.from(JSON.stringify({ ...claims, c: b })).toString('base64url')}.${mac}`;
    res = await page.goto(`${url}/m/${encodeURIComponent(b)}/${forged}`);
    assert.equal(res?.status(), 403);

    // A's token on B's page, and a POST to act on B with it: refused, B unchanged.
    res = await page.goto(`${url}/m/${encodeURIComponent(b)}/${tokenA}`);
    assert.equal(res?.status(), 403);
    const cross = await fetch(`${url}/m/${encodeURIComponent(b)}/${tokenA}/ack`, {
      method: 'POST',
      redirect: 'manual',
    });
    assert.equal(cross.status, 403);
    assert.equal((await caseOf(b)).case.acked, false);

    // Expired: signed with the cloud's secret, expiring a second ago.
    const expired = new LinkSigner(LINK_SECRET, 1).sign('duty-wang', a, Date.now() - 1000);
    res = await page.goto(`${url}/m/${encodeURIComponent(a)}/${expired}`);
    assert.equal(res?.status(), 410);
    assert.match((await page.textContent('#title')) ?? '', /链接已过期/);
    await page.screenshot({ path: shot('phone-link-expired') });
    const late = await fetch(`${url}/m/${encodeURIComponent(a)}/${expired}/ack`, {
      method: 'POST',
      redirect: 'manual',
    });
    assert.equal(late.status, 410);
    assert.equal((await caseOf(a)).case.acked, false);

    // English on request.
    res = await page.goto(`${url}/m/${encodeURIComponent(a)}/${expired}?lang=en`);
    assert.match((await page.textContent('#title')) ?? '', /Link expired/);

    // Closed: acknowledged and fed back on the phone, cleared by the gateway, closed in the console.
    await page.goto(linkB);
    await page.tap('#ack-button');
    await page.waitForSelector('#done');
    await page.fill('#note', '传感器已更换');
    await page.tap('#feedback-button');
    await page.waitForSelector('#done');
    await gw.sync({ alarms: [{ id: b, device: 'gas-8', type: 'gas_high', state: 'cleared' }] });
    const closed = await call(url, 'POST', `/v1/cases/${encodeURIComponent(b)}/close`, {
      auth: bearer(adminToken),
      json: {},
    });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    res = await page.goto(linkB);
    assert.equal(res?.status(), 410);
    assert.match((await page.textContent('#title')) ?? '', /报警已办结/);
    await page.screenshot({ path: shot('phone-link-closed') });
    const afterClose = await fetch(`${linkB}/ack`, { method: 'POST', redirect: 'manual' });
    assert.equal(afterClose.status, 410);
    await page.context().close();
  });
});
