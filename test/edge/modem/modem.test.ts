import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { type RunningSimSite, startSimSite } from '../../../drivers/sim/site.js';
import { modemExtension } from '../../../edge/modem/index.js';
import type { ModemHealth } from '../../../edge/modem/texter.js';
import { buildEdge, type Edge } from '../../../edge/runtime/gateway.js';
import { uplinkExtension } from '../../../edge/runtime/uplink-extension.js';
import { ModemSim } from '../../support/modem-sim.js';
import { openPtyPair, type PtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';
import { eventually, gatewayConfig } from '../runtime/helpers.js';
import { FakeCloud } from '../uplink/cloud-server.js';

const DUTY = ['13800138000', '+8613900139000'];
const DUTY_E164 = ['+8613800138000', '+8613900139000'];
const SHORT_LOCATION = '3号楼 楼道';
const LONG_LOCATION = '幸福里小区3号楼2单元5层东侧楼道配电间门口吊顶内';

interface Rig {
  dir: { path: string; dispose(): void };
  pty: PtyPair;
  modem: ModemSim;
  site: RunningSimSite;
  cloud: FakeCloud;
  cloudUrl: string;
  logs: string[];
  edge?: Edge;
  start(modem?: Record<string, unknown>): Promise<Edge>;
  stopEdge(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A gateway built as `doorstep edge` builds it (buildEdge + the uplink and modem extensions, a
 * SQLite outbox on disk), a Modbus TCP smoke detector from the simulator, a small cloud that can
 * drop every connection (the uplink is down), and the simulated modem on a socat pty.
 */
async function rig(): Promise<Rig> {
  const dir = tempDir('doorstep-modem-');
  const pty = await openPtyPair();
  const modem = new ModemSim(pty.b);
  await modem.start();
  const site = await startSimSite({
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
  const cloud = new FakeCloud();
  const cloudUrl = await cloud.start();
  writeFileSync(join(dir.path, 'secret'), cloud.secret);
  const logs: string[] = [];
  const r: Rig = {
    dir,
    pty,
    modem,
    site,
    cloud,
    cloudUrl,
    logs,
    async start(modemOverrides = {}) {
      const port = site.tcp[0]!.port;
      const dev = (id: string, unitId: number, location: string) => ({
        id,
        bus: 'lan',
        profile: 'smoke-status-register',
        unitId,
        host: '127.0.0.1',
        port,
        location,
        pollIntervals: { critical: 100, normal: 200, diagnostic: 500 },
      });
      const config = gatewayConfig({
        gateway: {
          id: 'gw-modem',
          name: '幸福里1号网关',
          site: { district: 'd1', town: 't1', community: 'c1' },
        },
        buses: [{ id: 'lan', type: 'tcp', timeoutMs: 300, retries: 0 }],
        devices: [dev('smoke-a', 1, SHORT_LOCATION), dev('smoke-b', 2, LONG_LOCATION)],
        storage: { dataDir: dir.path },
        uplink: { url: cloudUrl, credentialsFile: join(dir.path, 'secret'), intervalMs: 500 },
        modem: {
          enabled: true,
          port: pty.a,
          dutyNumbers: DUTY,
          afterMs: 3000,
          retry: { minMs: 500, maxMs: 2000 },
          commandTimeoutMs: 1000,
          sendTimeoutMs: 3000,
          probeIntervalMs: 2000,
          ...modemOverrides,
        },
        health: { port: 0 },
      }).config;
      const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
      const edge = buildEdge(
        { config, disabled: [], ruleProblems: [] },
        {
          logger,
          extensions: [
            uplinkExtension(config.uplink!, config, logger),
            modemExtension(config.modem!, config, logger),
          ],
        },
      );
      await edge.start();
      r.edge = edge;
      return edge;
    },
    async stopEdge() {
      await r.edge?.stop();
      r.edge = undefined;
    },
    async close() {
      await r.edge?.stop().catch(() => undefined);
      await modem.stop().catch(() => undefined);
      await pty.close();
      await site.stop();
      await cloud.close();
      dir.dispose();
    },
  };
  return r;
}

const modemHealth = (edge: Edge) => (edge.health() as unknown as { modem: ModemHealth }).modem;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const raised = (edge: Edge, device: string) =>
  new Promise<void>((resolve) => {
    const off = edge.onTransition((t) => {
      if (t.device === device && t.state === 'raised') {
        off();
        resolve();
      }
    });
  });

describe('the gateway modem: critical alarms the cloud does not have are texted to the duty numbers', () => {
  it('uplink down: one text per duty number, in Chinese, with a concatenated one over 70 characters; none again after a restart', async () => {
    const r = await rig();
    try {
      r.cloud.mode = 'drop';
      const edge = await r.start();
      await eventually(() => modemHealth(edge).state === 'ready', 20_000, 'modem ready');

      const up = raised(edge, 'smoke-a');
      r.site.devices.get('smoke-a')!.set({ smoke: true });
      await up;
      await eventually(() => r.modem.texts.length >= 2, 30_000, 'two texts');
      await sleep(1500); // nothing more may follow
      assert.equal(r.modem.texts.length, 2, 'exactly one text per duty number');
      assert.deepEqual(r.modem.texts.map((t) => t.to).sort(), DUTY_E164);
      for (const t of r.modem.texts) {
        assert.match(
          t.text,
          /^【紧急报警】3号楼 楼道 烟感报警，\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}。网关：幸福里1号网关。平台未收到（网络中断），请立即到场核实。$/,
        );
        assert.ok(t.text.length <= 70, 'a single part');
        assert.equal(t.parts.length, 1);
        assert.equal(t.parts[0]!.dcs, 0x08);
        assert.equal(t.parts[0]!.udhi, false);
      }
      // The time is the alarm's, in Asia/Shanghai (UTC+8).
      const ts = /(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})/.exec(r.modem.texts[0]!.text)![1]!;
      const utc = Date.parse(`${ts.replace(' ', 'T')}+08:00`);
      assert.ok(Math.abs(Date.now() - utc) < 120_000, `${ts} is Shanghai time of now`);

      // A long location label: the text goes as a concatenated SMS (UDH IEI 0x00).
      const upB = raised(edge, 'smoke-b');
      r.site.devices.get('smoke-b')!.set({ smoke: true });
      await upB;
      await eventually(() => r.modem.texts.length >= 4, 30_000, 'two more texts');
      const long = r.modem.texts.slice(2);
      assert.deepEqual(long.map((t) => t.to).sort(), DUTY_E164);
      for (const t of long) {
        assert.ok(t.text.length > 70, `${t.text.length} characters`);
        assert.equal(t.parts.length, 2);
        assert.ok(t.parts.every((p) => p.udhi && p.concat?.total === 2));
        assert.ok(t.text.startsWith(`【紧急报警】${LONG_LOCATION} 烟感报警，`));
        assert.ok(t.text.endsWith('网关：幸福里1号网关。平台未收到（网络中断），请立即到场核实。'));
      }
      assert.deepEqual(r.modem.violations, []);
      const h = modemHealth(edge);
      assert.equal(h.sent, 4);
      assert.equal(h.watching, 2, 'still watched until the cloud has them');
      assert.equal(h.due, 0);

      // Restart with the uplink still down: what was texted is remembered in the outbox database.
      await r.stopEdge();
      const again = await r.start();
      await eventually(() => modemHealth(again).state === 'ready', 20_000, 'modem ready after restart');
      await sleep(5000); // past afterMs (3 s) after the restart
      assert.equal(r.modem.texts.length, 4, 'no second text after a restart');
      assert.equal(modemHealth(again).watching, 2);

      // The cloud comes back and acknowledges: the records are dropped, nothing more is texted.
      r.cloud.mode = 'ok';
      await eventually(
        () => modemHealth(again).watching === 0,
        30_000,
        'records dropped once the cloud has them',
      );
      assert.equal(r.modem.texts.length, 4);
      assert.equal(again.outbox.loadSideState('modem/alarm/').length, 0);
    } finally {
      await r.close();
    }
  });

  it('uplink up: the cloud has the alarm at once and nothing is texted', async () => {
    const r = await rig();
    try {
      const edge = await r.start();
      await eventually(() => modemHealth(edge).state === 'ready', 20_000, 'modem ready');
      const up = raised(edge, 'smoke-a');
      r.site.devices.get('smoke-a')!.set({ smoke: true });
      await up;
      await eventually(
        () => r.cloud.stored.size > 0 && edge.outbox.stats().pending.alarm.rows === 0,
        20_000,
        'acked',
      );
      await sleep(5000); // past afterMs
      assert.equal(r.modem.parts.length, 0, 'no SMS');
      assert.ok(!r.modem.commands.some((c) => c.startsWith('AT+CMGS')));
      assert.equal(modemHealth(edge).watching, 0);
    } finally {
      await r.close();
    }
  });

  it('uplink down, then the cloud acknowledges before the delay: no text', async () => {
    const r = await rig();
    try {
      r.cloud.mode = 'drop';
      const edge = await r.start({ afterMs: 10_000 }); // the default, GB 26875.1-2011 §4.1.2.1
      await eventually(() => modemHealth(edge).state === 'ready', 20_000, 'modem ready');
      const up = raised(edge, 'smoke-a');
      r.site.devices.get('smoke-a')!.set({ smoke: true });
      await up;
      await sleep(1500);
      assert.equal(modemHealth(edge).watching, 1);
      r.cloud.mode = 'ok'; // the uplink retries an alarm every 0.5–4 s
      await eventually(() => modemHealth(edge).watching === 0, 8000, 'the cloud has it before the delay');
      await sleep(10_000);
      assert.equal(r.modem.parts.length, 0, 'no SMS');
    } finally {
      await r.close();
    }
  });

  it('modem errors are retried with backoff, logged with their code and shown in /health', async () => {
    const r = await rig();
    try {
      r.cloud.mode = 'drop';
      r.modem.sim = 'absent';
      const edge = await r.start();
      await eventually(() => modemHealth(edge).reason === 'EDGE_ERR_MODEM_SIM', 20_000, 'no SIM reported');
      assert.equal(modemHealth(edge).state, 'failing');
      assert.ok(edge.health().problems.some((p) => p.startsWith('modem failing: SIM on')));

      r.modem.sim = 'ready';
      r.modem.creg = 2;
      r.modem.cereg = 0;
      await eventually(
        () => modemHealth(edge).reason === 'EDGE_ERR_MODEM_NETWORK',
        20_000,
        'no network reported',
      );
      assert.match(modemHealth(edge).detail!, /CREG 2 \(searching\), CEREG 0 \(not registered\)/);

      r.modem.creg = 0;
      r.modem.cereg = 5; // LTE-only, roaming: SMS goes over EPS
      r.modem.failNext = 3;
      r.modem.cmsCode = 38;
      const up = raised(edge, 'smoke-a');
      r.site.devices.get('smoke-a')!.set({ smoke: true });
      await up;
      await eventually(
        () => modemHealth(edge).reason === 'EDGE_ERR_MODEM_SMS',
        20_000,
        '+CMS ERROR reported',
      );
      assert.match(modemHealth(edge).detail!, /\+CMS ERROR 38 \(network out of order\)/);
      assert.ok(edge.health().problems.some((p) => /waiting to be texted/.test(p)));
      await eventually(() => r.modem.texts.length >= 2, 30_000, 'texts after the retries');
      await sleep(1500);
      assert.equal(r.modem.texts.length, 2, 'one text per number once the errors stop');
      assert.equal(modemHealth(edge).state, 'ready');
      assert.equal(modemHealth(edge).failed >= 3 + 2, true, 'SIM, network and three +CMS ERRORs counted');
      assert.ok(r.logs.some((l) => l.includes('"code":"EDGE_ERR_MODEM_SMS"')));
      assert.ok(r.logs.some((l) => l.includes('"code":"EDGE_ERR_MODEM_SIM"')));

      // A modem that stops answering: a timeout, with the command named.
      r.modem.mode = 'silent';
      await eventually(
        () => modemHealth(edge).reason === 'EDGE_ERR_MODEM_TIMEOUT',
        20_000,
        'timeout reported',
      );
      assert.match(modemHealth(edge).detail!, /did not answer AT within/);
      assert.deepEqual(r.modem.violations, []);
    } finally {
      await r.close();
    }
  });
});
