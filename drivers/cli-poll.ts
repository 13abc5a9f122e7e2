import { parseArgs } from 'node:util';
import { createLogger } from '../common/log.js';
import type { DeviceLinkState, Reading } from '../protocol/index.js';
import { DoorstepError } from '../protocol/index.js';
import { DeviceAcquisition } from './acquisition.js';
import { BusScheduler } from './bus/scheduler.js';
import { SerialLink } from './link/serial.js';
import { TcpLink } from './link/tcp.js';
import { registerProfileOf } from './profiles/resolve.js';
import { formatRawRow, openMaster, parseEndpoint, parseRawSpec, readRaw } from './raw.js';

const HELP = `Usage: doorstep poll (--tcp HOST:PORT | --serial PATH [--baud N] [--parity P]) --device ID:PROFILE:UNIT ...

Polls Modbus devices through their sensor profiles and prints every decoded reading that changed
and every device state change, until Ctrl-C. An installer's quick look at a bus.

  --tcp HOST:PORT        a Modbus TCP device or gateway
  --serial PATH          an RS-485 adapter (prefer /dev/serial/by-id/…) or pty
  --baud N               baud rate (default 9600)
  --parity none|even|odd parity (default even, the Modbus default)
  --device ID:PROFILE:UNIT   a device to poll (repeatable): a built-in profile id (doorstep
                             profile list) or a register profile file (./my-device.yaml)
  --timeout MS           reply timeout (default 500)
  --all                  print every reading, not only changes

Raw register access (a device no profile describes yet), one read, then exit:
  doorstep poll --raw (--tcp HOST:PORT | --serial PATH [--baud N] [--parity P]) --unit N
                [--table holding|input|coil|discrete] [--address A] [--count C]
                [--type uint16|int16|uint32|int32|float32] [--order ABCD|CDAB]
  --unit N               the device's unit id (1–247 on RTU)
  --table T              the Modbus table (default holding)
  --address A            first address, 0-based as on the wire (default 0)
  --count C              values to read (default 1); 32-bit types take two registers each
  --type T               how to decode registers (default uint16); coils and discrete inputs are bits
  --order ABCD|CDAB      word order of 32-bit values (default ABCD, high word first)
  Prints one line per value: table, address, type, value, raw words. A Modbus exception or no
  reply ends with its error and exit code 1.
`;

export function formatReading(r: Reading): string {
  const value = typeof r.value === 'number' ? String(r.value) : String(r.value);
  const quality = r.quality === 'good' ? '' : ` [${r.quality}]`;
  return `${new Date(r.ts).toISOString()}  ${r.device.padEnd(18)} ${r.point.padEnd(16)} ${value}${r.unit ? ` ${r.unit}` : ''}${quality}`;
}

export function formatState(s: DeviceLinkState): string {
  const why = s.reason ? ` (${s.reason}${s.detail ? `: ${s.detail}` : ''})` : '';
  return `${new Date(s.since).toISOString()}  ${s.device.padEnd(18)} is ${s.state}${why}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      tcp: { type: 'string' },
      serial: { type: 'string' },
      baud: { type: 'string' },
      parity: { type: 'string' },
      device: { type: 'string', multiple: true },
      timeout: { type: 'string' },
      all: { type: 'boolean' },
      raw: { type: 'boolean' },
      unit: { type: 'string' },
      table: { type: 'string' },
      address: { type: 'string' },
      count: { type: 'string' },
      type: { type: 'string' },
      order: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.raw) return runRaw(values);
  if (!values.device?.length || (!values.tcp && !values.serial) || (values.tcp && values.serial))
    throw new DoorstepError('CLI_ERR_USAGE', {
      reason: 'give one of --tcp or --serial, and at least one --device',
    });
  const devices = values.device.map((text) => {
    const [id, profile, unit] = text.split(':');
    if (!id || !profile || !Number.isInteger(Number(unit)))
      throw new DoorstepError('CLI_ERR_USAGE', { reason: `--device "${text}" must be ID:PROFILE:UNIT` });
    // A built-in id or a profile file (a path; relative to the working directory).
    return { id, profile: registerProfileOf(profile, process.cwd()), unitId: Number(unit) };
  });
  const logger = createLogger({ name: 'doorstep-poll', level: 'warn' });
  let scheduler: BusScheduler;
  let endpoint: { host: string; port: number } | undefined;
  if (values.tcp) {
    const [host, port] = values.tcp.split(':');
    if (!host || !Number.isInteger(Number(port)))
      throw new DoorstepError('CLI_ERR_USAGE', { reason: `--tcp "${values.tcp}" must be HOST:PORT` });
    endpoint = { host, port: Number(port) };
    scheduler = new BusScheduler({
      bus: 'tcp',
      protocol: 'tcp',
      createLink: (e) => new TcpLink({ host: e?.host ?? host, port: e?.port ?? Number(port), logger }),
      logger,
    });
  } else {
    const serial = {
      baudRate: Number(values.baud ?? 9600),
      parity: (values.parity ?? 'even') as 'none' | 'even' | 'odd',
      dataBits: 8 as const,
      stopBits: 1 as const,
    };
    scheduler = new BusScheduler({
      bus: 'rtu',
      protocol: 'rtu',
      serial,
      createLink: () => new SerialLink({ path: values.serial!, ...serial, logger }),
      logger,
    });
  }
  const acquisition = new DeviceAcquisition(scheduler, { logger });
  const last = new Map<string, Reading['value']>();
  acquisition.onReadings((readings) => {
    for (const r of readings) {
      const key = `${r.device}/${r.point}`;
      if (!values.all && last.get(key) === r.value) continue;
      last.set(key, r.value);
      process.stdout.write(`${formatReading(r)}\n`);
    }
  });
  acquisition.onDeviceState((s) => process.stdout.write(`${formatState(s)}\n`));
  acquisition.start();
  const timeoutMs = Number(values.timeout ?? 500);
  for (const d of devices) acquisition.add({ ...d, timeoutMs, ...(endpoint ? { endpoint } : {}) });
  scheduler.start();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  acquisition.stop();
  await scheduler.stop();
  return 0;
}

async function runRaw(values: {
  tcp?: string;
  serial?: string;
  baud?: string;
  parity?: string;
  unit?: string;
  table?: string;
  address?: string;
  count?: string;
  type?: string;
  order?: string;
  timeout?: string;
  device?: string[];
}): Promise<number> {
  if (values.device?.length)
    throw new DoorstepError('CLI_ERR_USAGE', { reason: '--raw reads by --unit and --address, not --device' });
  const endpoint = parseEndpoint(values);
  const spec = parseRawSpec(values);
  const unitId = Number(values.unit);
  const [minUnit, maxUnit] = endpoint.kind === 'rtu' ? [1, 247] : [0, 255];
  if (!/^\d+$/.test(values.unit ?? '') || unitId < minUnit || unitId > maxUnit)
    throw new DoorstepError('CLI_ERR_USAGE', {
      reason: `--unit must be a unit id ${minUnit}–${maxUnit}, not "${values.unit ?? ''}"`,
    });
  const timeoutMs = Number(values.timeout ?? 500);
  const { master, close } = await openMaster(endpoint, timeoutMs);
  try {
    const rows = await readRaw(master, unitId, spec, timeoutMs);
    for (const row of rows) process.stdout.write(`${formatRawRow(spec, row)}\n`);
  } finally {
    await close();
  }
  return 0;
}
