import { parseArgs } from 'node:util';
import { DoorstepError, isDoorstepError } from '../protocol/index.js';
import type { SerialSettings } from './link/types.js';
import type { MasterBase } from './modbus/master.js';
import { registerProfileOf } from './profiles/resolve.js';
import type { RegisterProfile } from './profiles/types.js';
import { openMaster, parseEndpoint, parseLine, type RawEndpoint } from './raw.js';

const HELP = `Usage: doorstep modbus set-unit (--serial PATH [--baud N] [--parity P] | --tcp HOST:PORT)
                          --profile ID|FILE --unit OLD --to NEW
       doorstep modbus set-baud --serial PATH [--baud N] [--parity P] --profile ID|FILE --unit N
                          --to BAUD [--to-parity none|even|odd]

Writes a device's own unit id or line settings into the holding registers its profile declares
(the profile's \`settings\` section, from the device's manual), then reads them back at the new
address or speed. A profile that declares nothing is refused: doorstep does not guess registers.

  --serial PATH (or --port PATH)  the RS-485 adapter or pty; --baud/--parity: the line's settings now
  --tcp HOST:PORT                 a Modbus TCP device or gateway (set-unit only)
  --profile ID|FILE               a built-in profile id or a profile file
  --unit N                        the device's unit id now
  --to NEW | BAUD                 the new unit id (1–247 on RTU) or baud rate
  --to-parity P                   set-baud: the new parity as well (none, even, odd; N, E, O)
  --timeout MS                    reply timeout (default 500)

The device answers the write from its old address and at its old speed, then switches. A unit id
another device already answers at is refused before anything is written.
`;

type Values = {
  serial?: string;
  port?: string;
  tcp?: string;
  baud?: string;
  parity?: string;
  profile?: string;
  unit?: string;
  to?: string;
  'to-parity'?: string;
  timeout?: string;
  help?: boolean;
};

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      serial: { type: 'string' },
      port: { type: 'string' },
      tcp: { type: 'string' },
      baud: { type: 'string' },
      parity: { type: 'string' },
      profile: { type: 'string' },
      unit: { type: 'string' },
      to: { type: 'string' },
      'to-parity': { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(HELP);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command !== 'set-unit' && command !== 'set-baud')
    throw usage(`unknown modbus command "${command}" (set-unit or set-baud)`);
  if (values.port && values.serial) throw usage('give --serial or --port, not both');
  const endpoint = parseEndpoint({ ...values, serial: values.serial ?? values.port });
  if (!values.profile) throw usage('--profile ID|FILE is required: it says where the settings are written');
  const profile = registerProfileOf(values.profile, process.cwd());
  const range: [number, number] = endpoint.kind === 'rtu' ? [1, 247] : [0, 255];
  const unitId = unitArg('--unit', values.unit, range);
  const timeoutMs = Number(values.timeout ?? 500);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 10)
    throw usage(`--timeout must be ms ≥ 10, not "${values.timeout}"`);
  return command === 'set-unit'
    ? setUnit(endpoint, profile, unitId, values, range, timeoutMs)
    : setBaud(endpoint, profile, unitId, values, timeoutMs);
}

function usage(reason: string): DoorstepError {
  return new DoorstepError('CLI_ERR_USAGE', { reason });
}

function unitArg(name: string, text: string | undefined, [min, max]: [number, number]): number {
  const n = Number(text);
  if (!/^\d+$/.test(text ?? '') || n < min || n > max)
    throw usage(`${name} must be a unit id ${min}–${max}, not "${text ?? ''}"`);
  return n;
}

function targetOf(endpoint: RawEndpoint, unitId: number): string {
  return `${endpoint.kind === 'tcp' ? `tcp:${endpoint.host}:${endpoint.port}` : endpoint.path}#${unitId}`;
}

async function readRegister(master: MasterBase, unitId: number, register: number, timeoutMs: number) {
  const [value] = await master.readHoldingRegisters(unitId, register, 1, { timeoutMs });
  return value!;
}

/** Whether anything answers at `unitId` (any reply, exceptions included, means someone is there). */
async function answers(master: MasterBase, unitId: number, register: number, timeoutMs: number) {
  try {
    await readRegister(master, unitId, register, timeoutMs);
    return true;
  } catch (error) {
    if (isDoorstepError(error) && error.code === 'DRV_ERR_TIMEOUT') return false;
    return true;
  }
}

/** The write itself: a device that switches before replying leaves it unanswered, which is not yet a failure. */
async function writeSetting(
  master: MasterBase,
  unitId: number,
  register: number,
  value: number,
  timeoutMs: number,
): Promise<'confirmed' | 'unanswered'> {
  try {
    await master.writeRegister(unitId, register, value, { timeoutMs });
    return 'confirmed';
  } catch (error) {
    if (isDoorstepError(error) && error.code === 'DRV_ERR_TIMEOUT') return 'unanswered';
    throw error;
  }
}

