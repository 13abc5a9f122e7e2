import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import mqtt, { type IConnackPacket } from 'mqtt';
import { hashPassword } from '../../../common/password.js';
import type { AlarmTransition } from '../../../protocol/alarm.js';
import {
  brokerEvent,
  clientEvent,
  closeClient,
  collect,
  FAST_SCRYPT,
  GATEWAY,
  PASSWORDS,
  Resources,
  standardUsers,
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
      clientId: 'watcher-duty-console',
      clean: false,
      username: 'watcher',
      password: PASSWORDS.watcher,
    };

    const first = mqtt.connect(options);
    resources.add(() => closeClient(first));
    await clientEvent(first, 'connect');
    assert.deepEqual(await subscribeGranted(first, [`doorstep/${GATEWAY}/alarms/+/+`], 1), [1]);
    const gone = brokerEvent(broker, 'clientDisconnect', (e) => e.clientId === 'watcher-duty-console');
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
      clientId: 'watcher-dashboard',
      clean: true,
      username: 'watcher',
      password: PASSWORDS.watcher,
    };
    const first = mqtt.connect(options);
    resources.add(() => closeClient(first));
    await clientEvent(first, 'connect');
    await subscribeGranted(first, [`doorstep/${GATEWAY}/alarms/+/+`], 1);
    const gone = brokerEvent(broker, 'clientDisconnect', (e) => e.clientId === 'watcher-dashboard');
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

describe('client ids are bound to their user (MQTT 3.1.1 §3.1.4: a CONNECT with an id in use takes its session over)', () => {
  it('another user cannot take over a persistent session by its client id, nor get its queued alarms', async () => {
    const { broker, publisher, port } = await startBroker(resources);
    const base = { host: '127.0.0.1', port, protocolVersion: 4 as const, reconnectPeriod: 0 };
    const owner = mqtt.connect({
      ...base,
      clientId: 'watcher-console',
      clean: false,
      username: 'watcher',
      password: PASSWORDS.watcher,
    });
    resources.add(() => closeClient(owner));
    await clientEvent(owner, 'connect');
    await subscribeGranted(owner, [`doorstep/${GATEWAY}/alarms/+/+`], 1);
    const gone = brokerEvent(broker, 'clientDisconnect', (e) => e.clientId === 'watcher-console');
    await closeClient(owner);
    await gone;
    await publisher.publishAlarm(transition(21));

    // The sensor user knows the id and asks for the stored session: refused with 2 "identifier rejected".
    const refused = brokerEvent(broker, 'refused', (e) => e.clientId === 'watcher-console');
    const thief = mqtt.connect({
      ...base,
      clientId: 'watcher-console',
      clean: false,
      username: 'sensor-a',
      password: PASSWORDS.sensor,
    });
    resources.add(() => closeClient(thief));
    const thiefInbox = collect(thief);
    const [error] = (await clientEvent(thief, 'error')) as [Error & { code?: number }];
    assert.equal(error.code, 2);
    assert.match((await refused)[0].reason, /client id belongs to another user/);
    assert.equal(thiefInbox.messages.length, 0);

    // The owner still finds its session and the alarm queued for it.
    const back = mqtt.connect({
      ...base,
      clientId: 'watcher-console',
      clean: false,
      username: 'watcher',
      password: PASSWORDS.watcher,
    });
    resources.add(() => closeClient(back));
    const inbox = collect(back);
    const [connack] = (await clientEvent(back, 'connect')) as [IConnackPacket];
    assert.equal(connack.sessionPresent, true);
    await inbox.next(1);
    assert.equal(JSON.parse(inbox.messages[0]!.payload).id, 'alm-outage-21');
  });

  it('a client that sends no id gets one from the broker; a user’s own prefix is configurable', async () => {
    const { port } = await startBroker(resources, {
      users: [
        ...(await standardUsers()),
        {
          username: 'lane-receiver',
          clientIdPrefix: 'RX900',
          passwordHash: await hashPassword('rx-secret', FAST_SCRYPT),
        },
      ],
    });
    const base = { host: '127.0.0.1', port, protocolVersion: 4 as const, reconnectPeriod: 0 };
    const anonymousId = mqtt.connect({
      ...base,
      clientId: '',
      clean: true,
      username: 'watcher',
      password: PASSWORDS.watcher,
    });
    resources.add(() => closeClient(anonymousId));
    await clientEvent(anonymousId, 'connect');
    const firmware = mqtt.connect({
      ...base,
      clientId: 'RX900-0012',
      username: 'lane-receiver',
      password: 'rx-secret',
    });
    resources.add(() => closeClient(firmware));
    await clientEvent(firmware, 'connect');
    // Its old default (the username) is no longer its own: nobody owns it, so a user is refused.
    const wrong = mqtt.connect({
      ...base,
      clientId: 'lane-receiver-1',
      username: 'lane-receiver',
      password: 'rx-secret',
    });
    resources.add(() => closeClient(wrong));
    const [error] = (await clientEvent(wrong, 'error')) as [Error & { code?: number }];
    assert.equal(error.code, 2);
  });
});
