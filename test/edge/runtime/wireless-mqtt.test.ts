import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { hashPassword } from '../../../common/password.js';
import { SerialLink } from '../../../drivers/link/serial.js';
import { RadioReceiverSim } from '../../../drivers/sim/radio.js';
import { buildEdge, type Edge } from '../../../edge/runtime/gateway.js';
import type { AlarmTransition } from '../../../protocol/index.js';
import { openPtyPair, type PtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';
import { eventually, gatewayConfig } from './helpers.js';

/**
 * The gateway's push sources: a wireless receiver on a serial port (a socat pty, fed by the radio
 * simulator in binary frames with noise) and MQTT-native sensors publishing into the local broker.
 */
describe('gateway with a wireless receiver and MQTT sensors', () => {
  const dir = tempDir('doorstep-edge-push-');
  let pty: PtyPair;
  let radio: RadioReceiverSim;
  let edge: Edge;
  const transitions: AlarmTransition[] = [];
  const sensorPassword = 'sensor-password';

  before(async () => {
    pty = await openPtyPair();
    radio = new RadioReceiverSim({
      link: new SerialLink({ path: pty.b, baudRate: 9600, parity: 'none' }),
      codec: 'binary',
      detectors: [
        { detector: 12, profile: 'wireless-smoke' },
        { detector: 13, profile: 'wireless-door' },
      ],
      reportEveryMs: 500,
      garbageEvery: 3,
    });
    const config = gatewayConfig({
      gateway: { id: 'gw-push', site: { district: 'd1', town: 't1', community: 'c1' } },
      buses: [
        { id: 'radio', type: 'frames', port: pty.a, baudRate: 9600, codec: 'binary', offlineAfterMs: 3000 },
        { id: 'sensors', type: 'mqtt', offlineAfterMs: 60_000 },
      ],
      devices: [
        { id: 'smoke-w1', bus: 'radio', profile: 'wireless-smoke', detector: 12, location: '2号楼 走廊' },
        { id: 'door-w1', bus: 'radio', profile: 'wireless-door', detector: 13, location: '配电房' },
        {
          id: 'smoke-nb1',
          bus: 'sensors',
          profile: 'json-smoke-generic',
          topicId: 'sm-001',
          location: '活动室',
        },
      ],
      storage: { dataDir: dir.path },
      broker: {
        port: 0,
        users: [
          {
            username: 'sensor',
            passwordHash: await hashPassword(sensorPassword),
            acl: { publish: ['sensors/#'], subscribe: [] },
          },
        ],
      },
      health: { port: 0 },
    });
    edge = buildEdge(config);
    edge.onTransition((t) => transitions.push(t));
    await edge.start();
    await radio.start();
  });

  after(async () => {
    await radio?.stop().catch(() => undefined);
    await edge?.stop();
    await pty?.close();
    dir.dispose();
  });

  it('a wireless smoke alarm arriving as a frame among noise raises the smoke alarm', async () => {
    await eventually(
      () => edge.health().devices['smoke-w1']?.state === 'online',
      10_000,
      'wireless detector online',
    );
    radio.detector(12).set({ state: 1 });
    const t = await eventually(
      () => transitions.find((x) => x.device === 'smoke-w1' && x.type === 'smoke'),
      10_000,
      'smoke',
    );
    assert.equal(t.state, 'raised');
    const stats = edge.health().buses.radio as { discards?: { garbageBytes: number } };
    assert.ok((stats.discards?.garbageBytes ?? 0) > 0, 'noise was skipped, not fatal');
  });

  it('a detector that stops reporting goes offline', async () => {
    radio.detectors.delete(13); // it no longer reports
    await eventually(
      () => edge.health().devices['door-w1']?.state === 'offline',
      15_000,
      'door detector offline',
    );
  });

  it('an MQTT-native smoke alarm published into the local broker raises the smoke alarm', async () => {
    const b = edge.brokerAddress()!;
    const sensor = await mqtt.connectAsync(`mqtt://${b.host}:${b.port}`, {
      username: 'sensor',
      clientId: 'sensor-test',
      password: sensorPassword,
    });
    try {
      await sensor.publishAsync(
        'sensors/smoke/sm-001/state',
        JSON.stringify({ smoke: true, battery: 80, rssi: -70 }),
        { qos: 1 },
      );
      const t = await eventually(
        () => transitions.find((x) => x.device === 'smoke-nb1' && x.type === 'smoke'),
        10_000,
        'nb smoke',
      );
      assert.equal(t.state, 'raised');
    } finally {
      await sensor.endAsync();
    }
  });
});
