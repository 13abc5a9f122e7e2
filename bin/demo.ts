import { parseArgs } from 'node:util';
import { DeviceAcquisition } from '../drivers/acquisition.js';
import { BusScheduler } from '../drivers/bus/scheduler.js';
import { formatReading, formatState } from '../drivers/cli-poll.js';
import { TcpLink } from '../drivers/link/tcp.js';
import { createLogger } from '../drivers/log.js';
import { getRegisterProfile } from '../drivers/profiles/catalogue/index.js';
import { type SimDeviceSpec, startSimSite } from '../drivers/sim/site.js';

/**
 * `doorstep demo` (what `npm start` runs): a simulated neighbourhood on embedded defaults, all on
 * 127.0.0.1. Simulated devices play scenarios; a gateway poller reads them through their profiles
 * and prints readings and device states as they change.
 */
const DEVICES: SimDeviceSpec[] = [
  { id: 'smoke-3-2', profile: 'smoke-status-register', unitId: 1, scenario: 'smoke_alarm', loop: true },
  { id: 'gas-kitchen', profile: 'gas-status-word-int16', unitId: 2, scenario: 'gas_leak', loop: true },
  {
    id: 'pressure-roof',
    profile: 'pressure-int16-decimals',
    unitId: 3,
    scenario: 'pressure_drop',
    loop: true,
  },
  { id: 'door-pump-room', profile: 'door-monitor-state', unitId: 4, scenario: 'door_held_open', loop: true },
  { id: 'lane-east', profile: 'geomagnetic-parking', unitId: 5, scenario: 'fire_lane_occupied', loop: true },
  { id: 'manhole-7', profile: 'manhole-tilt', unitId: 6, scenario: 'manhole_tilted', loop: true },
  { id: 'smoke-5-1', profile: 'smoke-status-register', unitId: 7, scenario: 'device_silent', loop: true },
];

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { duration: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(
      'Usage: doorstep demo [--duration SECONDS]\n\nRuns a simulated neighbourhood until Ctrl-C.\n',
    );
    return 0;
  }
  const logger = createLogger({ name: 'doorstep-demo', level: 'warn' });
  const site = await startSimSite({ tcp: [{ name: 'community-a', devices: DEVICES }] }, { logger });
  const { host, port } = site.tcp[0]!;
  const scheduler = new BusScheduler({
    bus: 'community-a',
    protocol: 'tcp',
    createLink: (e) => new TcpLink({ host: e?.host ?? host, port: e?.port ?? port, logger }),
    logger,
  });
  const acquisition = new DeviceAcquisition(scheduler, { logger });
  const last = new Map<string, unknown>();
  acquisition.onReadings((readings) => {
    for (const r of readings) {
      const key = `${r.device}/${r.point}`;
      if (last.get(key) === r.value || r.point === 'heartbeat') continue;
      last.set(key, r.value);
      process.stdout.write(`${formatReading(r)}\n`);
    }
  });
  acquisition.onDeviceState((s) => process.stdout.write(`${formatState(s)}\n`));
  acquisition.start();
  for (const d of DEVICES)
    acquisition.add({
      id: d.id,
      profile: getRegisterProfile(d.profile),
      unitId: d.unitId,
      endpoint: { host, port },
    });
  scheduler.start();
  process.stdout.write(
    `doorstep demo: ${DEVICES.length} simulated devices on modbus tcp ${host}:${port}; readings and device states follow (Ctrl-C to stop)\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (values.duration) setTimeout(resolve, Number(values.duration) * 1000).unref();
  });
  acquisition.stop();
  await scheduler.stop();
  await site.stop();
  return 0;
}
