import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayPublisher } from '../../../edge/broker/gateway-publisher.js';
import type { LocalBroker } from '../../../edge/broker/local-broker.js';
import type { AlarmTransition } from '../../../protocol/alarm.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import type { Reading } from '../../../protocol/reading.js';
import {
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
let publisher: GatewayPublisher;
let port: number;

before(async () => {
  ({ broker, publisher, port } = await startBroker(resources));
});
after(() => resources.dispose());

/** A fresh staff client subscribed to `filter`; retained messages arrive first (MQTT 3.1.1 §3.3.1.3). */
async function watch(filter: string) {
  const client = await connectClient(resources, port, { username: 'staff', password: PASSWORDS.staff });
  const inbox = collect(client);
  await subscribeGranted(client, [filter]);
  return inbox;
}

/** Publishes a marker on `topic` and waits for it: everything before it has been delivered. */
async function settle(inbox: ReturnType<typeof collect>, topic: string) {
  const expected = inbox.messages.length + 1;
  await broker.publish({ topic, payload: 'marker', qos: 1 });
  await inbox.next(expected);
  assert.equal(inbox.messages.at(-1)?.payload, 'marker');
  return inbox.messages.slice(0, -1);
}

const base: AlarmTransition = {
  id: 'alm-gas-0001',
  gateway: GATEWAY,
  device: 'gas-2',
  type: 'gas_high',
  severity: 'critical',
  state: 'raised',
  value: 27.5,
  ts: 1_700_000_000_000,
  test: false,
  latched: true,
};

describe('GatewayPublisher', () => {
  it('publishes readings as {value, unit, quality, ts} on readings/<device>/<point>, QoS 0, not retained', async () => {
    const inbox = await watch(`doorstep/${GATEWAY}/readings/#`);
    const readings: Reading[] = [
      { device: 'gas-2', point: 'gas', value: 12.5, unit: '%LEL', quality: 'good', ts: 1 },
      { device: 'door-1', point: 'door_open', value: true, unit: '', quality: 'uncertain', ts: 2 },
    ];
    await publisher.publishReadings(readings);
    await inbox.next(2);
    assert.deepEqual(inbox.messages, [
      {
        topic: `doorstep/${GATEWAY}/readings/gas-2/gas`,
        payload: '{"value":12.5,"unit":"%LEL","quality":"good","ts":1}',
        retain: false,
        qos: 0,
      },
      {
        topic: `doorstep/${GATEWAY}/readings/door-1/door_open`,
        payload: '{"value":true,"unit":"","quality":"uncertain","ts":2}',
        retain: false,
        qos: 0,
      },
    ]);
  });

  it('publishes nothing of a batch that holds an invalid reading, and names it', async () => {
    const inbox = await watch(`doorstep/${GATEWAY}/readings/#`);
    const batch = [
      { device: 'gas-2', point: 'gas', value: 1, unit: '%LEL', quality: 'good', ts: 3 },
      { device: 'gas-2', point: 'gas', value: 1, unit: '%LEL', quality: 'excellent', ts: 4 },
    ] as Reading[];
    await assert.rejects(
      publisher.publishReadings(batch),
      (e: unknown) =>
        isDoorstepError(e, 'EDGE_ERR_BROKER_PUBLISH') && /readings\[1\]\.quality/.test(e.message),
    );
    assert.deepEqual(await settle(inbox, `doorstep/${GATEWAY}/readings/marker/gas`), []);
  });

  it('keeps the active alarm retained while raised and while latched, and clears it on reset', async () => {
    const activeFilter = `doorstep/${GATEWAY}/alarms/active/#`;
    const activeTopic = `doorstep/${GATEWAY}/alarms/active/gas-2/gas_high`;
    const marker = `doorstep/${GATEWAY}/alarms/active/marker/x`;
    const events = await watch(`doorstep/${GATEWAY}/alarms/+/+`);

    await publisher.publishAlarm(base);
    let late = await settle(await watch(activeFilter), marker);
    assert.deepEqual(
      late.map((m) => [m.topic, JSON.parse(m.payload).state, m.retain]),
      [[activeTopic, 'raised', true]],
    );

    await publisher.publishAlarm({ ...base, state: 'cleared', ts: base.ts + 1 });
    late = await settle(await watch(activeFilter), marker);
    assert.deepEqual(
      late.map((m) => [m.topic, JSON.parse(m.payload).state]),
      [[activeTopic, 'cleared']],
      'latched: still active',
    );

    await publisher.publishAlarm({ ...base, state: 'reset', ts: base.ts + 2 });
    assert.deepEqual(await settle(await watch(activeFilter), marker), [], 'reset: nothing retained');

    const seen = await settle(events, `doorstep/${GATEWAY}/alarms/marker/x`);
    assert.deepEqual(
      seen.map((m) => [m.topic, JSON.parse(m.payload).state, m.qos, m.retain]),
      [
        [`doorstep/${GATEWAY}/alarms/gas-2/gas_high`, 'raised', 1, false],
        [`doorstep/${GATEWAY}/alarms/gas-2/gas_high`, 'cleared', 1, false],
        [`doorstep/${GATEWAY}/alarms/gas-2/gas_high`, 'reset', 1, false],
      ],
    );
  });

  it('clears the active alarm when an unlatched alarm clears', async () => {
    const unlatched = {
      ...base,
      id: 'alm-door-0001',
      device: 'door-4',
      type: 'door_open',
      severity: 'major' as const,
      latched: false,
    };
    await publisher.publishAlarm(unlatched);
    await publisher.publishAlarm({ ...unlatched, state: 'cleared' });
    const late = await settle(
      await watch(`doorstep/${GATEWAY}/alarms/active/door-4/#`),
      `doorstep/${GATEWAY}/alarms/active/door-4/marker`,
    );
    assert.deepEqual(late, []);
  });

  it('refuses an invalid alarm transition naming the field, publishing nothing', async () => {
    const events = await watch(`doorstep/${GATEWAY}/alarms/#`);
    await assert.rejects(
      publisher.publishAlarm({ ...base, severity: 'fatal' } as unknown as AlarmTransition),
      (e: unknown) => isDoorstepError(e, 'EDGE_ERR_BROKER_PUBLISH') && /transition\.severity/.test(e.message),
    );
    assert.deepEqual(await settle(events, `doorstep/${GATEWAY}/alarms/marker/x`), []);
  });

  it('retains device status and health for clients that subscribe later', async () => {
    await publisher.publishDeviceState({
      device: 'smoke-9',
      state: 'online',
      since: 5,
      consecutiveFailures: 0,
    });
    await publisher.publishHealth({ uptimeS: 12, outboxDepth: 0 });
    const late = await settle(await watch(`doorstep/${GATEWAY}/+`), `doorstep/${GATEWAY}/marker`);
    assert.deepEqual(
      late.map((m) => [m.topic, JSON.parse(m.payload), m.retain]),
      [[`doorstep/${GATEWAY}/health`, { uptimeS: 12, outboxDepth: 0 }, true]],
    );
    const status = await settle(
      await watch(`doorstep/${GATEWAY}/devices/+/status`),
      `doorstep/${GATEWAY}/devices/marker/status`,
    );
    assert.deepEqual(
      status.map((m) => [m.topic, JSON.parse(m.payload).state, m.retain, m.qos]),
      [[`doorstep/${GATEWAY}/devices/smoke-9/status`, 'online', true, 1]],
    );
  });
});
