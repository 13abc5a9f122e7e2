/**
 * The phone channels' configuration: the README's example parses as documented (defaults
 * filled), and mistakes are refused with the path named.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { NotifyConfig } from '../../../cloud/config/schema.js';
import { EscalationConfig } from '../../../cloud/escalation/config.js';

const README = new URL('../../../cloud/notify/README.md', import.meta.url).pathname;

function issues(input: unknown): string[] {
  const r = NotifyConfig.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('notify.sms / voice / smpp configuration', () => {
  it('the example in cloud/notify/README.md parses, with the documented defaults', () => {
    const text = readFileSync(README, 'utf8');
    const block = /### Phone channels[\s\S]*?```yaml\n([\s\S]*?)```/.exec(text)?.[1];
    assert.ok(block, 'the README has the example');
    const doc = parse(block) as { notify: unknown; escalation: unknown };
    const notify = NotifyConfig.parse(doc.notify);
    assert.equal(notify.sms?.endpoint, 'https://dysmsapi.aliyuncs.com/');
    assert.equal(notify.sms?.provider === 'aliyun' && notify.sms.regionId, 'cn-hangzhou');
    assert.equal(notify.sms?.maxParamChars, 35);
    assert.deepEqual(notify.sms?.params, ['stage', 'site', 'location', 'type', 'value']);
    assert.equal(notify.voice?.endpoint, 'https://dyvmsapi.aliyuncs.com/');
    assert.deepEqual(notify.voice?.params, ['severity', 'type', 'site', 'location']);
    assert.equal(notify.smpp?.longMessages, 'udh');
    const escalation = EscalationConfig.parse(doc.escalation);
    assert.equal(escalation.people[0]?.phone, '+8613800138000');
    assert.deepEqual(escalation.people[0]?.channels[2], {
      kind: 'voice',
      when: { severities: ['critical'], stages: ['remind', 'supervise'] },
    });
  });

  it('refuses mistakes with their path', () => {
    const sms = { accessKeyId: 'id', accessKeySecret: 's', signName: '签名', templateCode: 'SMS_1' };
    assert.deepEqual(issues({ sms: { ...sms, templateCode: '480000001' } }), [
      'sms.templateCode: must be an Aliyun template code (SMS_ and digits)',
    ]);
    assert.deepEqual(issues({ sms: { ...sms, params: ['type', 'type'] } }), [
      'sms.params: a variable is listed twice',
    ]);
    assert.equal(issues({ sms: { ...sms, params: ['colour'] } })[0]?.startsWith('sms.params.0:'), true);
    assert.deepEqual(
      issues({ voice: { accessKeyId: 'id', accessKeySecret: 's', ttsCode: 'TTS_1', playTimes: 5 } }).length,
      1,
    );
    const smpp = { url: 'smpp://127.0.0.1:2775', systemId: 'doorstep', password: 'pw', sourceAddr: '106590' };
    assert.deepEqual(issues({ smpp: { ...smpp, url: 'http://smsc:2775' } }), [
      'smpp.url: must be smpp://host:port or ssmpp://host:port',
    ]);
    assert.equal(
      issues({ smpp: { ...smpp, password: 'longer-than-8' } })[0]?.startsWith('smpp.password:'),
      true,
    );
    assert.deepEqual(issues({ smpp }), []);
    assert.deepEqual(issues({ perChannel: { sms: { timeoutMs: 5000 }, smpp: { concurrency: 2 } } }), []);
  });
});
