import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { SerialLink } from '../../../drivers/link/serial.js';
import { getRegisterProfile } from '../../../drivers/profiles/catalogue/index.js';
import { SimDevice } from '../../../drivers/sim/devices.js';
import { RtuSlave } from '../../../drivers/sim/modbus-slave/rtu-slave.js';
import { type RunningSimSite, startSimSite } from '../../../drivers/sim/site.js';
import { openPtyPair, type PtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';
import { eventually } from './helpers.js';

const root = new URL('../../../', import.meta.url).pathname;

interface Running {
  child: ChildProcess;
  stderr: () => string;
  /** The gateway's JSON log (stdout). */
  log: () => string;
  health: string;
}

async function startEdge(configFile: string): Promise<Running> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bin/doorstep.ts', 'edge', '--config', configFile],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.stdout!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const health = await eventually(
    () => /health (http:\/\/\S+\/health)/.exec(err)?.[1],
    20_000,
    `edge start: ${err}`,
  );
  return { child, stderr: () => err, log: () => log, health };
}

/** The parts of GET /health these tests read. */
interface HealthBody {
  gateway: string;
  devices: Record<string, { state: string }>;
  disabledDevices: { device: string }[];
  rules: {
    readingsEvaluated: number;
    open: number;
    openAlarms: { device: string; type: string }[];
    transitions: Record<string, number>;
  };
}

async function healthOf(url: string): Promise<HealthBody> {
  return (await (await fetch(url)).json()) as HealthBody;
}

