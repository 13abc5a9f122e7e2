import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { silentLogger } from '../../common/log.js';
import { hashPassword } from '../../common/password.js';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { buildEdge, type Edge } from '../../edge/runtime/gateway.js';
import {
  hashAdminPassword,
  type NodeRedExtension,
  type NodeRedHealth,
  nodeRedExtension,
  shippedFlows,
} from '../../edge/runtime/node-red.js';
import type { AlarmTransition } from '../../protocol/index.js';
import { eventually, gatewayConfig } from '../edge/runtime/helpers.js';
import { tempDir } from '../support/tmp.js';

const GW = 'gw-nr';
const ADMIN = { user: 'admin', password: 'editor-pw-1' };
const NR_PASSWORD = 'node-red-broker-pw';
const TESTER_PASSWORD = 'tester-pw';

type Flow = Record<string, unknown> & { id: string; type: string };

/** Sets an environment variable of a shipped flow's tab, as an integrator does in the editor. */
function setEnv(flows: Flow[], tab: string, name: string, value: string): void {
  const t = flows.find((n) => n.id === tab) as { env: { name: string; value: string }[] } | undefined;
  const entry = t?.env.find((e) => e.name === name);
  if (!entry) throw new Error(`no env ${name} on tab ${tab}`);
  entry.value = value;
}

/** A tab used by the tests only: a reading node and two commands triggered through the admin API. */
function testTab(): Flow[] {
  const publish = (id: string, topic: string) => ({
    id,
    type: 'doorstep-publish',
    z: 'test',
    broker: 'doorstep-gw',
    topic,
    qos: '1',
    retain: false,
    wires: [],
  });
  const inject = (id: string, props: Record<string, string>) => ({
    id,
    type: 'inject',
    z: 'test',
    props: Object.entries(props).map(([p, v]) => ({ p, v, vt: 'str' })),
    repeat: '',
    once: false,
    topic: '',
    wires: [['test.command']],
  });
  return [
    { id: 'test', type: 'tab', label: 'test only', disabled: false, env: [] },
    {
      id: 'test.reading',
      type: 'doorstep-reading',
      z: 'test',
      broker: 'doorstep-gw',
      devices: 'smoke-a',
      points: 'smoke',
      quality: 'any',
      changesOnly: false,
      wires: [['test.reading.out']],
    },
    publish('test.reading.out', 'doorstep/%g/flows/test/reading'),
    inject('test.silence', { command: 'silence', device: 'smoke-a' }),
    inject('test.badreset', { command: 'reset', device: 'smoke-a', alarmType: 'no_such_alarm' }),
    {
      id: 'test.command',
      type: 'doorstep-command',
      z: 'test',
      broker: 'doorstep-gw',
      command: 'msg',
      device: '',
      alarmType: '',
      on: 'msg',
      by: 'node-red-test',
      timeoutMs: 5000,
      wires: [['test.command.out']],
    },
    publish('test.command.out', 'doorstep/%g/flows/test/command'),
  ];
}

interface Received {
  topic: string;
  body: Record<string, unknown>;
}

interface LegacyRequest {
  key: string | undefined;
  contentType: string | undefined;
  body: { source: string; gateway: string; alarm: AlarmTransition };
  status: number;
}

/** Asia/Shanghai is UTC+8 all year (no DST since 1991). */
const shanghai = (hhmm: string) => Date.parse(`2025-03-04T${hhmm}:00+08:00`);

/**
 * A real gateway (buildEdge with simulated Modbus TCP smoke detectors, its local broker) with a
 * real Node-RED as its supervised child process, running the shipped flows.
 */
