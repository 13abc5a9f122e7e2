import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { type RunningSimSite, startSimSite } from '../../../drivers/sim/site.js';
import { ModemSim } from '../../support/modem-sim.js';
import { freePort } from '../../support/net.js';
import { openPtyPair, type PtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';
import { eventually } from '../runtime/helpers.js';

const root = new URL('../../../', import.meta.url).pathname;

interface Running {
  child: ChildProcess;
  stderr: () => string;
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
    30_000,
    `edge start: ${err}`,
  );
  return { child, stderr: () => err, log: () => log, health };
}

interface ModemHealthBody {
  status: string;
  problems: string[];
  modem?: { state: string; sent: number; watching: number; due: number; registration?: string };
}

async function healthOf(url: string): Promise<ModemHealthBody> {
  return (await (await fetch(url)).json()) as ModemHealthBody;
}

/** Polls an async condition (a generous bound, not a timing assertion). */
async function until(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `doorstep edge` as a real process, its uplink pointing at a port nobody listens on, its modem on a pty. */
describe('doorstep edge with its 4G modem (real process)', () => {
  const dir = tempDir('doorstep-modem-proc-');
  let pty: PtyPair;
  let modem: ModemSim;
  let site: RunningSimSite;
  const children: ChildProcess[] = [];
  const configFile = join(dir.path, 'gateway.yaml');

  before(async () => {
    pty = await openPtyPair();
    modem = new ModemSim(pty.b);
    await modem.start();
    site = await startSimSite({
      tcp: [{ name: 'lan', devices: [{ id: 'smoke-1', profile: 'smoke-status-register', unitId: 1 }] }],
    });
    const deadPort = await freePort(); // released at once: connections are refused — the uplink is down
    writeFileSync(join(dir.path, 'secret'), 'not-used-while-down');
    writeFileSync(
      configFile,
      stringify({
        gateway: {
          id: 'gw-modem-proc',
          name: '幸福里1号网关',
          site: { district: 'd1', town: 't1', community: 'c1' },
        },
        buses: [{ id: 'lan', type: 'tcp', timeoutMs: 300 }],
        devices: [
          {
            id: 'smoke-1',
            bus: 'lan',
            profile: 'smoke-status-register',
            host: '127.0.0.1',
            port: site.tcp[0]!.port,
            unitId: 1,
            location: '3号楼 楼道',
            pollIntervals: { critical: 200 },
          },
        ],
        storage: { dataDir: dir.path },
        uplink: { url: `http://127.0.0.1:${deadPort}`, credentialsFile: join(dir.path, 'secret') },
        modem: {
          enabled: true,
          port: pty.a,
          dutyNumbers: ['13800138000', '13900139000'],
          afterMs: 3000,
          retry: { minMs: 500, maxMs: 2000 },
          probeIntervalMs: 2000,
        },
        health: { port: 0 },
      }),
    );
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await modem?.stop().catch(() => undefined);
    await pty?.close();
    await site?.stop();
    dir.dispose();
  });

  it('texts a critical smoke alarm once per duty number, remembers it across kill -9, shows the modem in /health', async () => {
    let edge = await startEdge(configFile);
    children.push(edge.child);
    await until(async () => (await healthOf(edge.health)).modem?.state === 'ready', 30_000, 'modem ready');
    assert.equal((await healthOf(edge.health)).modem?.registration, 'CREG 1 (home)');

    site.devices.get('smoke-1')!.set({ smoke: true });
    await eventually(() => modem.texts.length >= 2, 60_000, `two texts: ${edge.log().slice(-2000)}`);
    assert.deepEqual(modem.texts.map((t) => t.to).sort(), ['+8613800138000', '+8613900139000']);
    for (const t of modem.texts)
      assert.match(
        t.text,
        /^【紧急报警】3号楼 楼道 烟感报警，.+。网关：幸福里1号网关。平台未收到（网络中断），请立即到场核实。$/,
      );
    await until(async () => (await healthOf(edge.health)).modem?.sent === 2, 10_000, 'sent in /health');
    const h = await healthOf(edge.health);
    assert.equal(h.modem?.watching, 1, 'watched until the cloud has it');
    assert.equal(h.modem?.due, 0);
    assert.ok(edge.log().includes('alarm texted to duty number'));
    const metrics = await (await fetch(edge.health.replace(/\/health$/, '/metrics'))).text();
    assert.match(metrics, /^doorstep_modem_texts_total 2$/m);
    assert.match(metrics, /^doorstep_modem_ready 1$/m);
    assert.match(metrics, /^doorstep_modem_alarms_due 0$/m);

    // kill -9, restart: the record of what was texted is in outbox.db, so nothing is texted again.
    edge.child.kill('SIGKILL');
    await once(edge.child, 'exit');
    edge = await startEdge(configFile);
    children.push(edge.child);
    await until(async () => (await healthOf(edge.health)).modem?.state === 'ready', 30_000, 'ready again');
    await new Promise((r) => setTimeout(r, 6000)); // twice afterMs
    assert.equal(modem.texts.length, 2, 'no second text after kill -9 and restart');
    assert.equal((await healthOf(edge.health)).modem?.watching, 1);
    assert.deepEqual(modem.violations, []);

    edge.child.kill('SIGTERM');
    const [code] = await once(edge.child, 'exit');
    assert.equal(code, 0);
  });
});
