/**
 * Gateway CPU time per decoded reading at 1 000 points/s: simulated devices run in a child process
 * (so their CPU is not counted), this process polls them over Modbus TCP through the bus scheduler,
 * the profiles' read plans and decode. process.cpuUsage() of this process / readings decoded.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { DeviceAcquisition } from '../../drivers/acquisition.js';
import { BusScheduler } from '../../drivers/bus/scheduler.js';
import { TcpLink } from '../../drivers/link/tcp.js';
import { getRegisterProfile } from '../../drivers/profiles/catalogue/index.js';
import { report } from './report.js';

const PROFILE = 'gas-status-word-int16'; // 5 critical points a poll (status word + concentration)
const DEVICES = 200;
const INTERVAL_MS = 1000; // 200 devices × 5 points / 1 s = 1 000 points/s
const DURATION_MS = 10_000;

const root = new URL('../../', import.meta.url).pathname;
const deviceArgs = Array.from({ length: DEVICES }, (_, i) => [
  '--device',
  `d${i}:${PROFILE}:${(i % 247) + 1}`,
]);
// one TCP server, units 1..200 (each device its own unit id)
const sim = spawn(process.execPath, ['--import', 'tsx', 'bin/doorstep.ts', 'sim', ...deviceArgs.flat()], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});
let port = 0;
for await (const line of createInterface({ input: sim.stdout! })) {
  const m = /modbus tcp \S+: 127\.0\.0\.1:(\d+)/.exec(line);
  if (m) port = Number(m[1]);
  if (line === 'ready') break;
}

const profile = getRegisterProfile(PROFILE);
const scheduler = new BusScheduler({
  bus: 'bench',
  protocol: 'tcp',
  createLink: (e) => new TcpLink({ host: e!.host, port: e!.port }),
});
const acquisition = new DeviceAcquisition(scheduler);
let readings = 0;
let counting = false;
acquisition.onReadings((r) => {
  if (counting) readings += r.length;
});
acquisition.start();
for (let i = 0; i < DEVICES; i++)
  acquisition.add({
    id: `d${i}`,
    profile,
    unitId: (i % 247) + 1,
    endpoint: { host: '127.0.0.1', port },
    intervals: { critical: INTERVAL_MS, normal: 60_000, diagnostic: 60_000 },
  });
scheduler.start();
await new Promise((r) => setTimeout(r, 3000));
counting = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await new Promise((r) => setTimeout(r, DURATION_MS));
const cpu = process.cpuUsage(cpu0);
const elapsed = performance.now() - t0;
counting = false;
acquisition.stop();
await scheduler.stop();
sim.kill('SIGTERM');
await once(sim, 'exit');

const perSecond = (readings * 1000) / elapsed;
const cpuUsPerReading = (cpu.user + cpu.system) / readings;
console.log(
  `decoded ${readings} readings in ${(elapsed / 1000).toFixed(1)} s = ${perSecond.toFixed(0)} readings/s`,
);
report({
  name: 'readings decoded per second from 200 simulated Modbus TCP devices',
  value: perSecond,
  unit: 'readings/s',
  target: 1000 * 0.95,
  comparator: '>=',
});
report({
  name: 'gateway CPU time per decoded reading at ~1 000 points/s (poll + decode, Modbus TCP)',
  value: cpuUsPerReading,
  unit: 'µs',
  // 1 000 points/s at ≤ 5 % of one core leaves the rest of a gateway's CPU for rules and sync.
  target: 50,
  comparator: '<=',
  note: `${(((cpu.user + cpu.system) / 1000 / elapsed) * 100).toFixed(1)} % of one core`,
});
