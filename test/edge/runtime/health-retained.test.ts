import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { hashPassword } from '../../../common/password.js';
import { type RunningSimSite, startSimSite } from '../../../drivers/sim/site.js';
import { healthTopic } from '../../../edge/broker/topics.js';
import { buildEdge, type Edge } from '../../../edge/runtime/gateway.js';
import { tempDir } from '../../support/tmp.js';
import { FAST_SCRYPT, Resources, runChild } from '../broker/helpers.js';
import { eventually, gatewayConfig } from './helpers.js';

const GW = 'gw-health';
const PASSWORD = 'watcher-health-pw';

describe('the retained health topic (edge/broker/README.md, topic tree)', () => {
  const resources = new Resources();
  const dir = tempDir('doorstep-health-');
  let site: RunningSimSite | undefined;
  let edge: Edge | undefined;
  after(async () => {
    await resources.dispose();
    await edge?.stop();
    await site?.stop();
    dir.dispose();
  });

  it('a running gateway publishes doorstep/<gw>/health retained: mosquitto_sub gets it after the fact', async () => {
    site = await startSimSite({
      tcp: [{ name: 'lane', devices: [{ id: 'smoke-1', profile: 'smoke-status-register', unitId: 1 }] }],
    });
    const config = gatewayConfig({
      gateway: { id: GW, site: { district: 'd1', town: 't1', community: 'c1' } },
      buses: [{ id: 'lan', type: 'tcp', timeoutMs: 300, retries: 0 }],
      devices: [
        {
          id: 'smoke-1',
          bus: 'lan',
          profile: 'smoke-status-register',
          unitId: 1,
          host: '127.0.0.1',
          port: site.tcp[0]!.port,
          location: 'stairwell',
          pollIntervals: { critical: 100, normal: 200, diagnostic: 500 },
        },
      ],
      storage: { dataDir: dir.path },
      broker: {
        port: 0,
        users: [
          {
            username: 'watcher',
            passwordHash: await hashPassword(PASSWORD, FAST_SCRYPT),
            acl: { publish: [], subscribe: ['doorstep/%g/health'] },
          },
        ],
      },
      health: { port: 0 },
    });
    edge = buildEdge(config);
    await edge.start();
    const b = edge.brokerAddress()!;
    const topic = healthTopic(GW);
    assert.equal(topic, `doorstep/${GW}/health`);

    // Wait until the gateway has published it (seen live by a first client, which then leaves)…
    const first = await mqtt.connectAsync(`mqtt://${b.host}:${b.port}`, {
      username: 'watcher',
      password: PASSWORD,
      clientId: 'watcher-live',
    });
    const seen: Record<string, unknown>[] = [];
    first.on('message', (_t, payload) =>
      seen.push(JSON.parse(payload.toString()) as Record<string, unknown>),
    );
    await first.subscribeAsync(topic, { qos: 1 });
    await eventually(
      () => seen.some((h) => h.devices && (h.devices as Record<string, number>).online === 1),
      20_000,
      'health with the device online',
    );
    await first.endAsync();

    // …then an independent MQTT stack subscribes afterwards and still gets it: it is retained.
    const sub = runChild(resources, 'mosquitto_sub', [
      '-h',
      b.host,
      '-p',
      String(b.port),
      '-i',
      'watcher-after',
      '-u',
      'watcher',
      '-P',
      PASSWORD,
      '-t',
      topic,
      '-C',
      '1',
      '-q',
      '1',
      '-v',
      '-W',
      '20',
    ]);
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    const line = result.stdout.trim();
    assert.ok(line.startsWith(`${topic} `), line);
    const health = JSON.parse(line.slice(topic.length + 1)) as Record<string, unknown>;
    assert.equal(health.gateway, GW);
    assert.equal(health.status, 'ok');
    assert.deepEqual(health.devices, { online: 1 });
    assert.equal(typeof health.ts, 'number');
  });
});
