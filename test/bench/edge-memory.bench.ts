/**
 * Resident memory of `doorstep edge` (the built JavaScript a gateway runs) polling 500 simulated
 * Modbus TCP devices with the default rule packs, the SQLite outbox and the local broker, without
 * Node-RED. The simulator runs in its own process. Target ≤ 100 MB.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { tempDir } from '../support/tmp.js';
import { report } from './report.js';

const root = new URL('../../', import.meta.url).pathname;
const DEVICES = 500;
const PER_SERVER = 200;
const PROFILES = [
  'smoke-status-register',
  'gas-status-word-int16',
  'pressure-float32-loop',
  'door-monitor-state',
  'geomagnetic-parking',
];
const dir = tempDir('doorstep-bench-mem-');
// However this run ends — a throw included — it leaves no process or directory behind.
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL'); // a no-op for one that has exited
  dir.dispose();
});

const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
if (build.status !== 0) throw new Error('npm run build failed');

const servers = Math.ceil(DEVICES / PER_SERVER);
const devices = Array.from({ length: DEVICES }, (_, i) => ({
  id: `dev-${i}`,
  profile: PROFILES[i % PROFILES.length]!,
  server: Math.floor(i / PER_SERVER),
  unitId: (i % PER_SERVER) + 1,
}));
const simSpec = {
  tcp: Array.from({ length: servers }, (_, s) => ({
    name: `s${s}`,
    devices: devices
      .filter((d) => d.server === s)
      .map((d) => ({ id: d.id, profile: d.profile, unitId: d.unitId, heartbeat: false })),
  })),
};
writeFileSync(join(dir.path, 'sim.yaml'), stringify(simSpec));
const sim = spawn(
  process.execPath,
  [join(root, 'bin/doorstep.js'), 'sim', '--config', join(dir.path, 'sim.yaml')],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
children.push(sim);
const ports: number[] = [];
for await (const line of createInterface({ input: sim.stdout! })) {
  const m = /modbus tcp \S+: 127\.0\.0\.1:(\d+)/.exec(line);
  if (m) ports.push(Number(m[1]));
  if (line === 'ready') break;
}

const config = {
  gateway: { id: 'gw-mem', site: { district: 'd', town: 't', community: 'c' } },
  buses: [{ id: 'lan', type: 'tcp', timeoutMs: 500 }],
  devices: devices.map((d) => ({
    id: d.id,
    bus: 'lan',
    profile: d.profile,
    host: '127.0.0.1',
    port: ports[d.server],
    unitId: d.unitId,
    location: 'bench',
  })),
  storage: { dataDir: dir.path },
  broker: { port: 0 },
  health: { port: 0 },
  log: { level: 'warn' },
};
writeFileSync(join(dir.path, 'gateway.yaml'), stringify(config));
// The V8 flags the shipped systemd unit runs the gateway with (edge/systemd/doorstep-edge.service).
const EDGE_UNIT_FLAGS = /ExecStart=\/usr\/bin\/node (.*?) \/opt/.exec(
  readFileSync(join(root, 'edge/systemd/doorstep-edge.service'), 'utf8'),
)![1]!;
const EDGE_NODE_FLAGS = (process.env.EDGE_NODE_FLAGS ?? EDGE_UNIT_FLAGS).split(' ').filter(Boolean);
const edge = spawn(
  process.execPath,
  [...EDGE_NODE_FLAGS, join(root, 'bin/doorstep.js'), 'edge', '--config', join(dir.path, 'gateway.yaml')],
  {
    stdio: ['ignore', 'ignore', 'pipe'],
  },
);
children.push(edge);
let err = '';
edge.stderr!.on('data', (d: Buffer) => {
  err += d.toString();
});
let health = '';
for (let i = 0; i < 600 && !health; i++) {
  health = /health (http:\/\/\S+\/health)/.exec(err)?.[1] ?? '';
  await new Promise((r) => setTimeout(r, 50));
}
if (!health) throw new Error(`edge did not start: ${err}`);

let online = 0;
for (let i = 0; i < 120; i++) {
  const h = (await (await fetch(health)).json()) as { devices: Record<string, { state: string }> };
  online = Object.values(h.devices).filter((d) => d.state === 'online').length;
  if (online === DEVICES) break;
  await new Promise((r) => setTimeout(r, 500));
}
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${edge.pid}/status`, 'utf8'))?.[1] ?? 0);
let peak = 0;
const samples: number[] = [];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
for (let i = 0; i < SECONDS; i++) {
  await new Promise((r) => setTimeout(r, 1000));
  samples.push(Math.round(rssKb() / 1024));
  peak = Math.max(peak, rssKb());
}
console.log(`RSS samples (MB, 1 s apart): ${samples.join(' ')}`);
const h = (await (await fetch(health)).json()) as { rules: { readingsEvaluated: number } };
edge.kill('SIGTERM');
await once(edge, 'exit');
sim.kill('SIGTERM');
await once(sim, 'exit');
dir.dispose();

console.log(`${online}/${DEVICES} devices online; ${h.rules.readingsEvaluated} readings evaluated`);
report({
  name: `resident memory of doorstep edge with ${DEVICES} simulated devices (no Node-RED), peak over ${SECONDS} s, node ${EDGE_NODE_FLAGS.join(' ')}`,
  value: Math.round(peak / 1024),
  unit: 'MB',
  target: 100,
  comparator: '<=',
});
