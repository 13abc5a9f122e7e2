import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { MqttInput, type MqttReadings } from '../../../drivers/mqtt/index.js';
import { type DoorstepError, isDoorstepError } from '../../../protocol/index.js';
import { freePort } from '../../support/net.js';

let broker: Aedes;
let server: Server;
let url = '';
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  broker = await Aedes.createBroker();
  server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `mqtt://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function startInput(): Promise<{ input: MqttInput; events: MqttReadings[]; issues: DoorstepError[] }> {
  let now = 1_700_000_000_000;
  const input = new MqttInput({
    url,
    subscriptions: [
      { profile: 'json-smoke-generic', devices: { '861234567890123': 'smoke-3f-01', nb7: 'smoke-1f-07' } },
      { profile: 'json-door-generic', topic: 'site/door/+', devices: { d1: 'door-b1' } },
    ],
    clock: () => now++,
  });
  cleanups.push(() => input.stop());
  const events: MqttReadings[] = [];
  const issues: DoorstepError[] = [];
  input.onReadings((e) => events.push(e));
  input.onIssue((e) => issues.push(e));
  await input.start();
  return { input, events, issues };
}

async function publisher(): Promise<MqttClient> {
  const client = await connectAsync(url, { reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync());
  return client;
}

/** Resolves when `predicate` holds for the collected events; rejects (failing the test) after 5 s. */
async function waitFor(
  events: MqttReadings[],
  predicate: (events: MqttReadings[]) => boolean,
): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!predicate(events)) {
    if (Date.now() > deadline) throw new Error(`condition not met; events: ${JSON.stringify(events)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('MqttInput against a real aedes broker', () => {
  it('turns published JSON into readings, and rejects bad payloads without stopping', async () => {
    const { input, events, issues } = await startInput();
    const client = await publisher();
    await client.publishAsync('smoke/861234567890123/state', '{"smoke":true,"battery":87,"rssi":-71}', {
      qos: 1,
    });
    await client.publishAsync('smoke/861234567890123/state', '{"smoke":tru', { qos: 1 });
    await client.publishAsync('smoke/861234567890123/state', '{"smoke":"yes"}', { qos: 1 });
    await client.publishAsync('smoke/unknown-imei/state', '{"smoke":true}', { qos: 1 });
    await client.publishAsync('site/door/d1', '{"open":true,"battery":10}', { qos: 1 });
    await waitFor(events, (e) => e.some((x) => x.device === 'door-b1'));

    assert.deepEqual(
      events.map((e) => e.device),
      ['smoke-3f-01', 'door-b1'],
    );
    assert.deepEqual(
      events[0]!.readings.map((r) => [r.point, r.value]),
      [
        ['smoke', true],
        ['battery', 87],
        ['battery_low', false],
        ['signal', -71],
      ],
    );
    assert.deepEqual(events[1]!.readings.find((r) => r.point === 'battery_low')?.value, true);
    const stats = input.stats();
    assert.equal(stats.messages, 5);
    assert.equal(stats.rejected.not_json, 1);
    assert.equal(stats.rejected.wrong_type, 1);
    assert.equal(stats.rejected.unknown_device, 1);
    assert.equal(issues.length, 3);
    assert.ok(issues.every((e) => isDoorstepError(e, 'DRV_ERR_MQTT_PAYLOAD')));
    assert.ok(input.lastSeen().has('smoke-3f-01') && input.lastSeen().has('door-b1'));
  });

  it('accepts a message published by Debian mosquitto_pub', async () => {
    const { events } = await startInput();
    const port = new URL(url).port;
    const child = spawn(
      'mosquitto_pub',
      [
        '-h',
        '127.0.0.1',
        '-p',
        port,
        '-q',
        '1',
        '-t',
        'smoke/nb7/state',
        '-m',
        '{"smoke":true,"battery":55,"rssi":-90}',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `mosquitto_pub failed: ${stderr}`);
    await waitFor(events, (e) => e.length > 0);
    assert.equal(events[0]!.device, 'smoke-1f-07');
    assert.equal(events[0]!.readings[0]!.value, true);
  });

  it('refuses bad subscriptions one by one, and fails start with DRV_ERR_LINK_OPEN when no broker answers', async () => {
    const input = new MqttInput({
      url: `mqtt://127.0.0.1:${await freePort()}`,
      subscriptions: [
        { profile: 'json-smoke-generic', devices: { a: 'Not A Slug' } },
        { profile: 'no-such', devices: {} },
        { profile: 'json-door-generic', topic: 'door/#', devices: {} },
        { profile: 'json-door-generic', devices: { d: 'door-1' } },
      ],
      connectTimeoutMs: 300,
    });
    cleanups.push(() => input.stop());
    const messages = input.issues().map((e) => e.message);
    assert.equal(messages.length, 3);
    assert.match(messages[0]!, /subscriptions\.0\.devices\.a/);
    assert.match(messages[1]!, /subscriptions\.1\.profile: no MQTT profile named no-such/);
    assert.match(messages[2]!, /subscriptions\.2\.topic: .*"#" is not allowed/);
    await assert.rejects(input.start(), (error) => isDoorstepError(error, 'DRV_ERR_LINK_OPEN'));
  });
});
