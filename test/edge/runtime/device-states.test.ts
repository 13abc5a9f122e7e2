import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { hashPassword } from '../../../common/password.js';
import { type RunningSimSite, startSimSite } from '../../../drivers/sim/site.js';
import { buildEdge, type Edge } from '../../../edge/runtime/gateway.js';
import type { DeviceLinkState } from '../../../protocol/index.js';
import { type Child, startPymodbus } from '../../drivers/bus/helpers.js';
import { openPtyPair, type PtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';
import { eventually, gatewayConfig, type HealthBody, httpGet } from './helpers.js';

/** GET on a fresh connection (no keep-alive reuse racing the server's idle close). */

/**
 * Device states that tell the truth, on a real `buildEdge` gateway read over HTTP: a detector
 * answering every read with a Modbus exception (doorstep's simulator over TCP, and Debian's
 * pymodbus over a socat pty) is `faulty`, not `online`; a device whose data its profile cannot
 * decode is `faulty` with DRV_ERR_DECODE; a healthy device's `lastSeen` advances with every poll.
 */
describe('device states: faulty devices and lastSeen (buildEdge, real peers)', () => {
  const dir = tempDir('doorstep-edge-states-');
  let site: RunningSimSite;
  let pty: PtyPair;
  let pymodbus: Child;
  let edge: Edge;
  let base: string;
  const states: DeviceLinkState[] = [];
  const password = 'watcher-pw';

  const health = async (): Promise<{ code: number; body: HealthBody }> => {
    const t0 = Date.now();
    const { code, text } = await httpGet(`${base}/health`);
    if (Date.now() - t0 > 2000) console.error('slow health', Date.now() - t0);
    return { code, body: JSON.parse(text) as HealthBody };
  };
  /** Reads /health until `check` holds (a generous bound, not a timing assertion). */
  const until = async (what: string, check: (b: HealthBody) => boolean, ms = 20_000): Promise<HealthBody> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const { body } = await health();
      if (check(body)) return body;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; /health devices: ${JSON.stringify(body.devices)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    site = await startSimSite({
      tcp: [
        {
          name: 'lane',
          devices: [
            { id: 'smoke-ok', profile: 'smoke-status-register', unitId: 1 },
            { id: 'smoke-exc', profile: 'smoke-status-register', unitId: 2 },
            { id: 'gas-nan', profile: 'gas-float32-abcd', unitId: 3, heartbeat: false },
            { id: 'pr-bad', profile: 'pressure-int16-decimals', unitId: 4 },
          ],
        },
      ],
    });
    // SERVER DEVICE FAILURE on every read: not a map problem, so it takes three in a row.
    site.devices.get('smoke-exc')!.unit.faults.set({ mode: 'exception', exceptionCode: 4 });
    // A NaN where the gas concentration (float32 ABCD at input 0) should be.
    site.devices.get('gas-nan')!.unit.bank.write('input', 0, [0x7fc0, 0x0000]);
    // Nine decimal places in the start-up register (the profile allows 0–4).
    site.devices.get('pr-bad')!.unit.bank.write('holding', 3, [9]);
    pty = await openPtyPair();
    // pymodbus with its registers at 1000…1099: every read of the profile's low addresses is
    // answered with exception 02 (illegal data address).
    pymodbus = await startPymodbus(['rtu', pty.b, '--first-address', '1000']);
    const port = site.tcp[0]!.port;
    const dev = (id: string, profile: string, unitId: number) => ({
      id,
      bus: 'lan',
      profile,
      unitId,
      host: '127.0.0.1',
      port,
      location: `test ${id}`,
      pollIntervals: { critical: 200, normal: 300, diagnostic: 500 },
    });
    const config = gatewayConfig({
      gateway: { id: 'gw-states', site: { district: 'd1', town: 't1', community: 'c1' } },
      buses: [
        { id: 'lan', type: 'tcp', timeoutMs: 500, retries: 0 },
        { id: 'rs485', type: 'rtu', port: pty.a, baudRate: 9600, parity: 'none', timeoutMs: 500 },
      ],
      devices: [
        dev('smoke-ok', 'smoke-status-register', 1),
        dev('smoke-exc', 'smoke-status-register', 2),
        dev('gas-nan', 'gas-float32-abcd', 3),
        dev('pr-bad', 'pressure-int16-decimals', 4),
        {
          id: 'smoke-pm',
          bus: 'rs485',
          profile: 'smoke-status-register',
          unitId: 1,
          location: '3号楼 楼道',
          pollIntervals: { critical: 300, normal: 500, diagnostic: 1000 },
        },
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
    edge = buildEdge(config);
    edge.onDeviceState((s) => states.push(s));
    await edge.start();
    const a = edge.healthAddress()!;
    base = `http://${a.host}:${a.port}`;
  });

  after(async () => {
    await edge?.stop();
    await pymodbus?.stop();
    await pty?.close();
    await site?.stop();
    dir.dispose();
  });

  it('an exception-only detector (doorstep simulator) is faulty with its reason, never online', async () => {
    const body = await until('smoke-exc faulty', (b) => b.devices['smoke-exc']?.state === 'faulty');
    const d = body.devices['smoke-exc']!;
    assert.equal(d.reason, 'DRV_ERR_EXCEPTION');
    assert.match(d.detail ?? '', /exception 4 \(SERVER DEVICE FAILURE\)/);
    assert.ok(d.lastSeen, 'it answers, so it was seen');
    assert.ok(
      body.problems.some((p) => /device\(s\) faulty/.test(p)),
      JSON.stringify(body.problems),
    );
    assert.equal((await health()).code, 503);
    // Never announced as online: the exception arrives with the reply that brings it up.
    assert.ok(!states.some((s) => s.device === 'smoke-exc' && s.state === 'online'));
  });

  it('an exception-only detector behind Debian pymodbus on a pty is faulty (illegal data address)', async () => {
    const body = await until('smoke-pm faulty', (b) => b.devices['smoke-pm']?.state === 'faulty');
    const d = body.devices['smoke-pm']!;
    assert.equal(d.reason, 'DRV_ERR_EXCEPTION');
    assert.match(d.detail ?? '', /ILLEGAL DATA ADDRESS/);
  });

  it('a device whose data the profile cannot decode is faulty with DRV_ERR_DECODE', async () => {
    const body = await until(
      'gas-nan and pr-bad faulty',
      (b) => b.devices['gas-nan']?.state === 'faulty' && b.devices['pr-bad']?.state === 'faulty',
    );
    assert.equal(body.devices['gas-nan']!.reason, 'DRV_ERR_DECODE');
    assert.match(body.devices['gas-nan']!.detail ?? '', /not a number/);
    assert.equal(body.devices['pr-bad']!.reason, 'DRV_ERR_DECODE');
    assert.match(body.devices['pr-bad']!.detail ?? '', /decimals = 9/);
  });

  it('lastSeen of a healthy Modbus device advances with every good poll', async () => {
    const first = await until('smoke-ok online', (b) => b.devices['smoke-ok']?.state === 'online');
    const seen1 = first.devices['smoke-ok']!.lastSeen!;
    assert.ok(seen1 > 0);
    const second = await until(
      'lastSeen advances',
      (b) => (b.devices['smoke-ok']?.lastSeen ?? 0) > seen1 + 300,
      10_000,
    );
    const seen2 = second.devices['smoke-ok']!.lastSeen!;
    await until('lastSeen advances again', (b) => (b.devices['smoke-ok']?.lastSeen ?? 0) > seen2, 10_000);
    assert.equal(second.devices['smoke-ok']!.state, 'online');
    // since stays when the device came online; only lastSeen moves
    assert.equal(second.devices['smoke-ok']!.since, first.devices['smoke-ok']!.since);
  });

  it('reaches the metrics, the local MQTT status topics and the outbox for the cloud', async () => {
    const metrics = (await httpGet(`${base}/metrics`)).text;
    assert.match(metrics, /doorstep_devices\{state="faulty"\} 4/);
    assert.match(
      metrics,
      /doorstep_device_down\{device="smoke-exc",state="faulty",reason="DRV_ERR_EXCEPTION"\} 1/,
    );
    assert.match(metrics, /doorstep_device_last_seen_seconds\{device="smoke-ok"\} \d+/);

    const b = edge.brokerAddress()!;
    const client = await mqtt.connectAsync(`mqtt://${b.host}:${b.port}`, {
      username: 'watcher',
      password,
      clientId: 'watcher-test',
    });
    const retained = new Map<string, Record<string, unknown>>();
    client.on('message', (topic, payload) => {
      if (payload.length > 0) retained.set(topic, JSON.parse(payload.toString()) as Record<string, unknown>);
    });
    try {
      await client.subscribeAsync(['doorstep/gw-states/devices/+/status', 'doorstep/gw-states/health'], {
        qos: 1,
      });
      const status = await eventually(
        () => retained.get('doorstep/gw-states/devices/smoke-exc/status'),
        10_000,
        'retained status',
      );
      assert.equal(status.state, 'faulty');
      assert.equal(status.reason, 'DRV_ERR_EXCEPTION');
      const h = await eventually(() => retained.get('doorstep/gw-states/health'), 15_000, 'retained health');
      assert.equal(h.status, 'degraded');
      assert.equal((h.devices as Record<string, number>).faulty, 4);
    } finally {
      await client.endAsync();
    }

    const events = edge.outbox
      .nextBatch({ maxRows: 5000 })
      .records.filter((r) => r.class === 'event' && (r.payload as { kind?: string }).kind === 'device_state')
      .map((r) => (r.payload as unknown as { state: DeviceLinkState }).state);
    const faulty = events.find((s) => s.device === 'smoke-exc' && s.state === 'faulty');
    assert.ok(faulty, 'a device_state event with faulty waits in the outbox for the cloud');
    assert.equal(faulty.reason, 'DRV_ERR_EXCEPTION');
  });

  it('a faulty device whose exceptions stop is online again, with a new since', async () => {
    const before = (await health()).body.devices['smoke-exc']!;
    site.devices.get('smoke-exc')!.unit.faults.clear();
    const body = await until('smoke-exc online', (b) => b.devices['smoke-exc']?.state === 'online');
    assert.ok(body.devices['smoke-exc']!.since >= before.since);
    assert.equal(body.devices['smoke-exc']!.reason, undefined);
  });
});
