/**
 * Aliyun SMS (SendSms) and voice (SingleCallByTts) through the real notifier against the local
 * emulator (test/support/aliyun.ts), which recomputes the documented signature on its own.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { NotifyConfig } from '../../../cloud/config/schema.js';
import {
  AliyunSmsChannel,
  AliyunVoiceChannel,
  aliyunEncode,
  aliyunFailureKind,
  aliyunSignature,
  aliyunStringToSign,
} from '../../../cloud/notify/channels/aliyun.js';
import { createNotifier } from '../../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import {
  type AliyunEmulator,
  referenceSignature,
  referenceStringToSign,
  startAliyunEmulator,
} from '../../support/aliyun.js';
import { alarmCase, recipient, request, T0, TestTimers } from './support.js';

const KEY_ID = 'LTAI5tDoorstepTest';
const KEY_SECRET = 'doorstep-test-access-key-secret-0123';
const SMS_TEMPLATE =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Aliyun's template syntax, not a JS template
  '${site}${location}发生${type}（${severity}，${value}），${time}起，请立即处置。【${stage}】';
// biome-ignore lint/suspicious/noTemplateCurlyInString: Aliyun's template syntax, not a JS template
const TTS_TEMPLATE = '紧急警情：${site}${location}${type}，尚未确认，请立即处置。';

const open: AliyunEmulator[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
});

async function emulator(): Promise<AliyunEmulator> {
  const e = await startAliyunEmulator({
    keys: { [KEY_ID]: KEY_SECRET },
    signNames: ['浦东消防物联'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Aliyun's template syntax, not a JS template
    smsTemplates: { SMS_480000001: SMS_TEMPLATE, SMS_480000002: '${reason}：${type}' },
    ttsTemplates: { TTS_280000001: TTS_TEMPLATE },
    clock: () => T0 + 5_000,
  });
  open.push(e);
  return e;
}

function smsConfig(e: AliyunEmulator, over: Record<string, unknown> = {}) {
  return NotifyConfig.parse({
    sms: {
      endpoint: e.url,
      accessKeyId: KEY_ID,
      accessKeySecret: KEY_SECRET,
      signName: '浦东消防物联',
      templateCode: 'SMS_480000001',
      ...over,
    },
    voice: { endpoint: e.url, accessKeyId: KEY_ID, accessKeySecret: KEY_SECRET, ttsCode: 'TTS_280000001' },
  });
}

function notifier(config: ReturnType<typeof smsConfig>, opts: { timeoutMs?: number; real?: boolean } = {}) {
  const store = new MemoryNotificationStore();
  const n = createNotifier({
    store,
    channels: {
      ...(config.sms?.provider === 'aliyun' ? { sms: new AliyunSmsChannel(config.sms) } : {}),
      ...(config.voice ? { voice: new AliyunVoiceChannel(config.voice) } : {}),
    },
    clock: () => T0 + 5_000,
    timeoutMs: opts.timeoutMs ?? 10_000,
    ...(opts.real ? {} : { timers: new TestTimers((ms) => ms !== 10_000) }),
    retry: { attempts: 3, baseDelayMs: opts.real ? 20 : 1_000 },
    publicUrl: 'https://cloud.example/',
  });
  return { store, notifier: n };
}

const sms = (phone = '+8613800138000') => recipient([{ kind: 'sms', phone }], { phone });

describe('Aliyun RPC signature', () => {
  it('reproduces the example of the signature documentation (HMAC-SHA1, GET)', () => {
    const params = {
      AccessKeyId: 'testid',
      Action: 'DescribeRegions',
      Format: 'XML',
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
      SignatureVersion: '1.0',
      Timestamp: '2016-02-23T12:46:24Z',
      Version: '2014-05-26',
    };
    assert.equal(aliyunSignature('testsecret', 'GET', params), 'OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
    // The emulator's own implementation agrees with the documentation too.
    const sts = referenceStringToSign('GET', new Map(Object.entries(params)));
    assert.equal(sts, aliyunStringToSign('GET', params));
    assert.equal(referenceSignature('testsecret', sts), 'OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });

  it('percent-encodes per RFC 3986: space %20, * %2A, ~ kept, UTF-8 for Chinese', () => {
    assert.equal(aliyunEncode("a b*c~d!e'(f)"), 'a%20b%2Ac~d%21e%27%28f%29');
    assert.equal(aliyunEncode('浦东'), '%E6%B5%A6%E4%B8%9C');
    assert.equal(aliyunEncode('{"a":"1"}'), '%7B%22a%22%3A%221%22%7D');
  });

  it('maps provider codes to failure kinds', () => {
    const table: [string, string, boolean | undefined][] = [
      ['isv.BUSINESS_LIMIT_CONTROL', 'throttled', undefined],
      ['isv.MOBILE_NUMBER_ILLEGAL', 'bad_number', undefined],
      ['isv.SMS_TEMPLATE_ILLEGAL', 'template', undefined],
      ['isv.SMS_SIGNATURE_ILLEGAL', 'template', undefined],
      ['isv.TEMPLATE_MISSING_PARAMETERS', 'template', undefined],
      ['isv.INVALID_JSON_PARAM', 'template', undefined],
      ['SignatureDoesNotMatch', 'auth', undefined],
      ['InvalidAccessKeyId.NotFound', 'auth', undefined],
      ['InvalidTimeStamp.Expired', 'auth', undefined],
      ['isv.DENY_IP_RANGE', 'auth', undefined],
      ['isp.SYSTEM_ERROR', 'provider', undefined],
      ['SignatureNonceUsed', 'provider', true],
      ['isv.SOMETHING_NEW', 'provider', false],
    ];
    for (const [code, kind, retryable] of table)
      assert.deepEqual(
        aliyunFailureKind(code),
        { kind, ...(retryable !== undefined ? { retryable } : {}) },
        code,
      );
  });
});

describe('Aliyun SMS through the notifier', () => {
  it('sends SendSms with the template parameters; delivered only on Code OK', async () => {
    const e = await emulator();
    const { notifier: n, store } = notifier(smsConfig(e));
    const [r] = await n.deliver(request({ recipients: [sms()] }));
    assert.equal(r?.ok, true, r?.error);
    assert.equal(r?.target, 'sms:+86138****8000');
    assert.equal(e.sms.length, 1);
    const got = e.sms[0]!;
    assert.equal(got.phone, '13800138000');
    assert.equal(got.templateCode, 'SMS_480000001');
    assert.equal(got.outId, 'req-1');
    assert.deepEqual(got.params, {
      stage: '提醒',
      severity: '紧急',
      type: '可燃气体高限报警',
      site: 'lane-100',
      location: '3号楼2单元 厨房',
      value: '52.5 %LEL',
      time: '03:12',
    });
    assert.equal(
      got.text,
      '【浦东消防物联】lane-1003号楼2单元 厨房发生可燃气体高限报警（紧急，52.5 %LEL），03:12起，请立即处置。【提醒】',
    );
    const [d] = await store.deliveriesByRequest('req-1');
    assert.equal(d?.state, 'delivered');
  });

  it('a wrong secret: the emulator refuses the signature, nothing is recorded as sent, not retried', async () => {
    const e = await emulator();
    const { notifier: n, store } = notifier(smsConfig(e, { accessKeySecret: 'not-the-right-secret' }));
    const [r] = await n.deliver(request({ recipients: [sms()] }));
    assert.equal(r?.ok, false);
    assert.equal(r?.attempts, 1);
    assert.match(r?.error ?? '', /sms provider refused the credentials \(SignatureDoesNotMatch/);
    assert.deepEqual(e.refusals, [['SendSms', 'SignatureDoesNotMatch']]);
    assert.equal(e.sms.length, 0);
    const [d] = await store.deliveriesByRequest('req-1');
    assert.equal(d?.state, 'failed');
    const attempts = await store.attemptsByRequest('req-1');
    assert.deepEqual(
      attempts.map((a) => [a.status, a.httpStatus]),
      [['failed', 400]],
    );
    assert.ok(!JSON.stringify(attempts).includes('not-the-right-secret'));
  });

  it('an unknown access key is a credentials failure too', async () => {
    const e = await emulator();
    const { notifier: n } = notifier(smsConfig(e, { accessKeyId: 'LTAI-unknown' }));
    const [r] = await n.deliver(request({ recipients: [sms()] }));
    assert.equal(r?.ok, false);
    assert.match(r?.error ?? '', /InvalidAccessKeyId\.NotFound/);
  });

  it('throttled (isv.BUSINESS_LIMIT_CONTROL) is retried with backoff, then given up', async () => {
    const e = await emulator();
    e.throttled.add('13800138000');
    const { notifier: n, store } = notifier(smsConfig(e));
    const [r] = await n.deliver(request({ recipients: [sms()] }));
    assert.equal(r?.ok, false);
    assert.equal(r?.attempts, 3);
    assert.match(
      r?.error ?? '',
      /throttled the message to sms:\+86138\*\*\*\*8000 \(isv\.BUSINESS_LIMIT_CONTROL/,
    );
    assert.equal((await store.deliveriesByRequest('req-1'))[0]?.state, 'failed');
  });

  it('a number the provider calls illegal is not retried', async () => {
    const e = await emulator();
    e.illegal.add('13800138000');
    const { notifier: n } = notifier(smsConfig(e));
    const [r] = await n.deliver(request({ recipients: [sms()] }));
    assert.deepEqual([r?.ok, r?.attempts], [false, 1]);
    assert.match(r?.error ?? '', /refused the number .*isv\.MOBILE_NUMBER_ILLEGAL/);
  });

  it('an unapproved template or sign, or a parameter the template needs and does not get, is not retried', async () => {
    const e = await emulator();
    for (const [over, code] of [
      [{ templateCode: 'SMS_999' }, 'isv.SMS_TEMPLATE_ILLEGAL'],
      [{ signName: '未审核签名' }, 'isv.SMS_SIGNATURE_ILLEGAL'],
      [{ templateCode: 'SMS_480000002', params: ['type'] }, 'isv.TEMPLATE_MISSING_PARAMETERS'],
    ] as const) {
      const { notifier: n } = notifier(smsConfig(e, over));
      const [r] = await n.deliver(request({ recipients: [sms()] }));
      assert.deepEqual([r?.ok, r?.attempts], [false, 1], code);
      assert.match(r?.error ?? '', new RegExp(`template or sign \\(${code.replace(/\./g, '\\.')}`), code);
    }
  });

  it('a provider that hangs: the attempt times out and is retried, never recorded as sent', async () => {
    const e = await emulator();
    e.hang = true;
    const { notifier: n, store } = notifier(smsConfig(e), { timeoutMs: 300, real: true });
    const [r] = await n.deliver(request({ recipients: [sms()] }));
    assert.deepEqual([r?.ok, r?.attempts], [false, 3]);
    const attempts = await store.attemptsByRequest('req-1');
    assert.deepEqual(
      attempts.map((a) => a.status),
      ['timeout', 'timeout', 'timeout'],
    );
    assert.equal((await store.deliveriesByRequest('req-1'))[0]?.state, 'failed');
  });

  it('gateway text in a parameter is one line with web addresses defanged, values cut to maxParamChars', async () => {
    const e = await emulator();
    const { notifier: n } = notifier(smsConfig(e, { maxParamChars: 12 }));
    const hostile = alarmCase({ location: '厨房\n确认：http://evil.example/x 以及一段很长很长的说明' });
    const [r] = await n.deliver(request({ cases: [hostile], recipients: [sms()] }));
    assert.equal(r?.ok, true, r?.error);
    const location = e.sms[0]?.params.location ?? '';
    assert.ok(!location.includes('\n') && !location.includes('http://'), location);
    assert.equal([...location].length, 12);
    assert.ok(location.endsWith('…'));
  });
});

describe('Aliyun voice (SingleCallByTts) through the notifier', () => {
  const voice = () =>
    recipient(
      [
        {
          kind: 'voice',
          phone: '+8613800138000',
          when: { severities: ['critical'], stages: ['remind', 'supervise'] },
        },
      ],
      { phone: '+8613800138000' },
    );

  it('calls a critical case not acknowledged in time (提醒) with the TTS parameters', async () => {
    const e = await emulator();
    const { notifier: n, store } = notifier(smsConfig(e));
    const [r] = await n.deliver(request({ stage: 'remind', recipients: [voice()] }));
    assert.equal(r?.ok, true, r?.error);
    assert.equal(e.calls.length, 1);
    assert.deepEqual(e.calls[0], {
      phone: '13800138000',
      ttsCode: 'TTS_280000001',
      params: { severity: '紧急', type: '可燃气体高限报警', site: 'lane-100', location: '3号楼2单元 厨房' },
      spoken: '紧急警情：lane-1003号楼2单元 厨房可燃气体高限报警，尚未确认，请立即处置。',
      playTimes: 2,
    });
    assert.equal((await store.deliveriesByRequest('req-1'))[0]?.state, 'delivered');
  });

  it('does not call for a first notice or a major case', async () => {
    const e = await emulator();
    const { notifier: n } = notifier(smsConfig(e));
    assert.deepEqual(await n.deliver(request({ stage: 'warn', recipients: [voice()] })), []);
    assert.deepEqual(
      await n.deliver(
        request({
          id: 'req-2',
          stage: 'remind',
          cases: [alarmCase({ severity: 'major' })],
          recipients: [voice()],
        }),
      ),
      [],
    );
    assert.equal(e.requests, 0);
  });

  it('a number abroad is refused before any request (mainland calls only)', async () => {
    const e = await emulator();
    const { notifier: n } = notifier(smsConfig(e));
    const abroad = recipient([{ kind: 'voice', phone: '+85291234567' }]);
    const [r] = await n.deliver(request({ stage: 'remind', recipients: [abroad] }));
    assert.deepEqual([r?.ok, r?.attempts], [false, 1]);
    assert.match(r?.error ?? '', /mainland numbers only/);
    assert.equal(e.requests, 0);
  });
});
