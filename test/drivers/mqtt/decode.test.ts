import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeMqttMessage,
  defineMqttJsonProfile,
  type MqttDecodeResult,
  matchTopic,
  mqttProfiles,
  validateMqttJsonProfile,
} from '../../../drivers/mqtt/index.js';
import { catalogue } from '../../../drivers/profiles/catalogue/index.js';
import { isDoorstepError, Reading } from '../../../protocol/index.js';

const jsonSmokeGeneric = mqttProfiles['json-smoke-generic']!;

const NOW = 1_700_000_000_000;
const devices = { '861234567890123': 'smoke-3f-01' };
const decode = (payload: string | Buffer, topic = 'smoke/861234567890123/state') =>
  decodeMqttMessage(jsonSmokeGeneric, topic, Buffer.from(payload), { devices, now: NOW });

function rejected(result: MqttDecodeResult): { reason: string; message: string } {
  assert.equal(result.ok, false, 'expected a rejection');
  if (result.ok) throw new Error('unreachable');
  assert.ok(isDoorstepError(result.error, 'DRV_ERR_MQTT_PAYLOAD'));
  return { reason: result.reason, message: result.error.message };
}

describe('MQTT JSON decoding', () => {
  it('decodes the generic smoke payload (golden)', () => {
    const result = decode('{"smoke":true,"battery":87,"rssi":-71}');
    assert.ok(result.ok);
    for (const reading of result.readings) Reading.parse(reading);
    assert.deepEqual(
      result.readings.map((r) => [r.point, r.value, r.unit, r.quality, r.ts]),
      [
        ['smoke', true, '', 'good', NOW],
        ['battery', 87, '%', 'good', NOW],
        ['battery_low', false, '', 'good', NOW],
        ['signal', -71, 'dBm', 'good', NOW],
      ],
    );
    assert.equal(result.device, 'smoke-3f-01');
  });

  it('uses the device timestamp when plausible, gateway time when the clock is off', () => {
    const fresh = decode(`{"smoke":false,"battery":12,"ts":${NOW / 1000 - 30}}`);
    assert.ok(fresh.ok && fresh.ts === NOW - 30_000 && !fresh.clockSkewed);
    assert.deepEqual(fresh.readings.find((r) => r.point === 'battery_low')?.value, true);
    const epochZero = decode('{"smoke":true,"ts":86400}'); // an RTC that never synced
    assert.ok(epochZero.ok && epochZero.ts === NOW && epochZero.clockSkewed);
    assert.equal(rejected(decode('{"smoke":true,"ts":"yesterday"}')).reason, 'bad_timestamp');
  });

  it('scales numbers and marks out-of-range values uncertain', () => {
    const profile = defineMqttJsonProfile({
      id: 'json-gas-test',
      description: 'test',
      kind: 'gas',
      topic: 'site/+/gas',
      timestamp: { field: 'meta.time', unit: 'iso8601' },
      fields: [
        { field: 'data.lel_x10', point: 'gas', type: 'integer', unit: '%LEL', scale: 0.1, range: [0, 100] },
      ],
    });
    const result = decodeMqttMessage(
      profile,
      'site/g1/gas',
      Buffer.from(`{"data":{"lel_x10":1234},"meta":{"time":"${new Date(NOW - 5000).toISOString()}"}}`),
      { devices: { g1: 'gas-1' }, now: NOW },
    );
    assert.ok(result.ok);
    assert.deepEqual(result.readings, [
      { device: 'gas-1', point: 'gas', value: 123.4, unit: '%LEL', quality: 'uncertain', ts: NOW - 5000 },
    ]);
  });

  it('rejects bad input with DRV_ERR_MQTT_PAYLOAD naming what was wrong', () => {
    assert.equal(rejected(decode('{"smoke":tru')).reason, 'not_json');
    assert.equal(rejected(decode('[1,2]')).reason, 'not_object');
    assert.equal(rejected(decode('42')).reason, 'not_object');
    const wrongType = rejected(decode('{"smoke":"yes","battery":87}'));
    assert.equal(wrongType.reason, 'wrong_type');
    assert.match(
      wrongType.message,
      /smoke\/861234567890123\/state rejected: field smoke is a string, expected boolean/,
    );
    assert.equal(rejected(decode('{"smoke":true,"battery":"87"}')).reason, 'wrong_type');
    assert.equal(rejected(decode('{"battery":87}')).reason, 'missing_field');
    assert.equal(rejected(decode('{"smoke":true}', 'smoke/999/state')).reason, 'unknown_device');
    assert.equal(rejected(decode('{"smoke":true}', 'smoke/a/b/state')).reason, 'unmatched_topic');
    assert.equal(rejected(decode(Buffer.alloc(64 * 1024, 0x20))).reason, 'too_large');
  });

  it('a fire alarm survives an unknown extra field', () => {
    const result = decode('{"smoke":true,"firmware":"2.1","battery":50}');
    assert.ok(result.ok && result.readings[0]?.value === true);
  });

  it('matches topics with one + level only', () => {
    assert.equal(matchTopic('smoke/+/state', 'smoke/abc/state'), 'abc');
    assert.equal(matchTopic('smoke/+/state', 'smoke//state'), undefined);
    assert.equal(matchTopic('smoke/+/state', 'smoke/abc/state/x'), undefined);
    assert.equal(matchTopic('smoke/+/state', 'gas/abc/state'), undefined);
  });
});

describe('MQTT JSON profiles', () => {
  it('registers every built-in profile', () => {
    const exported = [...catalogue.values()].flatMap((p) => (p.type === 'mqtt' ? [p.profile] : []));
    assert.ok(exported.length >= 2);
    for (const profile of exported) assert.equal(mqttProfiles[(profile as { id: string }).id], profile);
    assert.equal(Object.keys(mqttProfiles).length, exported.length);
  });

  it('reports every problem of a bad declaration with its path', () => {
    const result = validateMqttJsonProfile({
      id: 'bad',
      description: 'x',
      kind: 'smoke',
      topic: 'a/+/+/#',
      fields: [
        { field: 'smoke', point: 'smoke', type: 'boolean', scale: 2 },
        { field: 'battery', point: 'battery', type: 'number', flagBelow: { point: 'smoke', below: 20 } },
        { field: 'text', point: 'note', type: 'string', range: [0, 1] },
      ],
    });
    assert.equal(result.ok, false);
    const problems = result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
    for (const expected of [
      /^topic: needs exactly one "\+" level/,
      /^topic: "#" is not allowed/,
      /^fields\.0\.scale: a boolean field cannot be scaled/,
      /^fields\.1: point "smoke" is produced twice/,
      /^fields\.2: range and flagBelow need a number field/,
    ]) {
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${expected} in ${problems.join(' | ')}`,
      );
    }
    const schema = validateMqttJsonProfile({ id: 'Bad', kind: 'smoke', topic: 'a/+', fields: [] });
    assert.deepEqual(schema.ok ? [] : schema.problems.map((p) => p.path).sort(), [
      'description',
      'fields',
      'id',
    ]);
  });
});
