/**
 * Resident memory of `doorstep edge` as a box on site runs it: the built JavaScript, started with
 * the shipped systemd unit's exact ExecStart (node flags included; only the paths of the bundle and
 * the configuration are substituted), polling 500 simulated Modbus TCP devices with the default
 * rule packs, the SQLite outbox, the local broker and an uplink syncing into a real cloud, without
 * Node-RED. The simulator and the cloud run in their own processes. Target ≤ 100 MB; the gateway
 * must also stay up and have its batches acknowledged, or the figure means nothing.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { freePort } from '../support/net.js';
import { enrollGateway, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { EDGE_UNIT, readUnitCommand } from '../support/unit.js';
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

// The district cloud the gateway syncs into (its own process, SQLite store).
const ADMIN: [string, string] = ['admin', 'bench admin password'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };
const cloudPort = await freePort();
const cloudUrl = `http://127.0.0.1:${cloudPort}`;
writeFileSync(
  join(dir.path, 'cloud.yaml'),
  stringify({
    district: { slug: 'pudong', name: '浦东新区' },
    http: { host: '127.0.0.1', port: cloudPort },
    storage: { kind: 'sqlite', path: join(dir.path, 'cloud.db') },
    bootstrap: {
      admin: { username: ADMIN[0], password: ADMIN[1] },
      sites: [
        { path: 'pudong/zhangjiang', name: '张江镇' },
        { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
      ],
    },
    log: { level: 'warn' },
  }),
);
const cloud = startDoorstep(['cloud', '--config', join(dir.path, 'cloud.yaml')]);
children.push(cloud.child);
await cloud.waitFor(/listening on/, 60_000);
const { secret } = await enrollGateway(cloudUrl, ADMIN, { id: 'gw-mem', site: SITE });
writeFileSync(join(dir.path, 'gateway.secret'), secret, { mode: 0o600 });

const config = {
  gateway: { id: 'gw-mem', site: SITE },
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
  uplink: { url: cloudUrl, credentialsFile: join(dir.path, 'gateway.secret') },
  health: { port: 0 },
  log: { level: 'warn' },
};
writeFileSync(join(dir.path, 'gateway.yaml'), stringify(config));
// The shipped unit's command line: /opt/doorstep → this repository's build, the configuration →
// the file above. EDGE_NODE_FLAGS (space-separated) replaces the unit's node flags, to compare.
const unit = readUnitCommand(EDGE_UNIT, {
  '/opt/doorstep/': root,
  '/etc/doorstep/gateway.yaml': join(dir.path, 'gateway.yaml'),
});
const script = unit.args.findIndex((a) => a.endsWith('/bin/doorstep.js'));
if (script < 0) throw new Error(`the unit does not run bin/doorstep.js: ${unit.args.join(' ')}`);
const unitFlags = unit.args.slice(0, script);
const nodeFlags = process.env.EDGE_NODE_FLAGS?.split(' ').filter(Boolean) ?? unitFlags;
const edgeArgs = [...nodeFlags, ...unit.args.slice(script)];
// The unit names /usr/bin/node; a machine whose node lives elsewhere runs the same flags with its own.
const node = existsSync(unit.command) ? unit.command : process.execPath;
console.log(`gateway: ${node} ${edgeArgs.join(' ')}`);
const edge = spawn(node, edgeArgs, {
  stdio: ['ignore', 'ignore', 'pipe'],
  env: { ...process.env, ...unit.env },
});
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
// The gateway dying (e.g. a flag that breaks a dependency) is a failure, never a low figure.
const crashed = () => {
  if (edge.exitCode !== null || edge.signalCode !== null)
    throw new Error(`the gateway exited (${edge.exitCode ?? edge.signalCode}): ${err.slice(-2000)}`);
};
const getHealth = async <T>(): Promise<T> => {
  try {
    return (await (await fetch(health)).json()) as T;
  } catch (error) {
    await new Promise((r) => setTimeout(r, 500));
    crashed(); // a refused connection is most often a gateway that just died: say so
    throw error;
  }
};

let online = 0;
for (let i = 0; i < 120; i++) {
  const h = await getHealth<{ devices: Record<string, { state: string }> }>();
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
  crashed();
  samples.push(Math.round(rssKb() / 1024));
  peak = Math.max(peak, rssKb());
}
console.log(`RSS samples (MB, 1 s apart): ${samples.join(' ')}`);
const h = await getHealth<{
  rules: { readingsEvaluated: number };
  uplink?: { batches?: { acked?: number } };
}>();
crashed();
edge.kill('SIGTERM');
await once(edge, 'exit');
sim.kill('SIGTERM');
await once(sim, 'exit');
await cloud.stop();
dir.dispose();

const acked = h.uplink?.batches?.acked ?? 0;
console.log(
  `${online}/${DEVICES} devices online; ${h.rules.readingsEvaluated} readings evaluated; ${acked} batch(es) acknowledged by the cloud`,
);
if (acked === 0)
  throw new Error('the uplink had no batch acknowledged: the figure is not of a syncing gateway');
report({
  name: `resident memory of doorstep edge with ${DEVICES} simulated devices, local broker and uplink to a cloud (no Node-RED), peak over ${SECONDS} s, node ${nodeFlags.join(' ')}`,
  value: Math.round(peak / 1024),
  unit: 'MB',
  target: 100,
  comparator: '<=',
});
