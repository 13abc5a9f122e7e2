import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import mqtt, { type IConnackPacket } from 'mqtt';
import type { AlarmTransition } from '../../../protocol/alarm.js';
import {
  brokerEvent,
  clientEvent,
  closeClient,
  collect,
  GATEWAY,
  PASSWORDS,
  Resources,
  startBroker,
  subscribeGranted,
} from './helpers.js';

const resources = new Resources();
after(() => resources.dispose());

function transition(n: number): AlarmTransition {
  return {
    id: `alm-outage-${n}`,
    gateway: GATEWAY,
    device: `smoke-${n}`,
    type: 'smoke',
    severity: 'critical',
    state: 'raised',
    value: true,
    ts: 1_700_000_000_000 + n,
    test: false,
    latched: true,
  };
}

describe('QoS 1 delivery across a subscriber outage (MQTT 3.1.1 §3.1.2.4, §4.4)', () => {
  it('a persistent-session subscriber that was away receives every alarm published meanwhile', async () => {
    const { broker, publisher, port } = await startBroker(resources);
    const options = {
      host: '127.0.0.1',
      port,
      protocolVersion: 4 as const,
      reconnectPeriod: 0,
      clientId: 'duty-console',
      clean: false,
      username: 'watcher',
      password: PASSWORDS.watcher,
    };

    const first = mqtt.connect(options);
    resources.add(() => closeClient(first));
    await clientEvent(first, 'connect');
    assert.deepEqual(await subscribeGranted(first, [`doorstep/${GATEWAY}/alarms/+/+`], 1), [1]);
    const gone = brokerEvent(broker, 'clientDisconnect', (e) => e.clientId === 'duty-console');
    await closeClient(first);
    await gone;

    // The outage: three alarms while nobody from duty-console is connected.
    for (const n of [1, 2, 3]) await publisher.publishAlarm(transition(n));

    const second = mqtt.connect(options);
    resources.add(() => closeClient(second));
    const inbox = collect(second); // listening before CONNACK: queued messages follow it at once
    const [connack] = (await clientEvent(second, 'connect')) as [IConnackPacket];
    assert.equal(connack.sessionPresent, true, 'the broker kept the session (§3.2.2.2)');
    await inbox.next(3);
    assert.deepEqual(
      inbox.messages.map((m) => JSON.parse(m.payload).id),
      ['alm-outage-1', 'alm-outage-2', 'alm-outage-3'],
    );
    assert.ok(inbox.messages.every((m) => m.qos === 1 && !m.retain));
  });

  it('a clean-session subscriber gets nothing from its outage (so the test above measures the session)', async () => {
    const { broker, publisher, port } = await startBroker(resources);
    const options = {
      host: '127.0.0.1',
      port,
      protocolVersion: 4 as const,
      reconnectPeriod: 0,
      clientId: 'dashboard',
      clean: true,
      username: 'watcher',
      password: PASSWORDS.watcher,
    };
    const first = mqtt.connect(options);
    resources.add(() => closeClient(first));
    await clientEvent(first, 'connect');
    await subscribeGranted(first, [`doorstep/${GATEWAY}/alarms/+/+`], 1);
    const gone = brokerEvent(broker, 'clientDisconnect', (e) => e.clientId === 'dashboard');
    await closeClient(first);
    await gone;
    await publisher.publishAlarm(transition(9));

    const second = mqtt.connect(options);
    resources.add(() => closeClient(second));
    const inbox = collect(second);
    const [connack] = (await clientEvent(second, 'connect')) as [IConnackPacket];
    assert.equal(connack.sessionPresent, false);
    await subscribeGranted(second, [`doorstep/${GATEWAY}/alarms/+/+`], 1);
    // A marker after the resubscription arrives first and alone: nothing from the outage was kept.
    await broker.publish({ topic: `doorstep/${GATEWAY}/alarms/marker/smoke`, payload: 'marker', qos: 1 });
    await inbox.next(1);
    assert.deepEqual(
      inbox.messages.map((m) => m.payload),
      ['marker'],
    );
  });
});