async function setUnit(
  endpoint: RawEndpoint,
  profile: RegisterProfile,
  unitId: number,
  values: Values,
  range: [number, number],
  timeoutMs: number,
): Promise<number> {
  const declared = profile.settings?.unitId;
  if (!declared) throw new DoorstepError('DRV_ERR_NO_SETTINGS', { profile: profile.id, what: 'unit id' });
  const to = unitArg('--to', values.to, range);
  if (to === unitId) throw usage(`--to ${to} is the unit id the device has already`);
  const { master, close } = await openMaster(endpoint, timeoutMs);
  try {
    const now = await readRegister(master, unitId, declared.register, timeoutMs);
    if (now !== unitId)
      throw new DoorstepError('DRV_ERR_SETTINGS_VERIFY', {
        target: targetOf(endpoint, unitId),
        reason: `holding ${declared.register} reads ${now}, not its unit id ${unitId}: profile ${profile.id} does not fit this device; nothing written`,
      });
    if (await answers(master, to, declared.register, timeoutMs))
      throw new DoorstepError('DRV_ERR_SETTINGS_VERIFY', {
        target: targetOf(endpoint, to),
        reason: `a device already answers at unit ${to}; two devices must not share an address; nothing written`,
      });
    const write = await writeSetting(master, unitId, declared.register, to, timeoutMs);
    const readBack = await readRegister(master, to, declared.register, timeoutMs).catch((error: unknown) => {
      throw new DoorstepError('DRV_ERR_SETTINGS_VERIFY', {
        target: targetOf(endpoint, to),
        reason: `no confirmation at the new address (${isDoorstepError(error) ? error.code : String(error)}); the write was ${write}`,
      });
    });
    if (readBack !== to)
      throw new DoorstepError('DRV_ERR_SETTINGS_VERIFY', {
        target: targetOf(endpoint, to),
        reason: `holding ${declared.register} reads ${readBack} at the new address, not ${to}`,
      });
    process.stdout.write(
      `unit ${unitId} → ${to}: verified (holding ${declared.register} reads ${to} at unit ${to}; profile ${profile.id})\n`,
    );
    return 0;
  } finally {
    await close();
  }
}

async function setBaud(
  endpoint: RawEndpoint,
  profile: RegisterProfile,
  unitId: number,
  values: Values,
  timeoutMs: number,
): Promise<number> {
  if (endpoint.kind !== 'rtu') throw usage('set-baud is for serial lines: give --serial PATH');
  const baud = profile.settings?.baud;
  if (!baud) throw new DoorstepError('DRV_ERR_NO_SETTINGS', { profile: profile.id, what: 'baud rate' });
  if (!values.to) throw usage('--to BAUD is required');
  const target: SerialSettings = parseLine(values.to, values['to-parity'] ?? endpoint.serial.parity);
  const baudCode = baud.codes[String(target.baudRate)];
  if (baudCode === undefined)
    throw usage(
      `profile ${profile.id} lists no code for ${target.baudRate} baud; it supports ${Object.keys(baud.codes).join(', ')}`,
    );
  const parity = profile.settings?.parity;
  const changeParity = values['to-parity'] !== undefined && target.parity !== endpoint.serial.parity;
  if (changeParity && !parity)
    throw new DoorstepError('DRV_ERR_NO_SETTINGS', { profile: profile.id, what: 'parity' });
  const parityCode = changeParity ? parity!.codes[target.parity] : undefined;
  if (changeParity && parityCode === undefined)
    throw usage(`profile ${profile.id} lists no code for ${target.parity} parity`);
  const line = `${endpoint.serial.baudRate} ${endpoint.serial.parity}`;
  const { master, close } = await openMaster(endpoint, timeoutMs);
  try {
    // Confirms the device is there at the current settings before anything is written.
    await readRegister(master, unitId, baud.register, timeoutMs);
    // Parity first, then the baud rate: the device switches after each reply, and the second
    // write must still reach it at the speed it has. Parity and baud in one step otherwise.
    if (parityCode !== undefined) await writeSetting(master, unitId, parity!.register, parityCode, timeoutMs);
    await writeSetting(master, unitId, baud.register, baudCode, timeoutMs);
  } finally {
    await close();
  }
  const next = await openMaster({ ...endpoint, serial: target }, timeoutMs);
  try {
    const got = await readRegister(next.master, unitId, baud.register, timeoutMs).catch((error: unknown) => {
      throw new DoorstepError('DRV_ERR_SETTINGS_VERIFY', {
        target: targetOf(endpoint, unitId),
        reason: `no answer at ${target.baudRate} ${target.parity} after the write (${isDoorstepError(error) ? error.code : String(error)}); it may still be at ${line}`,
      });
    });
    if (got !== baudCode)
      throw new DoorstepError('DRV_ERR_SETTINGS_VERIFY', {
        target: targetOf(endpoint, unitId),
        reason: `holding ${baud.register} reads code ${got}, not ${baudCode} (${target.baudRate} baud)`,
      });
    if (parityCode !== undefined) {
      const p = await readRegister(next.master, unitId, parity!.register, timeoutMs);
      if (p !== parityCode)
        throw new DoorstepError('DRV_ERR_SETTINGS_VERIFY', {
          target: targetOf(endpoint, unitId),
          reason: `holding ${parity!.register} reads code ${p}, not ${parityCode} (${target.parity} parity)`,
        });
    }
  } finally {
    await next.close();
  }
  process.stdout.write(
    `unit ${unitId}: ${line} → ${target.baudRate} ${target.parity}: verified (holding ${baud.register} reads code ${baudCode} at the new speed; profile ${profile.id})\n`,
  );
  return 0;
}
