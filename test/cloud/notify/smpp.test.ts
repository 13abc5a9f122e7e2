/**
 * SMS over SMPP 3.4 through the real notifier to a local SMS centre made with the `smpp`
 * package's server (test/support/smsc.ts): bind credentials, UCS-2 Chinese, long texts split with
 * a concatenation UDH or sent in message_payload, keep-alive, reconnect, status mapping.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NotifyConfig } from '../../../cloud/config/schema.js';
import { SmppChannel, ucs2Parts } from '../../../cloud/notify/channels/smpp.js';
import { createNotifier } from '../../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import { type Smsc, startSmsc } from '../../support/smsc.js';
import { alarmCase, recipient, request, T0 } from './support.js';

const CREDENTIALS = { systemId: 'doorstep', password: 'pw123456' };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function smsc(): Promise<Smsc> {
  const s = await startSmsc(CREDENTIALS);
  cleanup.push(() => s.close());
  return s;
}

function channel(s: Smsc, over: Record<string, unknown> = {}): SmppChannel {
  const config = NotifyConfig.parse({
    smpp: { url: s.url, ...CREDENTIALS, sourceAddr: '1065900012345', reconnectMs: 200, ...over },
  }).smpp!;
  const ch = new SmppChannel(config);
  cleanup.push(() => ch.close());
  return ch;
}

function notifier(ch: SmppChannel, timeoutMs = 5_000) {
  const store = new MemoryNotificationStore();
  return {
    store,
    notifier: createNotifier({
      store,
      channels: { smpp: ch },
      clock: () => T0 + 5_000,
      timeoutMs,
      retry: { attempts: 3, baseDelayMs: 20 },
      publicUrl: 'https://cloud.example/',
    }),
  };
}

const person = (phone = '+8613800138000') => recipient([{ kind: 'smpp', phone }], { phone });

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('SMPP 3.4 to an SMS centre', () => {
  it('binds as a transmitter (interface 0x34) and submits the Chinese text as UCS-2, delivered on ESME_ROK', async () => {
    const s = await smsc();
    const { notifier: n, store } = notifier(channel(s, { maxParts: 1 }));
    const [r] = await n.deliver(request({ recipients: [person()] }));
    assert.equal(r?.ok, true, r?.error);
    assert.equal(r?.target, 'smpp:+86138****8000');
    assert.deepEqual(s.binds, [{ systemId: 'doorstep', ok: true, interfaceVersion: 0x34 }]);
    assert.equal(s.messages.length, 1);
    const m = s.messages[0]!;
    assert.deepEqual(
      [m.source, m.destination, m.destTon, m.via],
      ['1065900012345', '8613800138000', 1, 'single'],
    );
    assert.ok(m.text.length <= 70, `${m.text.length} characters`);
    assert.ok(m.text.startsWith('【提醒】紧急 · 可燃气体高限报警'), m.text);
    assert.ok(m.text.endsWith('确认接警：https://cloud.example/cases/case-1/ack'), m.text);
    assert.equal((await store.deliveriesByRequest('req-1'))[0]?.state, 'delivered');
  });

  it('a long text goes as concatenated parts with a UDH and arrives whole', async () => {
    const s = await smsc();
    const { notifier: n } = notifier(channel(s, { maxParts: 4 }));
    const [r] = await n.deliver(request({ recipients: [person()] }));
    assert.equal(r?.ok, true, r?.error);
    const m = s.messages[0]!;
    assert.equal(m.via, 'udh');
    assert.ok(m.parts >= 2 && m.parts <= 4, `${m.parts} parts`);
    assert.equal(s.submits, m.parts);
    assert.ok(m.text.includes('地点：lane-100 3号楼2单元 厨房'), m.text);
    assert.ok(m.text.includes('数值：52.5 %LEL'), m.text);
    assert.ok(m.text.endsWith('确认接警：https://cloud.example/cases/case-1/ack'));
  });

  it('or in one message_payload when configured so', async () => {
    const s = await smsc();
    const { notifier: n } = notifier(channel(s, { longMessages: 'payload' }));
    const [r] = await n.deliver(request({ recipients: [person()] }));
    assert.equal(r?.ok, true, r?.error);
    assert.deepEqual([s.messages[0]?.via, s.submits], ['payload', 1]);
    assert.ok((s.messages[0]?.text.length ?? 0) > 70);
  });

  it('splits at 67 characters without cutting a character outside the BMP', () => {
    const parts = ucs2Parts(`${'火'.repeat(66)}🔥${'警'.repeat(10)}`);
    assert.deepEqual(
      parts.map((p) => p.length),
      [66, 12],
    );
    assert.equal(ucs2Parts('短信').length, 1);
    assert.equal(ucs2Parts('字'.repeat(70)).length, 1);
    assert.equal(ucs2Parts('字'.repeat(71)).length, 2);
  });

  it('wrong credentials: the SMSC refuses the bind, the delivery fails at once and is not recorded as sent', async () => {
    const s = await smsc();
    const { notifier: n, store } = notifier(channel(s, { password: 'wrong' }));
    const [r] = await n.deliver(request({ recipients: [person()] }));
    assert.deepEqual([r?.ok, r?.attempts], [false, 1]);
    assert.match(r?.error ?? '', /smpp provider refused the credentials \(ESME_RBINDFAIL/);
    assert.deepEqual(
      s.binds.map((b) => b.ok),
      [false],
    );
    assert.equal(s.messages.length, 0);
    assert.equal((await store.deliveriesByRequest('req-1'))[0]?.state, 'failed');
    const [a] = await store.attemptsByRequest('req-1');
    assert.equal(a?.errcode, 0x0d);
  });

  it('maps submit_sm_resp statuses: throttled is retried, an invalid destination is not', async () => {
    const s = await smsc();
    s.status = 0x58;
    const { notifier: n } = notifier(channel(s, { maxParts: 1 }));
    const [t] = await n.deliver(request({ recipients: [person()] }));
    assert.deepEqual([t?.ok, t?.attempts], [false, 3]);
    assert.match(t?.error ?? '', /throttled .*ESME_RTHROTTLED/);
    s.status = 0;
    s.invalid.add('8613900139000');
    const [b] = await n.deliver(request({ id: 'req-2', recipients: [person('+8613900139000')] }));
    assert.deepEqual([b?.ok, b?.attempts], [false, 1]);
    assert.match(b?.error ?? '', /refused the number .*ESME_RINVDSTADR/);
  });

  it('an SMSC that does not answer submit_sm: the attempt times out, nothing recorded as sent', async () => {
    const s = await smsc();
    s.hang = true;
    const { notifier: n, store } = notifier(channel(s, { maxParts: 1 }), 300);
    const [r] = await n.deliver(request({ recipients: [person()] }));
    assert.equal(r?.ok, false);
    assert.deepEqual(
      (await store.attemptsByRequest('req-1')).map((a) => a.status),
      ['timeout', 'timeout', 'timeout'],
    );
    assert.equal((await store.deliveriesByRequest('req-1'))[0]?.state, 'failed');
  });

  it('keeps the session alive with enquire_link, and binds again after the SMSC drops it', async () => {
    const s = await smsc();
    const ch = channel(s, { maxParts: 1, enquireLinkMs: 1_000 });
    const { notifier: n } = notifier(ch);
    assert.equal((await n.deliver(request({ recipients: [person()] })))[0]?.ok, true);
    await until('an enquire_link', () => s.enquireLinks >= 1);
    s.dropSessions();
    // Bound again on its own (reconnectMs), before any message needs it.
    await until('a second bind', () => ch.binds >= 2);
    const [r] = await n.deliver(
      request({ id: 'req-2', cases: [alarmCase({ id: 'case-2' })], recipients: [person()] }),
    );
    assert.equal(r?.ok, true, r?.error);
    assert.equal(s.messages.length, 2);
    assert.deepEqual(
      s.binds.map((b) => b.ok),
      [true, true],
    );
  });

  it('a link whose enquire_link goes unanswered is dropped and bound again', async () => {
    const s = await smsc();
    const ch = channel(s, { maxParts: 1, enquireLinkMs: 1_000 });
    const { notifier: n } = notifier(ch);
    assert.equal((await n.deliver(request({ recipients: [person()] })))[0]?.ok, true);
    s.ignoreEnquireLink = true;
    await until('a rebind after an unanswered enquire_link', () => ch.binds >= 2);
    s.ignoreEnquireLink = false;
    const [r] = await n.deliver(request({ id: 'req-2', recipients: [person()] }));
    assert.equal(r?.ok, true, r?.error);
  });
});
