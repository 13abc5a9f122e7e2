import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { hashPassword } from '../../../common/password.js';
import { encodeBinaryFrame } from '../../../drivers/frames/binary.js';
import { SerialLink } from '../../../drivers/link/serial.js';
import { buildEdge, type Edge } from '../../../edge/runtime/gateway.js';
import { openPtyPair, type PtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';
import { eventually, gatewayConfig, type HealthBody, httpGet } from './helpers.js';

/** GET on a fresh connection (no keep-alive reuse racing the server's idle close). */

/**
 * A wireless receiver on a real pty whose every frame is rejected (random bytes, as from a receiver
 * at the wrong baud rate): the bus goes `degraded` after `degradedAfterMs` with the rejections
 * counted, /health answers 503, it is logged once per streak, its detectors go offline at once
 * with DRV_ERR_BUS_DEGRADED (not after the 30-minute silence timeout), and all of it recovers when
 * valid frames return.
 */
describe('an all-garbage radio bus (buildEdge, frames over a socat pty)', () => {
  const dir = tempDir('doorstep-edge-radio-');
  let pty: PtyPair;
  let radio: SerialLink;
  let edge: Edge;
  let base: string;
  let noise: NodeJS.Timeout | undefined;
  const logs: Record<string, unknown>[] = [];
  const password = 'watcher-pw';

  const health = async () => {
    const { code, text } = await httpGet(`${base}/health`);
    return { code, body: JSON.parse(text) as HealthBody };
  };
  const until = async (what: string, check: (h: HealthBody) => boolean, ms = 20_000): Promise<HealthBody> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const { body } = await health();
      if (check(body)) return body;
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what}; /health: ${JSON.stringify(body.buses)} ${JSON.stringify(body.devices)}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const frame = (detector: number, detectorType: number) =>
    encodeBinaryFrame({ detector, detectorType, state: 0, battery: 90, rssi: -70 });

  before(async () => {
    pty = await openPtyPair();
    radio = new SerialLink({ path: pty.b, baudRate: 9600, parity: 'none' });
    await radio.open();
    const config = gatewayConfig({
      gateway: { id: 'gw-radio', site: { district: 'd1', town: 't1', community: 'c1' } },
      buses: [
        { id: 'radio', type: 'frames', port: pty.a, baudRate: 9600, codec: 'binary', degradedAfterMs: 1500 },
      ],
      devices: [
        { id: 'smoke-w1', bus: 'radio', profile: 'wireless-smoke', detector: 12, location: '2号楼 走廊' },
        { id: 'door-w1', bus: 'radio', profile: 'wireless-door', detector: 13, location: '配电房' },
      ],
      storage: { dataDir: dir.path },
      broker: {
        port: 0,
        users: [
          {
            username: 'watcher',
            passwordHash: await hashPassword(password),
            acl: { subscribe: ['doorstep/%g/#'], publish: [] },
          },
        ],
      },
      health: { port: 0 },
    });
    const logger = pino(
      { level: 'info' },
      {
        write(line: string) {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
    );
    edge = buildEdge(config, { logger });
    await edge.start();
    const a = edge.healthAddress()!;
    base = `http://${a.host}:${a.port}`;
  });

  after(async () => {
    if (noise) clearInterval(noise);
    await edge?.stop();
    await radio?.close().catch(() => undefined);
    await pty?.close();
    dir.dispose();
  });

  it('goes degraded with the rejections counted; its detectors go offline saying why', async () => {
    await radio.write(frame(12, 0x01));
    await until('smoke-w1 online', (h) => h.devices['smoke-w1']?.state === 'online');
    assert.equal((await health()).body.buses.radio?.state, 'ok');

    // From now on only noise: random bytes with a start byte now and then (seeded, reproducible).
    let seed = 0x2f6b;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed >> 16;
    };
    noise = setInterval(() => {
      const bytes = Buffer.alloc(24);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i % 8 === 0 ? 0xa5 : rnd() & 0xff;
      void radio.write(bytes).catch(() => undefined);
    }, 40);

    const h = await until('bus degraded', (x) => x.buses.radio?.state === 'degraded');
    const bus = h.buses.radio!;
    assert.match(bus.reason ?? '', /^DRV_ERR_FRAME_(CHECKSUM|SYNTAX)$/);
    assert.match(
      bus.detail ?? '',
      /bus radio delivered no valid frame for \d+ s; rejected: .*(bad checksum|unknown format|outside any frame)/,
    );
    const rejected = Object.values(bus.rejected ?? {}).reduce((a, b) => a + b, 0);
    assert.ok(rejected > 0, JSON.stringify(bus.rejected));
    assert.ok(
      h.problems.some((p) => p.startsWith('bus radio degraded')),
      JSON.stringify(h.problems),
    );
    assert.equal((await health()).code, 503);

    const devices = await until(
      'detectors offline with the bus reason',
      (x) => x.devices['smoke-w1']?.state === 'offline' && x.devices['door-w1']?.state === 'offline',
    );
    for (const id of ['smoke-w1', 'door-w1']) {
      assert.equal(devices.devices[id]!.reason, 'DRV_ERR_BUS_DEGRADED');
      assert.match(devices.devices[id]!.detail ?? '', /no valid frame/);
    }
    assert.ok(devices.devices['smoke-w1']!.lastSeen, 'the last time it was heard is kept');

    const metrics = (await httpGet(`${base}/metrics`)).text;
    assert.match(metrics, /doorstep_bus_degraded\{bus="radio",reason="DRV_ERR_FRAME_(CHECKSUM|SYNTAX)"\} 1/);

    // The local broker's retained health says so too.
    const b = edge.brokerAddress()!;
    const client = await mqtt.connectAsync(`mqtt://${b.host}:${b.port}`, {
      username: 'watcher',
      password,
      clientId: 'watcher-test',
    });
    try {
      let retained: Record<string, unknown> | undefined;
      client.on('message', (_t, payload) => {
        retained = JSON.parse(payload.toString()) as Record<string, unknown>;
      });
      await client.subscribeAsync('doorstep/gw-radio/health', { qos: 1 });
      const r = await eventually(() => retained, 15_000, 'retained health');
      assert.equal((r.buses as Record<string, { state: string }>).radio?.state, 'degraded');
    } finally {
      await client.endAsync();
    }

    // Logged once for the streak, however many frames keep being rejected.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(logs.filter((l) => l.msg === 'bus degraded').length, 1);
  });

  it('recovers when valid frames return', async () => {
    if (noise) clearInterval(noise);
    noise = undefined;
    await new Promise((r) => setTimeout(r, 200));
    await radio.write(frame(12, 0x01));
    const h = await until(
      'bus ok and smoke-w1 online',
      (x) => x.buses.radio?.state === 'ok' && x.devices['smoke-w1']?.state === 'online',
    );
    assert.equal(h.buses.radio!.reason, undefined);
    assert.ok(logs.some((l) => l.msg === 'bus delivers valid frames again'));
    // door-w1 has not spoken since: still offline, with the reason it went quiet.
    assert.equal(h.devices['door-w1']!.state, 'offline');
  });
});
