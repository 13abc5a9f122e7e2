import { parseArgs } from 'node:util';
import { createLogger } from '../../common/log.js';
import { FileReadError, readYamlFile } from '../../common/yaml.js';
import { DoorstepError } from '../../protocol/index.js';
import { SerialLink } from '../link/serial.js';
import { registerProfiles } from '../profiles/catalogue/index.js';
import { RADIO_SCENARIOS, RadioReceiverSim, RadioScenarioPlayer } from './radio.js';
import { SCENARIOS } from './scenarios.js';
import { type SimDeviceSpec, type SimSiteSpec, startSimSite } from './site.js';

const HELP = `Usage: doorstep sim [options]

Serves simulated Modbus devices that follow doorstep's sensor profiles, optionally playing a
scenario (smoke alarm, gas leak …). Runs until Ctrl-C.

  --tcp                       serve over Modbus TCP on 127.0.0.1 (default when no --serial)
  --port N                    TCP port (default: a free port, printed at start)
  --serial PATH               serve over Modbus RTU on a serial port or pty (e.g. one end of socat)
  --baud N                    baud rate for --serial (default 9600)
  --parity none|even|odd      parity for --serial (default none)
  --pace                      reply at real wire time for the baud rate (ptys ignore baud rates)
  --turnaround MS             slave turnaround added to each reply with --pace (default 0)
  --device ID:PROFILE:UNIT[:SCENARIO]
                              one device (repeatable); PROFILE is a built-in id or a register
                              profile file (./my-device.yaml); without any, one device per profile
  --loop                      replay scenarios forever
  --config FILE               a YAML simulation spec (tcp: […], rtu: […]) instead of flags
  --radio PATH                emulate a wireless receiver on a serial port or pty instead
  --codec ascii|binary        the receiver's frame format for --radio (default ascii)
  --detector ID:PROFILE[:SCENARIO]
                              a wireless detector for --radio (repeatable): PROFILE is wireless-smoke,
                              wireless-door, geomagnetic-vehicle or manhole-cover
  --report-every MS           supervision report period of each detector (default 60000)
  --list-profiles             list sensor profiles and exit
  --list-scenarios            list scenarios and exit
  -h, --help                  show this help
`;

function parseDevice(text: string, loop: boolean): SimDeviceSpec {
  const [id, profile, unit, scenario] = text.split(':');
  const unitId = Number(unit);
  if (!id || !profile || !Number.isInteger(unitId))
    throw new DoorstepError('CLI_ERR_USAGE', {
      reason: `--device "${text}" must be ID:PROFILE:UNIT[:SCENARIO]`,
    });
  return { id, profile, unitId, ...(scenario ? { scenario } : {}), loop };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      tcp: { type: 'boolean' },
      port: { type: 'string' },
      serial: { type: 'string' },
      baud: { type: 'string' },
      parity: { type: 'string' },
      pace: { type: 'boolean' },
      turnaround: { type: 'string' },
      device: { type: 'string', multiple: true },
      loop: { type: 'boolean' },
      radio: { type: 'string' },
      codec: { type: 'string' },
      detector: { type: 'string', multiple: true },
      'report-every': { type: 'string' },
      config: { type: 'string' },
      'list-profiles': { type: 'boolean' },
      'list-scenarios': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values['list-profiles']) {
    for (const p of registerProfiles.values())
      process.stdout.write(`${p.id.padEnd(26)} ${p.kind.padEnd(15)} ${p.title}\n`);
    return 0;
  }
  if (values['list-scenarios']) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(20)} ${s.description}\n`);
    for (const s of RADIO_SCENARIOS)
      process.stdout.write(`${s.name.padEnd(20)} (wireless) ${s.description}\n`);
    return 0;
  }
  if (values.radio) return runRadio(values.radio, values);

  let spec: SimSiteSpec;
  if (values.config) {
    try {
      spec = readYamlFile(values.config) as SimSiteSpec;
    } catch (error) {
      const reason = error instanceof FileReadError ? error.reason : String(error);
      throw new DoorstepError('CFG_ERR_UNREADABLE', { file: values.config, reason }, { cause: error });
    }
  } else {
    const loop = values.loop ?? false;
    const devices: SimDeviceSpec[] = values.device?.length
      ? values.device.map((d) => parseDevice(d, loop))
      : [...registerProfiles.values()].map((p, i) => ({ id: p.id, profile: p.id, unitId: i + 1 }));
    if (values.serial) {
      const baudRate = Number(values.baud ?? 9600);
      const parity = (values.parity ?? 'none') as 'none' | 'even' | 'odd';
      spec = {
        rtu: [
          {
            name: 'rtu',
            path: values.serial,
            ...(values.pace
              ? { pace: { baudRate, parity, turnaroundMs: Number(values.turnaround ?? 0) } }
              : {}),
            devices,
          },
        ],
      };
    } else {
      spec = { tcp: [{ name: 'tcp', port: Number(values.port ?? 0), devices }] };
    }
  }

  const logger = createLogger({ name: 'doorstep-sim', level: process.env.DOORSTEP_LOG_LEVEL ?? 'warn' });
  const site = await startSimSite(spec, { logger });
  for (const t of site.tcp) process.stdout.write(`modbus tcp ${t.name}: ${t.host}:${t.port}\n`);
  for (const r of site.rtu) process.stdout.write(`modbus rtu ${r.name}: ${r.path}\n`);
  for (const d of site.devices.values())
    process.stdout.write(`  unit ${String(d.unit.unitId).padStart(3)}  ${d.id}  (${d.profile.id})\n`);
  process.stdout.write('ready\n');

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await site.stop();
  return 0;
}

async function runRadio(
  path: string,
  values: { codec?: string; detector?: string[]; 'report-every'?: string; baud?: string; loop?: boolean },
): Promise<number> {
  const codec = values.codec ?? 'ascii';
  if (codec !== 'ascii' && codec !== 'binary')
    throw new DoorstepError('CLI_ERR_USAGE', { reason: `--codec must be ascii or binary, not "${codec}"` });
  const specs = (values.detector ?? []).map((text) => {
    const [id, profile, scenario] = text.split(':');
    if (!id || !profile || !/^\d+$/.test(id))
      throw new DoorstepError('CLI_ERR_USAGE', {
        reason: `--detector "${text}" must be ID:PROFILE[:SCENARIO]`,
      });
    return { detector: Number(id), profile, scenario };
  });
  if (specs.length === 0)
    throw new DoorstepError('CLI_ERR_USAGE', { reason: '--radio needs at least one --detector' });
  const radio = new RadioReceiverSim({
    link: new SerialLink({ path, baudRate: Number(values.baud ?? 9600), parity: 'none' }),
    codec,
    detectors: specs,
    reportEveryMs: Number(values['report-every'] ?? 60_000),
  });
  const players = specs.flatMap((s) => {
    if (!s.scenario) return [];
    const scenario = RADIO_SCENARIOS.find((r) => r.name === s.scenario);
    if (!scenario)
      throw new DoorstepError('CLI_ERR_USAGE', { reason: `no wireless scenario "${s.scenario}"` });
    return [new RadioScenarioPlayer(radio.detector(s.detector), scenario, { loop: values.loop ?? false })];
  });
  await radio.start();
  for (const p of players) p.start();
  process.stdout.write(`wireless receiver (${codec}) on ${path}\n`);
  for (const s of specs)
    process.stdout.write(
      `  detector ${String(s.detector).padStart(5)}  ${s.profile}${s.scenario ? `  ${s.scenario}` : ''}\n`,
    );
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  for (const p of players) p.stop();
  await radio.stop();
  return 0;
}
