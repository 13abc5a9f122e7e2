import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { hashPassword } from '../../../common/password.js';
import { type RunningSimSite, startSimSite } from '../../../drivers/sim/site.js';
import { buildEdge, type Edge } from '../../../edge/runtime/gateway.js';
import type { AlarmTransition, DeviceLinkState } from '../../../protocol/index.js';
import { tempDir } from '../../support/tmp.js';
import { eventually, gatewayConfig } from './helpers.js';

/**
 * The gateway composition root end to end in one process: simulated Modbus TCP devices → bus
 * scheduler → profiles → rules → SQLite outbox, the local broker, local actions and health.
 */
describe('gateway runtime (buildEdge)', () => {
  const dir = tempDir('doorstep-edge-');
  let site: RunningSimSite;
  let edge: Edge;
  let config: ReturnType<typeof gatewayConfig>;
  const transitions: AlarmTransition[] = [];
  const states: DeviceLinkState[] = [];
  const password = 'local-staff-pw';

  before(async () => {
    site = await startSimSite({
      tcp: [
        {
          name: 'lane',
          devices: [
            { id: 'smoke-a', profile: 'smoke-status-register', unitId: 1 },
            { id: 'smoke-b', profile: 'smoke-status-register', unitId: 2 },
            { id: 'gas-1', profile: 'gas-float32-abcd', unitId: 3 },
            { id: 'io-1', profile: 'io-module-8di8do', unitId: 4 },
          ],
        },
      ],
    });
    const port = site.tcp[0]!.port;
    const dev = (id: string, profile: string, unitId: number, extra: Record<string, unknown> = {}) => ({
      id,
      bus: 'lan',
      profile,
      unitId,
      host: '127.0.0.1',
      port,
      location: `test ${id}`,
      pollIntervals: { critical: 100, normal: 200, diagnostic: 500 },
      ...extra,
    });
    config = gatewayConfig({
      gateway: { id: 'gw-test', site: { district: 'd1', town: 't1', community: 'c1' } },
      buses: [{ id: 'lan', type: 'tcp', timeoutMs: 200, retries: 0 }],
      devices: [
        dev('smoke-a', 'smoke-status-register', 1, { zone: 'b3' }),
        dev('smoke-b', 'smoke-status-register', 2, { zone: 'b3' }),
        dev('gas-1', 'gas-float32-abcd', 3, { rules: { gas_low: { onDelayMs: 0 } } }),
        dev('io-1', 'io-module-8di8do', 4),
        dev('ghost', 'smoke-status-register', 9), // nothing answers at unit 9
        {
          id: 'broken',
          bus: 'lan',
          profile: 'no-such-profile',
          unitId: 5,
          host: '127.0.0.1',
          port,
          location: 'x',
        },
      ],
      storage: { dataDir: dir.path },
      broker: {
        port: 0,
        users: [
          {
            username: 'staff',
            passwordHash: await hashPassword(password),
            acl: { subscribe: ['doorstep/%g/#'], publish: ['doorstep/%g/commands/#'] },
          },
        ],
      },
      actions: [
        {
          id: 'siren',
          on: { types: ['smoke', 'fire_confirmed'] },
          do: { kind: 'write', device: 'io-1', table: 'coil', address: 0 },
        },
      ],
      health: { port: 0 },
    });
    assert.equal(config.disabled.length, 1);
    edge = buildEdge(config);
    edge.onTransition((t) => transitions.push(t));
    edge.onDeviceState((s) => states.push(s));
    await edge.start();
  });

  after(async () => {
    await edge?.stop();
    await site?.stop();
    dir.dispose();
  });

  it('polls every device and reports the silent one offline with its reason', async () => {
    await eventually(
      () => states.some((s) => s.device === 'smoke-a' && s.state === 'online'),
      10_000,
      'smoke-a online',
    );
    const ghost = await eventually(
      () => states.find((s) => s.device === 'ghost' && s.state === 'offline'),
      15_000,
      'ghost offline',
    );
    assert.equal(ghost.reason, 'DRV_ERR_TIMEOUT');
  });

  it('raises a smoke alarm once, stores it before announcing it, switches the siren and publishes on MQTT', async () => {
    const broker = edge.brokerAddress()!;
    const client = await mqtt.connectAsync(`mqtt://${broker.host}:${broker.port}`, {
      username: 'staff',
      clientId: 'staff-test',
      password,
    });
    const received: string[] = [];
    client.on('message', (topic) => received.push(topic));
    // Readings (QoS 0) and alarms (QoS 1) on one connection: the poll that raises the alarm publishes
    // both in one go (aedes 1.2 drops the QoS 1 message when both reach a client in the same tick —
    // moscajs/aedes#994 — so the gateway publishes readings only after its alarms).
    await client.subscribeAsync(
      ['doorstep/gw-test/alarms/smoke-a/#', 'doorstep/gw-test/readings/smoke-a/#'],
      { qos: 1 },
    );
    try {
      site.devices.get('smoke-a')!.set({ smoke: true });
      const raised = await eventually(
        () => transitions.find((t) => t.device === 'smoke-a' && t.type === 'smoke'),
        10_000,
        'smoke raised',
      );
      assert.equal(raised.state, 'raised');
      assert.equal(raised.latched, true);
      assert.equal(raised.severity, 'critical');
      // on disk in the outbox
      const stored = edge.outbox.nextBatch({ maxRows: 1000 }).records.filter((r) => r.class === 'alarm');
      assert.ok(
        stored.some((r) => r.class === 'alarm' && r.payload.id === raised.id && r.payload.state === 'raised'),
      );
      // the siren relay on the I/O module was switched on through the bus
      await eventually(
        () => site.devices.get('io-1')!.unit.bank.read('coil', 0, 1)?.[0] === 1,
        10_000,
        'siren on',
      );
      await eventually(
        () => received.includes('doorstep/gw-test/alarms/smoke-a/smoke'),
        10_000,
        'mqtt alarm',
      );
      // a burst of polls never raises a second alarm for the same occurrence
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(
        transitions.filter((t) => t.device === 'smoke-a' && t.type === 'smoke' && t.state === 'raised')
          .length,
        1,
      );
    } finally {
      await client.endAsync();
    }
  });

  it('a silence command from local staff releases the siren; a reset needs the condition gone', async () => {
    const broker = edge.brokerAddress()!;
    const client = await mqtt.connectAsync(`mqtt://${broker.host}:${broker.port}`, {
      username: 'staff',
      clientId: 'staff-test',
      password,
    });
    const results: Record<string, unknown>[] = [];
    client.on('message', (_t, payload) =>
      results.push(JSON.parse(payload.toString()) as Record<string, unknown>),
    );
    await client.subscribeAsync('doorstep/gw-test/commands/result', { qos: 1 });
    try {
      await client.publishAsync(
        'doorstep/gw-test/commands/silence',
        JSON.stringify({ device: 'smoke-a', by: 'guard', requestId: 's1' }),
        { qos: 1 },
      );
      await eventually(
        () => site.devices.get('io-1')!.unit.bank.read('coil', 0, 1)?.[0] === 0,
        10_000,
        'siren off',
      );
      await client.publishAsync(
        'doorstep/gw-test/commands/reset',
        JSON.stringify({ device: 'smoke-a', type: 'smoke', by: 'guard', requestId: 'r1' }),
        { qos: 1 },
      );
      const refused = await eventually(
        () => results.find((r) => r.requestId === 'r1'),
        10_000,
        'reset result',
      );
      assert.equal(refused.ok, false, 'reset refused while smoke is still detected');
      site.devices.get('smoke-a')!.set({ smoke: false });
      await eventually(
        () => transitions.find((t) => t.device === 'smoke-a' && t.state === 'cleared'),
        10_000,
        'cleared',
      );
      await client.publishAsync(
        'doorstep/gw-test/commands/reset',
        JSON.stringify({ device: 'smoke-a', type: 'smoke', by: 'guard', requestId: 'r2' }),
        { qos: 1 },
      );
      const ok = await eventually(() => results.find((r) => r.requestId === 'r2'), 10_000, 'reset result 2');
      assert.equal(ok.ok, true);
      await eventually(
        () => transitions.find((t) => t.device === 'smoke-a' && t.state === 'reset'),
        10_000,
        'reset transition',
      );
    } finally {
      await client.endAsync();
    }
  });

  it('two smoke detectors of one zone confirm a fire (GB 50116-2013 §4.1.6)', async () => {
    site.devices.get('smoke-a')!.set({ smoke: true });
    site.devices.get('smoke-b')!.set({ smoke: true });
    const fire = await eventually(
      () => transitions.find((t) => t.type === 'fire_confirmed' && t.state === 'raised'),
      10_000,
      'fire confirmed',
    );
    assert.equal(fire.severity, 'critical');
  });

  it('health shows the disabled entry, the offline device and outbox depth; /metrics speaks Prometheus', async () => {
    const h = edge.health();
    assert.equal(h.status, 'degraded');
    assert.deepEqual(
      h.disabledDevices.map((d) => d.device),
      ['broken'],
    );
    assert.match(h.disabledDevices[0]!.issues[0]!.path, /devices\[5\]\.profile/);
    assert.equal(h.devices.ghost?.state, 'offline');
    assert.ok(h.outbox.pending.alarm.rows >= 1);
    const { host, port } = edge.healthAddress()!;
    const res = await fetch(`http://${host}:${port}/health`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { gateway: string };
    assert.equal(body.gateway, 'gw-test');
    const metrics = await (await fetch(`http://${host}:${port}/metrics`)).text();
    assert.match(metrics, /doorstep_bus_transactions_total\{bus="lan"\} \d+/);
    assert.match(metrics, /doorstep_outbox_pending_rows\{class="alarm"\} [1-9]/);
    assert.match(metrics, /doorstep_devices\{state="offline"\} 1/);
    assert.match(metrics, /doorstep_alarm_transitions_total\{state="raised"\} [1-9]/);
  });

  it('after a restart, alarms still active are back on the retained alarms/active topics', async () => {
    await eventually(
      () => edge.health().rules.openAlarms.some((a) => a.type === 'fire_confirmed'),
      10_000,
      'fire open',
    );
    await edge.stop();
    edge = buildEdge(config);
    await edge.start();
    const broker = edge.brokerAddress()!;
    const client = await mqtt.connectAsync(`mqtt://${broker.host}:${broker.port}`, {
      username: 'staff',
      clientId: 'staff-test',
      password,
    });
    const retained: string[] = [];
    client.on('message', (topic, payload, packet) => {
      if (packet.retain && payload.length > 0) retained.push(topic);
    });
    try {
      await client.subscribeAsync('doorstep/gw-test/alarms/active/#', { qos: 1 });
      await eventually(
        () => retained.includes('doorstep/gw-test/alarms/active/smoke-a/fire_confirmed'),
        10_000,
        'retained active alarm after restart',
      );
    } finally {
      await client.endAsync();
    }
  });
});
