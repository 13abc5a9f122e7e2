import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { SerialPort } from 'serialport';
import { hashPassword } from '../../../common/password.js';
import { buildEdge, type Edge } from '../../../edge/runtime/gateway.js';
import type { DeviceLinkState, Reading } from '../../../protocol/index.js';
import { openPtyPair, type PtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';
import { eventually, gatewayConfig } from './helpers.js';

/**
 * A push report that contradicts itself — a wireless or MQTT gas detector sending its alarm with
 * 0 %LEL — marks the readings uncertain AND makes the device faulty with DRV_ERR_IMPLAUSIBLE and
 * the reason, as a register device is (issue 14); a report that agrees again brings it back online.
 * Frames go over a real pty (socat) written by serialport; MQTT through the gateway's own broker.
 */
const FRAME_PROFILE = `type: frame
id: wireless-gas-test
version: 1
description: Wireless gas detector behind an ASCII receiver, concentration in 0.1 %LEL
kind: gas
detectorType: 7
hasTamper: false
layout:
  codec: ascii
  start: "$"
  end: "\\r\\n"
  separator: ","
  checksum: { kind: sum8, mark: "*" }
  fields:
    - { name: receiver, type: uint }
    - { name: detector, type: alnum }
    - { name: state, type: uint }
    - { name: value, type: int }
points:
  gas: {}
  gas_al1: {}
  fault: { name: Fault, valueType: boolean, priority: normal }
states:
  "0": { label: normal, set: { gas_al1: false, fault: false } }
  "1": { label: alarm, set: { gas_al1: true, fault: false } }
value: { point: gas, scale: 0.1 }
`;

const MQTT_PROFILE = `type: mqtt
id: json-gas-test
version: 1
description: NB-IoT gas detector publishing JSON
kind: gas
topic: gas/+/state
fields:
  - { field: lel, point: gas, type: number, required: true }
  - { field: al1, point: gas_al1, type: boolean }
`;

function sum8(text: string): string {
  let s = 0;
  for (const c of Buffer.from(text, 'latin1')) s = (s + c) & 0xff;
  return s.toString(16).toUpperCase().padStart(2, '0');
}

function frame(state: number, tenthsLel: number): Buffer {
  const body = `1,G01,${state},${tenthsLel}`;
  return Buffer.from(`$${body}*${sum8(body)}\r\n`, 'latin1');
}

describe('contradictory push reports make the device faulty', () => {
  const dir = tempDir('doorstep-implausible-push-');
  let pty: PtyPair;
  let writer: SerialPort;
  let edge: Edge;
  const states: DeviceLinkState[] = [];
  const readings: Reading[] = [];
  const password = 'sensor-password';

  before(async () => {
    writeFileSync(join(dir.path, 'wireless-gas-test.yaml'), FRAME_PROFILE);
    writeFileSync(join(dir.path, 'json-gas-test.yaml'), MQTT_PROFILE);
    pty = await openPtyPair();
    writer = new SerialPort({ path: pty.b, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => writer.open((e) => (e ? reject(e) : resolve())));
    const config = gatewayConfig({
      gateway: { id: 'gw-implausible', site: { district: 'd1', town: 't1', community: 'c1' } },
      buses: [
        { id: 'radio', type: 'frames', port: pty.a, baudRate: 9600, codec: 'ascii', offlineAfterMs: 60_000 },
        { id: 'sensors', type: 'mqtt', offlineAfterMs: 60_000 },
      ],
      devices: [
        {
          id: 'gas-w1',
          bus: 'radio',
          profile: join(dir.path, 'wireless-gas-test.yaml'),
          detector: 'G01',
          location: '食堂 厨房',
        },
        {
          id: 'gas-nb1',
          bus: 'sensors',
          profile: join(dir.path, 'json-gas-test.yaml'),
          topicId: 'g-001',
          location: '锅炉房',
        },
      ],
      storage: { dataDir: dir.path },
      broker: {
        port: 0,
        users: [
          {
            username: 'sensor',
            passwordHash: await hashPassword(password),
            acl: { publish: ['sensors/#'], subscribe: [] },
          },
        ],
      },
      health: { port: 0 },
    });
    edge = buildEdge(config);
    edge.onDeviceState((s) => states.push(s));
    edge.onReadings((r) => readings.push(...r));
    await edge.start();
  });

  after(async () => {
    if (writer?.isOpen) await new Promise<void>((resolve) => writer.close(() => resolve()));
    await edge?.stop();
    await pty?.close();
    dir.dispose();
  });

  const send = (bytes: Buffer) =>
    new Promise<void>((resolve, reject) =>
      writer.write(bytes, (e) => (e ? reject(e) : writer.drain((d) => (d ? reject(d) : resolve())))),
    );

  it('frames on a pty: alarm with 0 %LEL → faulty with the reason; agreeing frames → online', async () => {
    await send(Buffer.concat([Buffer.from('noise#'), frame(0, 0)]));
    await eventually(() => edge.health().devices['gas-w1']?.state === 'online', 10_000, 'online');

    const before = readings.length;
    await send(frame(1, 0));
    const faulty = await eventually(
      () => states.find((s) => s.device === 'gas-w1' && s.state === 'faulty'),
      10_000,
      'faulty',
    );
    assert.equal(faulty.reason, 'DRV_ERR_IMPLAUSIBLE');
    assert.match(faulty.detail ?? '', /gas_al1 is set while gas = 0 %LEL/);
    assert.equal(edge.health().devices['gas-w1']?.state, 'faulty');
    const alarm = await eventually(
      () => readings.slice(before).find((r) => r.device === 'gas-w1' && r.point === 'gas_al1'),
      10_000,
      'gas_al1 reading',
    );
    assert.equal(alarm.value, true);
    assert.equal(alarm.quality, 'uncertain', 'the contradicted alarm output is not trusted');

    await send(frame(1, 250)); // AL1 at 25 %LEL: consistent
    await eventually(() => edge.health().devices['gas-w1']?.state === 'online', 10_000, 'online again');
    const gas = readings.filter((r) => r.device === 'gas-w1' && r.point === 'gas').at(-1);
    assert.deepEqual([gas?.value, gas?.quality], [25, 'good']);
  });

  it('MQTT through the local broker: the same contradiction → faulty; agreeing → online', async () => {
    const b = edge.brokerAddress()!;
    const sensor = await mqtt.connectAsync(`mqtt://${b.host}:${b.port}`, {
      username: 'sensor',
      clientId: 'sensor-gas',
      password,
    });
    try {
      const publish = (doc: object) =>
        sensor.publishAsync('sensors/gas/g-001/state', JSON.stringify(doc), { qos: 1 });
      await publish({ lel: 0, al1: false });
      await eventually(() => edge.health().devices['gas-nb1']?.state === 'online', 10_000, 'online');
      await publish({ lel: 0, al1: true });
      const faulty = await eventually(
        () => states.find((s) => s.device === 'gas-nb1' && s.state === 'faulty'),
        10_000,
        'faulty',
      );
      assert.equal(faulty.reason, 'DRV_ERR_IMPLAUSIBLE');
      assert.match(faulty.detail ?? '', /gas_al1 is set while gas = 0 %LEL/);
      const al1 = readings.filter((r) => r.device === 'gas-nb1' && r.point === 'gas_al1').at(-1);
      assert.deepEqual([al1?.value, al1?.quality], [true, 'uncertain']);

      await publish({ lel: 140, al1: false }); // 140 %LEL is outside 0–100: still faulty, new reason
      await eventually(
        () =>
          states.find(
            (s) =>
              s.device === 'gas-nb1' &&
              s.state === 'faulty' &&
              /outside its physical range/.test(s.detail ?? ''),
          ),
        10_000,
        'faulty with the range reason',
      );
      await publish({ lel: 12, al1: true });
      await eventually(() => edge.health().devices['gas-nb1']?.state === 'online', 10_000, 'online again');
    } finally {
      await sensor.endAsync();
    }
  });
});
