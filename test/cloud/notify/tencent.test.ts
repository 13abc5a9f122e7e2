/**
 * Tencent Cloud SMS through the real notifier against the local emulator
 * (test/support/tencent.ts), which recomputes TC3-HMAC-SHA256 on its own.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { NotifyConfig } from '../../../cloud/config/schema.js';
import {
  TencentSmsChannel,
  tc3Authorization,
  tencentFailureKind,
} from '../../../cloud/notify/channels/tencent.js';
import { createNotifier } from '../../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import { startTencentEmulator, type TencentEmulator } from '../../support/tencent.js';
import { recipient, request, T0, TestTimers } from './support.js';

const open: TencentEmulator[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
});

async function setup(over: Record<string, unknown> = {}) {
  const e = await startTencentEmulator({
    keys: { AKIDdoorstep: 'tencent-test-secret-key' },
    appId: '1400000001',
    signNames: ['浦东消防物联'],
    templates: { '2000001': '【{1}】{2}{3}发生{4}，请立即处置。' },
    clock: () => T0 + 5_000,
  });
  open.push(e);
  const config = NotifyConfig.parse({
    sms: {
      provider: 'tencent',
      endpoint: e.url,
      secretId: 'AKIDdoorstep',
      secretKey: 'tencent-test-secret-key',
      smsSdkAppId: '1400000001',
      signName: '浦东消防物联',
      templateId: '2000001',
      ...over,
    },
  });
  assert.equal(config.sms?.provider, 'tencent');
  if (config.sms?.provider !== 'tencent') throw new Error('not tencent');
  const store = new MemoryNotificationStore();
  const n = createNotifier({
    store,
    channels: { sms: new TencentSmsChannel(config.sms) },
    clock: () => T0 + 5_000,
    timers: new TestTimers((ms) => ms !== 10_000),
    retry: { attempts: 3, baseDelayMs: 1_000 },
    publicUrl: 'https://cloud.example/',
  });
  return { e, store, n };
}

const sms = (phone = '+8613800138000') => recipient([{ kind: 'sms', phone }], { phone });

describe('Tencent Cloud SMS (TC3-HMAC-SHA256)', () => {
  it('reproduces a signature computed from the documented recipe', () => {
    assert.equal(
      tc3Authorization(
        'AKIDtest',
        'testkey',
        'sms.tencentcloudapi.com',
        1700000000,
        '{"PhoneNumberSet":["+8613800138000"]}',
      ),
      'TC3-HMAC-SHA256 Credential=AKIDtest/2023-11-14/sms/tc3_request, SignedHeaders=content-type;host, Signature=9129f6415abaab280ad1733dcffc8f751dd2616d9fcbb88b6cb37ce97b0cdfb2',
    );
  });

  it('sends positional template parameters; delivered only on the number’s Code Ok', async () => {
    const { e, store, n } = await setup();
    const [r] = await n.deliver(request({ recipients: [sms()] }));
    assert.equal(r?.ok, true, r?.error);
    assert.deepEqual(e.sent, [
      {
        phone: '+8613800138000',
        templateId: '2000001',
        params: ['提醒', 'lane-100', '3号楼2单元 厨房', '可燃气体高限报警'],
        text: '【浦东消防物联】【提醒】lane-1003号楼2单元 厨房发生可燃气体高限报警，请立即处置。',
        session: 'req-1',
      },
    ]);
    assert.equal((await store.deliveriesByRequest('req-1'))[0]?.state, 'delivered');
  });

  it('a wrong secret key: refused, not retried, not recorded as sent', async () => {
    const { e, store, n } = await setup({ secretKey: 'wrong-key' });
    const [r] = await n.deliver(request({ recipients: [sms()] }));
    assert.deepEqual([r?.ok, r?.attempts], [false, 1]);
    assert.match(r?.error ?? '', /refused the credentials \(AuthFailure\.SignatureFailure/);
    assert.deepEqual(e.refusals, ['AuthFailure.SignatureFailure']);
    assert.equal((await store.deliveriesByRequest('req-1'))[0]?.state, 'failed');
  });

  it('per-number codes: throttled is retried, an incorrect number is not; a template mismatch is not', async () => {
    const { e, n } = await setup();
    e.throttled.add('+8613800138000');
    const [t] = await n.deliver(request({ recipients: [sms()] }));
    assert.deepEqual([t?.ok, t?.attempts], [false, 3]);
    assert.match(t?.error ?? '', /throttled .*LimitExceeded\.PhoneNumberThirtySecondLimit/);
    e.incorrect.add('+8613900139000');
    const [b] = await n.deliver(request({ id: 'req-2', recipients: [sms('+8613900139000')] }));
    assert.deepEqual([b?.ok, b?.attempts], [false, 1]);
    assert.match(b?.error ?? '', /refused the number/);
    const { n: n2 } = await setup({ params: ['stage', 'site'] });
    const [m] = await n2.deliver(request({ recipients: [sms('+8613700137000')] }));
    assert.deepEqual([m?.ok, m?.attempts], [false, 1]);
    assert.match(m?.error ?? '', /template or sign \(InvalidParameterValue\.TemplateParameterFormatError/);
  });

  it('maps codes to kinds', () => {
    assert.deepEqual(tencentFailureKind('AuthFailure.SignatureExpire'), { kind: 'auth' });
    assert.deepEqual(tencentFailureKind('LimitExceeded.PhoneNumberDailyLimit'), { kind: 'throttled' });
    assert.deepEqual(tencentFailureKind('FailedOperation.TemplateIncorrectOrUnapproved'), {
      kind: 'template',
    });
    assert.deepEqual(tencentFailureKind('InternalError.Timeout'), { kind: 'provider' });
    assert.deepEqual(tencentFailureKind('FailedOperation.InsufficientBalanceInSmsPackage'), {
      kind: 'provider',
      retryable: false,
    });
  });
});
