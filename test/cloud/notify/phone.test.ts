/**
 * Phone numbers in the roster: normalised to E.164, refused with the path named; sms/voice/smpp
 * addresses take the person's number; a voice address is used for critical 提醒/督办 only by default.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EscalationConfig } from '../../../cloud/escalation/config.js';
import { DutyResolver } from '../../../cloud/escalation/roster.js';
import { addressApplies, maskPhone, nationalNumber, parsePhone } from '../../../cloud/notify/phone.js';
import { alarmCase, request } from './support.js';

const person = (extra: Record<string, unknown>) => ({
  id: 'wang',
  name: '王芳',
  site: 'pudong/zhangjiang/lane-100',
  roles: ['duty'],
  ...extra,
});

function issues(input: unknown): string[] {
  const r = EscalationConfig.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('phone numbers', () => {
  it('normalises mainland mobiles and E.164 input to E.164', () => {
    const cases: [string, string][] = [
      ['13800138000', '+8613800138000'],
      ['138 0013 8000', '+8613800138000'],
      ['138-0013-8000', '+8613800138000'],
      ['+86 138 0013 8000', '+8613800138000'],
      ['008613800138000', '+8613800138000'],
      ['+85291234567', '+85291234567'],
      ['19912345678', '+8619912345678'],
    ];
    for (const [typed, e164] of cases) assert.deepEqual(parsePhone(typed), { ok: true, e164 }, typed);
  });

  it('refuses what is not a mobile number, saying what was expected', () => {
    for (const bad of [
      '',
      '12800138000',
      '1380013800',
      '138001380001',
      '+8602112345678',
      '021-12345678',
      'abc',
      '+0123456789',
      '13800138000x',
    ])
      assert.equal(parsePhone(bad).ok, false, bad);
    const r = parsePhone('12345');
    assert.ok(!r.ok && r.reason.includes('E.164'));
  });

  it('national forms for mainland services, masked forms for logs', () => {
    assert.equal(nationalNumber('+8613800138000'), '13800138000');
    assert.equal(nationalNumber('+85291234567'), '85291234567');
    assert.equal(maskPhone('+8613800138000'), '+86138****8000');
  });

  it('config errors name the path of the bad number and of a phone address without one', () => {
    assert.deepEqual(issues({ people: [person({ phone: '12345' })] }), [
      'people.0.phone: "12345" is not E.164 (+8613800138000) or a mainland mobile of 11 digits (13800138000)',
    ]);
    assert.deepEqual(
      issues({ people: [person({ channels: [{ kind: 'email', address: 'a@b.cn' }, { kind: 'sms' }] })] }),
      [
        'people.0.channels.1.phone: a sms address needs a phone number: give the person a phone or the address one',
      ],
    );
    assert.deepEqual(
      issues({
        people: [person({ phone: '13800138000', channels: [{ kind: 'voice', phone: '+86 021 1234' }] })],
      }).length,
      1,
    );
  });

  it('the roster gives phone addresses the person’s number, and the person’s phone to robots', () => {
    const config = EscalationConfig.parse({
      people: [
        person({
          phone: '138 0013 8000',
          channels: [
            { kind: 'wecom', webhookUrl: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k' },
            { kind: 'sms' },
            { kind: 'smpp', phone: '13900139000' },
            { kind: 'voice' },
          ],
        }),
      ],
    });
    const r = new DutyResolver(config).recipient('wang');
    assert.equal(r?.phone, '+8613800138000');
    assert.deepEqual(r?.channels.slice(1), [
      { kind: 'sms', phone: '+8613800138000' },
      { kind: 'smpp', phone: '+8613900139000' },
      {
        kind: 'voice',
        phone: '+8613800138000',
        when: { severities: ['critical'], stages: ['remind', 'supervise'] },
      },
    ]);
  });

  it('a voice address is used for critical cases at 提醒 and 督办 only, unless told otherwise', () => {
    const voice = {
      kind: 'voice' as const,
      phone: '+8613800138000',
      when: { severities: ['critical' as const], stages: ['remind' as const, 'supervise' as const] },
    };
    const critical = alarmCase({ severity: 'critical' });
    const major = alarmCase({ severity: 'major' });
    assert.equal(addressApplies(voice, request({ stage: 'warn', cases: [critical] })), false);
    assert.equal(addressApplies(voice, request({ stage: 'remind', cases: [critical] })), true);
    assert.equal(addressApplies(voice, request({ stage: 'remind', cases: [major] })), false);
    assert.equal(addressApplies(voice, request({ stage: 'supervise', cases: [major, critical] })), true);
    assert.equal(
      addressApplies({ kind: 'sms', phone: '+8613800138000' }, request({ stage: 'warn', cases: [major] })),
      true,
    );
  });
});
