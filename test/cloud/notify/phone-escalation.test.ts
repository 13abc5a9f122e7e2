/**
 * The whole path for the channels that wake people: a policy, a critical gas case raised, the
 * escalation engine and worker, the real notifier with the Aliyun SMS and voice channels, the
 * SMPP channel and a WeCom robot — against the Aliyun emulator, a local SMSC (the smpp package's
 * server) and an HTTP receiver. The first notice (预警) goes out by SMS, SMPP and an @-ing WeCom
 * message; nobody acknowledges; the 提醒 three minutes later also rings the phone.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { NotifyConfig } from '../../../cloud/config/schema.js';
import { Policy } from '../../../cloud/escalation/policy.js';
import { AliyunSmsChannel, AliyunVoiceChannel } from '../../../cloud/notify/channels/aliyun.js';
import { SmppChannel } from '../../../cloud/notify/channels/smpp.js';
import { createNotifier } from '../../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import { type AliyunEmulator, startAliyunEmulator } from '../../support/aliyun.js';
import { type Smsc, startSmsc } from '../../support/smsc.js';
import {
  DIRECTORY,
  event,
  MIN,
  makeCase,
  RecordingNotifier,
  rig,
  T0,
  VirtualTime,
} from '../escalation/support.js';
import { type Receiver, startReceiver } from './support.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const KEY = { accessKeyId: 'LTAI5tEscalation', accessKeySecret: 'escalation-test-secret-0123456789' };

describe('a critical case reaches the person on duty by SMS, SMPP, an @ and a voice call', () => {
  it('预警 by SMS + SMPP + WeCom @; unacknowledged 提醒 rings the phone', async () => {
    const time = new VirtualTime(T0);
    const emu: AliyunEmulator = await startAliyunEmulator({
      keys: { [KEY.accessKeyId]: KEY.accessKeySecret },
      signNames: ['浦东消防物联'],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Aliyun's template syntax, not a JS template
      smsTemplates: { SMS_480000001: '【${stage}】${site}${location}${type}，${value}，请立即处置。' },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Aliyun's template syntax, not a JS template
      ttsTemplates: { TTS_280000001: '${site}${location}${type}，尚未确认，请立即处置。' },
      clock: time.clock,
    });
    cleanup.push(() => emu.close());
    const smsc: Smsc = await startSmsc({ systemId: 'doorstep', password: 'pw123456' });
    cleanup.push(() => smsc.close());
    const robot: Receiver = await startReceiver(() => ({ status: 200, body: { errcode: 0, errmsg: 'ok' } }));
    cleanup.push(() => robot.close());

    const notify = NotifyConfig.parse({
      sms: {
        endpoint: emu.url,
        ...KEY,
        signName: '浦东消防物联',
        templateCode: 'SMS_480000001',
        params: ['stage', 'site', 'location', 'type', 'value'],
      },
      voice: { endpoint: emu.url, ...KEY, ttsCode: 'TTS_280000001', params: ['site', 'location', 'type'] },
      smpp: { url: smsc.url, systemId: 'doorstep', password: 'pw123456', sourceAddr: '1065900012345' },
    });
    const smpp = new SmppChannel(notify.smpp!);
    cleanup.push(() => smpp.close());
    const store = new MemoryNotificationStore();
    assert.equal(notify.sms?.provider, 'aliyun');
    if (notify.sms?.provider !== 'aliyun') return;
    const real = createNotifier({
      store,
      channels: {
        sms: new AliyunSmsChannel(notify.sms),
        voice: new AliyunVoiceChannel(notify.voice!),
        smpp,
      },
      clock: time.clock,
      timeoutMs: 5_000,
      publicUrl: 'https://cloud.example/',
    });
    // wang is on the day shift of lane-100 at T0 (10:00); the others keep no address here.
    const people = (DIRECTORY.people ?? []).map((p) =>
      p.id === 'wang'
        ? {
            ...p,
            phone: '138 0013 8000',
            channels: [
              { kind: 'wecom' as const, webhookUrl: `${robot.url}/cgi-bin/webhook/send?key=lane-100-robot` },
              { kind: 'sms' as const },
              { kind: 'smpp' as const },
              { kind: 'voice' as const },
            ],
          }
        : { ...p, channels: [] },
    );
    const policy = Policy.parse({
      id: 'gas-critical',
      version: 1,
      match: { severities: ['critical'] },
      steps: [
        {
          delayMs: 0,
          condition: 'always',
          stage: 'warn',
          targets: [{ kind: 'role', role: 'duty', tier: 'community' }],
        },
        {
          delayMs: 3 * MIN,
          condition: 'not_acked',
          stage: 'remind',
          targets: [{ kind: 'role', role: 'duty', tier: 'community' }],
        },
      ],
      deliveryFailure: { afterFailedSends: 2, fallback: [{ kind: 'role', role: 'duty', tier: 'town' }] },
    });
    const r = await rig({
      time,
      config: { people },
      policies: [policy],
      notifier: new RecordingNotifier(time.clock, real),
    });
    cleanup.push(() => r.stop());

    const gas = makeCase({
      id: 'gas-1',
      type: 'gas_high',
      severity: 'critical',
      location: '3号楼2单元 厨房',
      value: 52.5,
    });
    await r.engine.onCaseEvent(event('raised', gas, T0));
    await r.advanceTo(T0 + 2_000);

    // 预警: SMS with the template parameters, the SMSC's UCS-2 text, the robot's @ — no call yet.
    assert.equal(emu.sms.length, 1);
    assert.equal(emu.sms[0]?.phone, '13800138000');
    assert.equal(
      emu.sms[0]?.text,
      '【浦东消防物联】【预警】lane-1003号楼2单元 厨房可燃气体高限报警，52.5 %LEL，请立即处置。',
    );
    assert.equal(smsc.messages.length, 1);
    assert.equal(smsc.messages[0]?.destination, '8613800138000');
    assert.ok(smsc.messages[0]?.text.startsWith('【预警】紧急 · 可燃气体高限报警'), smsc.messages[0]?.text);
    const wecom = robot.requests[0]?.json() as { msgtype: string; text: { mentioned_mobile_list: string[] } };
    assert.equal(wecom.msgtype, 'text');
    assert.deepEqual(wecom.text.mentioned_mobile_list, ['13800138000']);
    assert.equal(emu.calls.length, 0, 'no call for a first notice');
    const warnRequest = r.notifier.sent[0]?.request.id ?? '';
    assert.deepEqual((await store.deliveriesByRequest(warnRequest)).map((d) => [d.channel, d.state]).sort(), [
      ['smpp', 'delivered'],
      ['sms', 'delivered'],
      ['wecom', 'delivered'],
    ]);

    // Nobody acknowledges: the 提醒 after 3 minutes also places the voice call.
    await r.advanceTo(T0 + 3 * MIN + 2_000);
    assert.equal(emu.calls.length, 1);
    assert.deepEqual(emu.calls[0]?.params, {
      site: 'lane-100',
      location: '3号楼2单元 厨房',
      type: '可燃气体高限报警',
    });
    assert.equal(emu.calls[0]?.spoken, 'lane-1003号楼2单元 厨房可燃气体高限报警，尚未确认，请立即处置。');
    assert.equal(emu.sms.length, 2);
    assert.equal(r.notifier.sent.map((s) => s.request.stage).join(','), 'warn,remind');
  });
});
