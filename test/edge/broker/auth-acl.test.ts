import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalBroker } from '../../../edge/broker/local-broker.js';
import {
  brokerEvent,
  clientEvent,
  collect,
  connectClient,
  GATEWAY,
  PASSWORDS,
  Resources,
  startBroker,
  subscribeGranted,
} from './helpers.js';

const resources = new Resources();
let broker: LocalBroker;
let port: number;

before(async () => {
  ({ broker, port } = await startBroker(resources, { limits: { maxPayloadBytes: 1024 } }));
});
after(() => resources.dispose());

/** The CONNACK return code a refused connection reports (mqtt.js ErrorWithReasonCode.code). */
async function refusalCode(options: Parameters<typeof connectClient>[2]): Promise<number> {
  const error = await connectClient(resources, port, options).then(
    () => assert.fail('the connection was accepted'),
    (e: unknown) => e as { code?: number },
  );
  return error.code ?? -1;
}

describe('LocalBroker authentication (MQTT 3.1.1 §3.2.2.3)', () => {
  it('accepts a user with the right password', async () => {
    const client = await connectClient(resources, port, { username: 'staff', password: PASSWORDS.staff });
    assert.equal(client.connected, true);
  });

  it('refuses a wrong password with 4 (bad user name or password) and logs no password', async () => {
    const refused = brokerEvent(broker, 'refused', (e) => e.username === 'staff');
    assert.equal(await refusalCode({ username: 'staff', password: 'not-the-password' }), 4);
    const [event] = await refused;
    assert.equal(event.reason, 'wrong password');
    assert.ok(!JSON.stringify(event).includes('not-the-password'));
  });

  it('refuses an unknown user with 4', async () => {
    assert.equal(await refusalCode({ username: 'mallory', password: PASSWORDS.staff }), 4);
  });

  it('refuses a known user without a password with 4', async () => {
    assert.equal(await refusalCode({ username: 'staff' }), 4);
  });

  it('refuses anonymous clients with 5 (not authorized) by default', async () => {
    assert.equal(await refusalCode({}), 5);
  });
});

describe('LocalBroker ACLs', () => {
  it('lets a user subscribe inside its ACL and refuses the rest with 0x80 (MQTT 3.1.1 §3.9.3)', async () => {
    const watcher = await connectClient(resources, port, {
      username: 'watcher',
      password: PASSWORDS.watcher,
    });
    const denied = brokerEvent(broker, 'denied', (e) => e.action === 'subscribe');
    const granted = await subscribeGranted(watcher, [
      `doorstep/${GATEWAY}/alarms/#`,
      `doorstep/${GATEWAY}/devices/smoke-1/status`,
      `doorstep/${GATEWAY}/readings/#`,
      '#',
      `doorstep/other-gw/alarms/#`,
    ]);
    assert.deepEqual(granted, [1, 1, 128, 128, 128]);
    assert.equal((await denied)[0].username, 'watcher');
  });

  it('delivers an allowed publish and closes the connection of a denied one without forwarding it', async () => {
    const sensor = await connectClient(resources, port, { username: 'sensor-a', password: PASSWORDS.sensor });
    const seen: string[] = [];
    let firstArrived: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      firstArrived = resolve;
    });
    const unsubscribe = await broker.subscribe('sensors/#', (m) => {
      seen.push(m.topic);
      firstArrived();
    });
    resources.add(unsubscribe);
    await sensor.publishAsync('sensors/sensor-a/smoke', '{"smoke":true}', { qos: 1 });
    await arrived;
    assert.deepEqual(seen, ['sensors/sensor-a/smoke']);

    // %u: sensor-a may publish under sensors/sensor-a/ only, never under another sensor's name.
    const closed = clientEvent(sensor, 'close');
    sensor.publish('sensors/sensor-b/smoke', '{"smoke":true}', { qos: 1 });
    await closed;
    assert.deepEqual(seen, ['sensors/sensor-a/smoke']);
  });

  it('substitutes %u in subscribe patterns too', async () => {
    const sensor = await connectClient(resources, port, { username: 'sensor-a', password: PASSWORDS.sensor });
    assert.deepEqual(
      await subscribeGranted(sensor, ['sensors/sensor-a/config', 'sensors/sensor-b/config']),
      [1, 128],
    );
  });

  it('never lets a client publish on gateway-owned topics outside its ACL', async () => {
    const staff = await connectClient(resources, port, { username: 'staff', password: PASSWORDS.staff });
    const watcher = await connectClient(resources, port, {
      username: 'watcher',
      password: PASSWORDS.watcher,
    });
    const inbox = collect(watcher);
    await subscribeGranted(watcher, [`doorstep/${GATEWAY}/alarms/#`]);
    const closed = clientEvent(staff, 'close');
    staff.publish(`doorstep/${GATEWAY}/alarms/smoke-1/smoke`, '{"forged":true}', { qos: 1 });
    await closed;
    // A marker published afterwards by the gateway arrives alone: the forged alarm was not forwarded.
    await broker.publish({ topic: `doorstep/${GATEWAY}/alarms/marker/smoke`, payload: 'marker', qos: 1 });
    await inbox.next(1);
    assert.deepEqual(
      inbox.messages.map((m) => m.payload),
      ['marker'],
    );
  });

  it('refuses a payload above maxPayloadBytes even on an allowed topic', async () => {
    const sensor = await connectClient(resources, port, { username: 'sensor-a', password: PASSWORDS.sensor });
    const denied = brokerEvent(broker, 'denied', (e) => e.action === 'publish' && /exceeds/.test(e.reason));
    const closed = clientEvent(sensor, 'close');
    sensor.publish('sensors/sensor-a/blob', Buffer.alloc(2048, 1), { qos: 0 });
    await Promise.all([denied, closed]);
  });

  it('lets the gateway itself publish anywhere, whatever the ACLs', async () => {
    const seen: string[] = [];
    resources.add(await broker.subscribe('anything/#', (m) => void seen.push(m.payload.toString())));
    await broker.publish({ topic: 'anything/at/all', payload: 'internal', qos: 1 });
    assert.deepEqual(seen, ['internal']);
  });
});

describe('LocalBroker limits and anonymous access', () => {
  it('refuses connections above maxConnections with 3 (server unavailable)', async () => {
    const local = new Resources();
    try {
      const { port: limitedPort } = await startBroker(local, { limits: { maxConnections: 1 } });
      await connectClient(local, limitedPort, { username: 'staff', password: PASSWORDS.staff });
      const error = await connectClient(local, limitedPort, {
        username: 'watcher',
        password: PASSWORDS.watcher,
      }).then(
        () => assert.fail('the second connection was accepted'),
        (e: unknown) => e as { code?: number },
      );
      assert.equal(error.code, 3);
    } finally {
      await local.dispose();
    }
  });

  it('admits anonymous clients only when allowed, with the anonymous ACL (no %u patterns)', async () => {
    const local = new Resources();
    try {
      const { port: openPort } = await startBroker(local, {
        allowAnonymous: true,
        anonymousAcl: { subscribe: [`doorstep/%g/health`, 'sensors/%u/#'] },
      });
      const anonymous = await connectClient(local, openPort, {});
      assert.deepEqual(
        await subscribeGranted(anonymous, [`doorstep/${GATEWAY}/health`, 'sensors/x/#']),
        [1, 128],
      );
    } finally {
      await local.dispose();
    }
  });
});