describe('Node-RED on the gateway: shipped flows end to end', () => {
  const dir = tempDir('doorstep-nodered-');
  let site: RunningSimSite;
  let edge: Edge;
  let nodeRed: NodeRedExtension;
  let tester: MqttClient;
  let legacy: Server;
  const legacyRequests: LegacyRequest[] = [];
  const received: Received[] = [];
  const transitions: AlarmTransition[] = [];
  let base = '';

  const on = (suffix: string) => received.filter((m) => m.topic === `doorstep/${GW}/flows/${suffix}`);

  /** Publishes an alarm transition as the gateway would (the tester user may publish on alarms/). */
  const announce = async (
    t: Partial<AlarmTransition> & Pick<AlarmTransition, 'device' | 'type' | 'state' | 'ts'>,
  ) => {
    const full: AlarmTransition = {
      id: `inj-${t.device}-${t.type}-${t.ts}`,
      gateway: GW,
      severity: 'critical',
      test: false,
      latched: true,
      ...t,
    };
    await tester.publishAsync(`doorstep/${GW}/alarms/${t.device}/${t.type}`, JSON.stringify(full), {
      qos: 1,
    });
    return full;
  };

  const adminToken = async (password = ADMIN.password) => {
    const res = await fetch(new URL('/auth/token', base), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: 'node-red-admin',
        grant_type: 'password',
        scope: '*',
        username: ADMIN.user,
        password,
      }),
    });
    return {
      status: res.status,
      token: res.ok ? ((await res.json()) as { access_token: string }).access_token : '',
    };
  };

  const health = () => edge.health().nodeRed as NodeRedHealth;

  before(async () => {
    // The legacy system: the first request fails (503) to exercise the retry; a device named
    // smoke-x404 is always refused (400), which must not be retried.
    let first = true;
    legacy = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (c: Buffer) => {
        text += c.toString();
      });
      req.on('end', () => {
        const body = JSON.parse(text) as LegacyRequest['body'];
        const status = body.alarm.device === 'smoke-x404' ? 400 : first ? 503 : 200;
        first = false;
        legacyRequests.push({
          key: req.headers['idempotency-key'] as string | undefined,
          contentType: req.headers['content-type'],
          body,
          status,
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => legacy.listen(0, '127.0.0.1', resolve));
    const legacyUrl = `http://127.0.0.1:${(legacy.address() as AddressInfo).port}/alarms`;

    site = await startSimSite({
      tcp: [
        {
          name: 'lane',
          devices: [
            { id: 'smoke-a', profile: 'smoke-status-register', unitId: 1 },
            { id: 'smoke-b', profile: 'smoke-status-register', unitId: 2 },
          ],
        },
      ],
    });
    const port = site.tcp[0]!.port;
    const smoke = (id: string, unitId: number) => ({
      id,
      bus: 'lan',
      profile: 'smoke-status-register',
      unitId,
      host: '127.0.0.1',
      port,
      location: `stairwell ${id}`,
      zone: 'b3',
      pollIntervals: { critical: 100, normal: 200, diagnostic: 500 },
    });

    // The shipped flows, adapted as an integrator would: zones, the door, the legacy URL.
    const flows = shippedFlows() as Flow[];
    setEnv(
      flows,
      'fire',
      'ZONES',
      JSON.stringify({ b3: ['smoke-a', 'smoke-b'], z9: ['smoke-x1', 'smoke-x2'] }),
    );
    setEnv(flows, 'night', 'DOORS', JSON.stringify(['door-eq']));
    setEnv(flows, 'legacy', 'LEGACY_URL', legacyUrl);
    setEnv(flows, 'legacy', 'RETRY_DELAY_MS', '100');
    (flows.find((n) => n.id === 'legacy') as Flow).disabled = false;
    const flowsFile = join(dir.path, 'flows', 'flows.json');
    mkdirSync(join(dir.path, 'flows'));
    writeFileSync(flowsFile, JSON.stringify([...flows, ...testTab()]));

    const config = gatewayConfig({
      gateway: { id: GW, site: { district: 'd1', town: 't1', community: 'c1' } },
      buses: [{ id: 'lan', type: 'tcp', timeoutMs: 200, retries: 0 }],
      devices: [smoke('smoke-a', 1), smoke('smoke-b', 2)],
      storage: { dataDir: dir.path },
      broker: {
        port: 0,
        users: [
          {
            username: 'node-red',
            passwordHash: await hashPassword(NR_PASSWORD),
            acl: { publish: ['doorstep/%g/commands/+', 'doorstep/%g/flows/#'], subscribe: ['doorstep/%g/#'] },
          },
          {
            username: 'tester',
            passwordHash: await hashPassword(TESTER_PASSWORD),
            acl: { publish: ['doorstep/%g/alarms/#'], subscribe: ['doorstep/%g/#'] },
          },
        ],
      },
      nodeRed: {
        enabled: true,
        port: 0,
        adminUser: ADMIN.user,
        adminPasswordHash: hashAdminPassword(ADMIN.password, 4),
        heapMb: 128,
        flowsFile,
        brokerUser: 'node-red',
        brokerPassword: NR_PASSWORD,
      },
      health: { port: 0 },
    });
    nodeRed = nodeRedExtension(config.config.nodeRed!, config.config, silentLogger(), {
      restart: { initialMs: 100 },
    });
    edge = buildEdge(config, { extensions: [nodeRed] });
    edge.onTransition((t) => transitions.push(t));
    await edge.start();

    const broker = edge.brokerAddress()!;
    tester = await mqtt.connectAsync(`mqtt://${broker.host}:${broker.port}`, {
      username: 'tester',
      clientId: 'tester-test',
      password: TESTER_PASSWORD,
    });
    tester.on('message', (topic, payload) => {
      try {
        received.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> });
      } catch {
        received.push({ topic, body: { raw: payload.toString() } });
      }
    });
    await tester.subscribeAsync(`doorstep/${GW}/flows/#`, { qos: 1 });
    // Online = every node of the deployed flows has its subscription in place.
    await eventually(
      () => on('status').some((m) => m.body.state === 'online'),
      30_000,
      'Node-RED flows online',
    );
    base = `http://127.0.0.1:${nodeRed.address()!.port}/`;
  });

  after(async () => {
    await tester?.endAsync();
    await edge?.stop();
    await site?.stop();
    await new Promise((resolve) => legacy?.close(resolve));
    dir.dispose();
  });

  it('the editor and admin API refuse without credentials and accept with them', async () => {
    assert.equal((await fetch(new URL('/flows', base))).status, 401);
    assert.equal((await fetch(new URL('/settings', base))).status, 401);
    const wrong = await adminToken('not-the-password');
    assert.notEqual(wrong.status, 200);
    assert.equal(wrong.token, '');
    const { status, token } = await adminToken();
    assert.equal(status, 200);
    const flows = await fetch(new URL('/flows', base), { headers: { authorization: `Bearer ${token}` } });
    assert.equal(flows.status, 200);
    const deployed = (await flows.json()) as Flow[];
    assert.ok(deployed.some((n) => n.type === 'doorstep-alarm'));
    // The broker password is a secret of the runtime: neither flows nor settings show it.
    const settings = await fetch(new URL('/settings', base), {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(settings.status, 200);
    const text = await settings.text();
    assert.ok(!text.includes(NR_PASSWORD));
    assert.ok(!JSON.stringify(deployed).includes(NR_PASSWORD));
    // Nothing is installed from npm: with the palette manager off the install route is not mounted.
    const install = await fetch(new URL('/nodes', base), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ module: 'node-red-contrib-anything' }),
    });
    assert.equal(install.status, 404);
  });

  it('doorstep reading delivers the gateway readings of the chosen device and point', async () => {
    const reading = await eventually(() => on('test/reading')[0], 15_000, 'a smoke reading');
    assert.equal(typeof reading.body.value, 'boolean');
    assert.ok(['good', 'uncertain', 'bad'].includes(reading.body.quality as string));
    assert.equal(typeof reading.body.ts, 'number');
  });

  it('fire: one detector is pending, the second of the zone sounds the siren once', async () => {
    site.devices.get('smoke-a')!.set({ smoke: true });
    const pending = await eventually(
      () => on('fire/pending').find((m) => m.body.zone === 'b3'),
      15_000,
      'smoke-a pending',
    );
    assert.deepEqual(pending.body.devices, ['smoke-a']);
    assert.equal(on('siren').filter((m) => m.body.zone === 'b3').length, 0);

    site.devices.get('smoke-b')!.set({ smoke: true });
    const siren = await eventually(() => on('siren').find((m) => m.body.zone === 'b3'), 15_000, 'siren b3');
    assert.equal(siren.body.on, true);
    assert.deepEqual(siren.body.devices, ['smoke-a', 'smoke-b']);
    assert.equal(siren.body.reason, 'fire_confirmed');
    const raisedB = transitions.find(
      (t) => t.device === 'smoke-b' && t.type === 'smoke' && t.state === 'raised',
    );
    assert.equal(siren.body.alarm, raisedB?.id);
  });

  it('fire: two detectors further apart than the window, or a walk test, do not confirm', async () => {
    const t0 = shanghai('10:00');
    const window = 600_000;
    // A walk-test alarm never counts as a source.
    await announce({ device: 'smoke-x2', type: 'smoke', state: 'raised', ts: t0, test: true });
    await announce({ device: 'smoke-x1', type: 'smoke', state: 'raised', ts: t0 });
    await eventually(() => on('fire/pending').find((m) => m.body.zone === 'z9'), 10_000, 'x1 pending');
    await announce({ device: 'smoke-x2', type: 'smoke', state: 'raised', ts: t0 + window + 1 });
    await eventually(
      () =>
        on('fire/pending').find(
          (m) => m.body.zone === 'z9' && (m.body.devices as string[])[0] === 'smoke-x2',
        ),
      10_000,
      'x2 pending',
    );
    assert.equal(on('siren').filter((m) => m.body.zone === 'z9').length, 0);
    // x1 reset and alarming again, this time within the window of x2: confirmed.
    await announce({ device: 'smoke-x1', type: 'smoke', state: 'reset', ts: t0 + window + 2 });
    await announce({ device: 'smoke-x1', type: 'smoke', state: 'raised', ts: t0 + window + 3 });
    const siren = await eventually(() => on('siren').find((m) => m.body.zone === 'z9'), 10_000, 'siren z9');
    assert.deepEqual(siren.body.devices, ['smoke-x1', 'smoke-x2']);
    // Every detector of the zone reset: the siren is switched off.
    await announce({ device: 'smoke-x1', type: 'smoke', state: 'reset', ts: t0 + window + 4 });
    await announce({ device: 'smoke-x2', type: 'smoke', state: 'reset', ts: t0 + window + 5 });
    const off = await eventually(
      () => on('siren').find((m) => m.body.zone === 'z9' && m.body.on === false),
      10_000,
      'siren z9 off',
    );
    assert.equal(off.body.on, false);
    assert.equal(on('siren').filter((m) => m.body.zone === 'z9').length, 2);
  });

  it('night-time intrusion: the equipment-room door alarms between 22:00 and 06:00 Shanghai time only', async () => {
    const door = {
      type: 'door_open_warning',
      state: 'raised' as const,
      severity: 'minor' as const,
      latched: false,
    };
    // Published in this order by one client at QoS 1: Node-RED handles them in order, so any
    // notification for the first three would arrive before the ones expected.
    await announce({ ...door, device: 'door-eq', ts: shanghai('14:00') });
    await announce({ ...door, device: 'door-lobby', ts: shanghai('23:30') });
    await announce({ ...door, device: 'door-eq', ts: shanghai('06:00') });
    const night = await announce({ ...door, device: 'door-eq', ts: shanghai('23:30') });
    const early = await announce({ ...door, device: 'door-eq', ts: shanghai('05:59') });
    await eventually(() => on('intrusion').length >= 2, 10_000, 'two intrusion notices');
    assert.deepEqual(
      on('intrusion').map((m) => [m.body.alarm, m.body.localTime]),
      [
        [night.id, '23:30'],
        [early.id, '05:59'],
      ],
    );
  });

  it('alarms are forwarded to the legacy system over HTTP, retried after a 503, not after a 400', async () => {
    const raisedA = transitions.find(
      (t) => t.device === 'smoke-a' && t.type === 'smoke' && t.state === 'raised',
    )!;
    const key = `${raisedA.id}:raised`;
    await eventually(
      () => legacyRequests.some((r) => r.key === key && r.status === 200),
      15_000,
      'smoke-a delivered',
    );
    const forA = legacyRequests.filter((r) => r.key === key);
    assert.equal(forA[0]!.status, 503, 'the first attempt hit the 503');
    assert.equal(forA.at(-1)!.status, 200);
    assert.equal(forA.at(-1)!.contentType, 'application/json');
    assert.deepEqual(forA.at(-1)!.body.alarm, raisedA);
    assert.equal(forA.at(-1)!.body.gateway, GW);
    // Minor (door) alarms are outside SEVERITIES; the flow saw them before the one below.
    const refused = await announce({
      device: 'smoke-x404',
      type: 'smoke',
      state: 'raised',
      ts: shanghai('12:00'),
    });
    const failed = await eventually(
      () => on('legacy/failed').find((m) => (m.body.alarm as AlarmTransition).id === refused.id),
      10_000,
      'gave up on the 400',
    );
    assert.equal(failed.body.attempts, 1);
    assert.equal(failed.body.error, 'HTTP 400');
    assert.ok(!legacyRequests.some((r) => r.body.alarm.type === 'door_open_warning'));
  });

  it('doorstep command sends a command, waits for the gateway result and outputs it', async () => {
    const { token } = await adminToken();
    const press = (id: string) =>
      fetch(new URL(`/inject/${id}`, base), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
    assert.equal((await press('test.silence')).status, 200);
    const ok = await eventually(() => on('test/command')[0], 10_000, 'silence result');
    assert.equal(ok.body.command, 'silence');
    assert.equal(ok.body.ok, true);
    assert.equal((await press('test.badreset')).status, 200);
    const refused = await eventually(() => on('test/command')[1], 10_000, 'reset result');
    assert.equal(refused.body.command, 'reset');
    assert.equal(refused.body.ok, false);
    // The gateway recorded who sent it, as for every local command.
    const events = edge.outbox
      .nextBatch({ maxRows: 100_000 })
      .records.filter((r) => r.class === 'event')
      .map((r) => r.payload as Record<string, unknown>);
    assert.ok(
      events.some((e) => e.kind === 'command_result' && e.command === 'silence' && e.by === 'node-red-test'),
    );
  });

  it('reports running, pid and RSS in the gateway health, and restarts Node-RED when it is killed', async () => {
    const h = health();
    assert.equal(h.running, true);
    assert.equal(h.restarts, 0);
    assert.ok(h.pid && h.pid !== process.pid);
    assert.ok((h.rssBytes ?? 0) > 20 * 1024 * 1024, `rss ${h.rssBytes}`);
    const onlineBefore = on('status').filter((m) => m.body.state === 'online').length;
    process.kill(h.pid!, 'SIGKILL');
    const restarted = await eventually(
      () => {
        const now = health();
        return now.running && now.pid !== h.pid ? now : undefined;
      },
      30_000,
      'Node-RED restarted',
    );
    assert.equal(restarted.restarts, 1);
    assert.equal(restarted.lastExit?.signal, 'SIGKILL');
    // The broker published the will of the killed one; the new one comes online and works.
    await eventually(
      () => on('status').filter((m) => m.body.state === 'online').length > onlineBefore,
      30_000,
      'online again',
    );
    assert.ok(on('status').some((m) => m.body.state === 'offline'));
    const again = await announce({
      device: 'door-eq',
      type: 'door_open_warning',
      state: 'raised',
      severity: 'minor',
      ts: shanghai('02:00'),
    });
    await eventually(
      () => on('intrusion').find((m) => m.body.alarm === again.id),
      10_000,
      'flows work again',
    );
  });

  it('stops Node-RED with the gateway', async () => {
    const pid = health().pid!;
    await tester.endAsync();
    await edge.stop();
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    assert.equal(nodeRed.health().running, false);
  });
});