/** `doorstep edge` as a real process: a serial RS-485 bus on a socat pty and a Modbus TCP bus. */
describe('doorstep edge process', () => {
  const dir = tempDir('doorstep-edge-proc-');
  let pty: PtyPair;
  let rtu: RtuSlave;
  let site: RunningSimSite;
  const serialSmoke = new SimDevice({
    id: 'smoke-rtu',
    profile: getRegisterProfile('smoke-status-register'),
    unitId: 3,
  });
  const configFile = join(dir.path, 'gateway.yaml');
  let doc: { devices: Record<string, unknown>[] } & Record<string, unknown>;
  const children: ChildProcess[] = [];

  before(async () => {
    pty = await openPtyPair();
    rtu = new RtuSlave({
      link: new SerialLink({ path: pty.b, baudRate: 19200, parity: 'even' }),
      units: [serialSmoke.unit],
    });
    await rtu.start();
    site = await startSimSite({
      tcp: [{ name: 'lan', devices: [{ id: 'gas-tcp', profile: 'gas-status-word-int16', unitId: 1 }] }],
    });
    doc = {
      gateway: { id: 'gw-proc', site: { district: 'd1', town: 't1', community: 'c1' } },
      buses: [
        { id: 'rs485', type: 'rtu', port: pty.a, baudRate: 19200, parity: 'even', timeoutMs: 200 },
        { id: 'lan', type: 'tcp', timeoutMs: 200 },
      ],
      devices: [
        {
          id: 'smoke-rtu',
          bus: 'rs485',
          profile: 'smoke-status-register',
          unitId: 3,
          location: '3号楼 楼道',
          pollIntervals: { critical: 200 },
        },
        {
          id: 'gas-tcp',
          bus: 'lan',
          profile: 'gas-status-word-int16',
          host: '127.0.0.1',
          port: site.tcp[0]!.port,
          unitId: 1,
          location: '食堂',
          pollIntervals: { critical: 200 },
        },
      ],
      storage: { dataDir: dir.path },
      health: { port: 0 },
    };
    writeFileSync(configFile, stringify(doc));
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await rtu?.stop();
    await pty?.close();
    await site?.stop();
    dir.dispose();
  });

  it('polls a serial and a TCP bus, survives SIGKILL with its alarm state, reloads on SIGHUP, stops on SIGTERM', async () => {
    let edge = await startEdge(configFile);
    children.push(edge.child);
    const online = async () => {
      const h = await healthOf(edge.health);
      return h.devices?.['smoke-rtu']?.state === 'online' && h.devices?.['gas-tcp']?.state === 'online';
    };
    // generous bounds: the suite runs two files at a time on two cores
    for (let i = 0; i < 600 && !(await online()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(
      await online(),
      `both devices online: ${JSON.stringify((await healthOf(edge.health)).devices)} ${edge.log().slice(-2000)}`,
    );

    // A latched smoke alarm is raised and written to the outbox …
    serialSmoke.set({ smoke: true });
    for (let i = 0; i < 600 && (await healthOf(edge.health)).rules.open < 1; i++)
      await new Promise((r) => setTimeout(r, 50));
    // … then the gateway dies without warning.
    edge.child.kill('SIGKILL');
    await once(edge.child, 'exit');
    const db = new Database(join(dir.path, 'outbox.db'), { readonly: true });
    const alarms = db.prepare('select payload from entries where class = 0').all() as {
      payload: string;
    }[];
    db.close();
    const raised = alarms
      .map((a) => JSON.parse(a.payload))
      .filter((t) => t.device === 'smoke-rtu' && t.state === 'raised');
    assert.equal(raised.length, 1, 'the raised alarm is on disk');

    // After a restart the alarm is still open with the same identity, and is not raised again.
    edge = await startEdge(configFile);
    children.push(edge.child);
    for (let i = 0; i < 600 && !(await online()); i++) await new Promise((r) => setTimeout(r, 50));
    const seen = (await healthOf(edge.health)).rules.readingsEvaluated;
    // let the detector, still in alarm, be polled for a while
    for (let i = 0; i < 600 && (await healthOf(edge.health)).rules.readingsEvaluated < seen + 30; i++)
      await new Promise((r) => setTimeout(r, 50));
    const h = await healthOf(edge.health);
    assert.equal(h.rules.open, 1);
    assert.equal(h.rules.transitions.raised, 0, 'no second raise after restart');

    // SIGHUP: add a device and a broken entry; the running gateway picks both up.
    doc.devices.push({
      id: 'gas-2',
      bus: 'lan',
      profile: 'gas-float32-abcd',
      host: '127.0.0.1',
      port: 1,
      unitId: 2,
      location: 'x',
    });
    doc.devices.push({
      id: 'bad',
      bus: 'nowhere',
      profile: 'smoke-status-register',
      unitId: 4,
      location: 'x',
    });
    writeFileSync(configFile, stringify(doc));
    edge.child.kill('SIGHUP');
    let after1 = await healthOf(edge.health);
    for (let i = 0; i < 600; i++) {
      after1 = await healthOf(edge.health);
      if (after1.disabledDevices?.length === 1 && after1.devices?.['gas-2']) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      after1.disabledDevices.map((d: { device: string }) => d.device),
      ['bad'],
    );
    assert.ok(after1.devices['gas-2'], 'the added device is polled');
    assert.ok(
      after1.rules.openAlarms.some(
        (a: { device: string; type: string }) => a.device === 'smoke-rtu' && a.type === 'smoke',
      ),
      'alarm state kept across the reload',
    );

    // SIGHUP with an unreadable file changes nothing and keeps running.
    writeFileSync(configFile, 'gateway: [broken');
    edge.child.kill('SIGHUP');
    for (let i = 0; i < 600 && !/reload refused/.test(edge.log()); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal((await healthOf(edge.health)).gateway, 'gw-proc');
    assert.match(edge.log(), /reload refused/);

    // SIGTERM: drains and exits 0 (the process enforces its 5 s budget itself and exits 1 past it).
    edge.child.kill('SIGTERM');
    const [code] = (await once(edge.child, 'exit')) as [number | null];
    assert.equal(code, 0);
  });

  it('refuses to start on an invalid configuration, naming every problem with its path', async () => {
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(
      bad,
      stringify({ gateway: { id: 'GW!', site: { district: 'd1' } }, buses: [{ id: 'x', type: 'rtu' }] }),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/doorstep.ts', 'edge', '--config', bad], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 1);
    assert.match(err, /CFG_ERR_INVALID/);
    for (const path of ['gateway.id', 'gateway.site.town', 'gateway.site.community', 'buses[0].port'])
      assert.ok(err.includes(path), path);
  });
});
