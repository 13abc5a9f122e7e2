/**
 * Bus scan: which devices answer on an RS-485 port, at which line settings, and what they are.
 * Uses the real drivers (RtuMaster over SerialLink) one request at a time — one request in flight
 * per bus (invariant 1) holds for the scan too. A probe is Read Device Identification (FC 0x2B/0x0E,
 * Modbus Application Protocol v1.1b3 §6.21): any well-formed reply, exception included, proves a
 * device at that unit id; silence is nobody. Found devices are then identified by the catalogue's
 * signature registers and by the identification's product code.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { SerialLink } from '../drivers/link/serial.js';
import { type Link, type SerialSettings, wireTimeMs } from '../drivers/link/types.js';
import { RtuMaster } from '../drivers/modbus/rtu-master.js';
import { registerProfiles } from '../drivers/profiles/catalogue/index.js';
import type { RegisterProfile } from '../drivers/profiles/types.js';
import { DoorstepError, isDoorstepError } from '../protocol/index.js';
import { dumpRegisters, type RegisterDump } from './dump.js';

export type Parity = SerialSettings['parity'];

export interface FoundDevice {
  unitId: number;
  settings: SerialSettings;
  /** The proposed profile, when one matched. */
  profile?: string;
  kind?: string;
  matchedBy?: 'signature' | 'device-id';
  /** Other profiles whose signature also matched (shown to the installer). */
  alternatives: string[];
  /** Basic identification objects, when the device supports FC 0x2B/0x0E. */
  identity?: { vendor?: string; product?: string; revision?: string };
  /** Matched no profile: its registers as read (provisioning/dump.ts), to write a profile from. */
  registers?: Pick<RegisterDump, 'probed' | 'blocks'>;
  /** Where the scan saved that dump (set by the CLI). */
  dumpFile?: string;
}

export interface ScanProgress {
  done: number;
  total: number;
  settings: SerialSettings;
  unitId: number;
  found: number;
  elapsedMs: number;
  /** Estimated time left, from the mean probe time so far. */
  etaMs: number;
}

export interface ScanOptions {
  port: string;
  bauds: number[];
  parities: Parity[];
  stopBits?: Array<1 | 2>;
  units: number[];
  /** Reply timeout per probe; default: 60 ms + the wire time of a 64-byte reply at the probe's baud. */
  timeoutMs?: number;
  profiles?: Iterable<Readonly<RegisterProfile>>;
  /** How the configuration should name a matched profile that is not built in (id → file path). */
  profileRefs?: ReadonlyMap<string, string>;
  signal?: AbortSignal;
  /**
   * How many devices the installer expects on this port: the sweep stops once that many answered
   * (issue 16), instead of probing every remaining unit id and line setting.
   */
  expect?: number;
  onProgress?: (progress: ScanProgress) => void;
  onFound?: (device: FoundDevice) => void;
  /** Tests insert a line model here (ptys ignore baud and parity); default: a SerialLink. */
  createLink?: (path: string, settings: SerialSettings) => Link;
}

export interface ScanResult {
  port: string;
  found: FoundDevice[];
  probes: number;
  total: number;
  interrupted: boolean;
  /** The sweep stopped early because the expected number of devices answered. */
  complete: boolean;
  elapsedMs: number;
  /** Garbled answers (CRC, short frames) per line setting: a device at other settings, or noise. */
  garbled: Array<{ settings: string; unitId: number; code: string }>;
}

export function formatSettings(s: SerialSettings): string {
  return `${s.baudRate} ${s.dataBits}${s.parity[0]!.toUpperCase()}${s.stopBits}`;
}

export function defaultProbeTimeoutMs(settings: SerialSettings): number {
  return Math.ceil(60 + wireTimeMs(64, settings));
}

/**
 * Refuses a port that is not there or not ours before anything is opened, so the installer reads
 * "does not exist" or "no permission" instead of a driver message.
 */
export async function checkPort(port: string): Promise<void> {
  try {
    await stat(port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new DoorstepError('PROV_ERR_PORT_MISSING', { port });
    if (code === 'EACCES' || code === 'EPERM')
      throw new DoorstepError('PROV_ERR_PORT_PERMISSION', { port, reason: code });
    throw error;
  }
  try {
    await access(port, constants.R_OK | constants.W_OK);
  } catch (error) {
    throw new DoorstepError(
      'PROV_ERR_PORT_PERMISSION',
      { port, reason: (error as NodeJS.ErrnoException).code ?? 'access denied' },
      { cause: error },
    );
  }
}

/** Signature reads, most specific first: a one-word signature of 0x0001 also matches a status word. */
function signatureOrder(profiles: Iterable<Readonly<RegisterProfile>>): Readonly<RegisterProfile>[] {
  const specificity = (p: Readonly<RegisterProfile>) =>
    (p.signature?.values.length ?? 0) * 2 + (p.signature?.values.some((v) => v > 1) ? 1 : 0);
  return [...profiles].filter((p) => p.signature).sort((a, b) => specificity(b) - specificity(a));
}

async function identify(
  master: RtuMaster,
  unitId: number,
  timeoutMs: number,
  profiles: Readonly<RegisterProfile>[],
  identity: FoundDevice['identity'],
): Promise<Pick<FoundDevice, 'profile' | 'kind' | 'matchedBy' | 'alternatives'>> {
  const matches: Readonly<RegisterProfile>[] = [];
  for (const p of profiles) {
    const sig = p.signature!;
    try {
      const read = sig.table === 'holding' ? master.readHoldingRegisters : master.readInputRegisters;
      const words = await read.call(master, unitId, sig.address, sig.values.length, { timeoutMs });
      if (sig.values.every((v, i) => words[i] === v)) matches.push(p);
    } catch (error) {
      // An exception (address not mapped) just means "not this family"; anything else too.
      if (!isDoorstepError(error)) throw error;
    }
  }
  const byProduct = identity?.product ? registerProfiles.get(identity.product) : undefined;
  // The device's own product code breaks a tie between signatures; alone it is the weaker evidence.
  const chosen = matches.find((m) => m.id === byProduct?.id) ?? matches[0];
  if (chosen)
    return {
      profile: chosen.id,
      kind: chosen.kind,
      matchedBy: 'signature',
      alternatives: matches.filter((m) => m !== chosen).map((m) => m.id),
    };
  if (byProduct)
    return { profile: byProduct.id, kind: byProduct.kind, matchedBy: 'device-id', alternatives: [] };
  return { alternatives: [] };
}

/** A match on a profile file is proposed by its path, so the configuration finds the file. */
function refer<T extends { profile?: string; alternatives: string[] }>(
  found: T,
  refs: ReadonlyMap<string, string> | undefined,
): T {
  if (!refs || found.profile === undefined) return found;
  return {
    ...found,
    profile: refs.get(found.profile) ?? found.profile,
    alternatives: found.alternatives.map((a) => refs.get(a) ?? a),
  };
}

/** Every combination of the requested line settings, in the order given (most likely first). */
export function lineSettings(
  options: Pick<ScanOptions, 'bauds' | 'parities' | 'stopBits'>,
): SerialSettings[] {
  const out: SerialSettings[] = [];
  for (const baudRate of options.bauds)
    for (const parity of options.parities)
      for (const stopBits of options.stopBits ?? [1]) out.push({ baudRate, parity, dataBits: 8, stopBits });
  return out;
}

function openError(port: string, error: unknown): DoorstepError {
  const reason = (error as Error).message ?? String(error);
  if (/EACCES|EPERM|permission denied/i.test(reason))
    return new DoorstepError('PROV_ERR_PORT_PERMISSION', { port, reason }, { cause: error });
  if (/ENOENT|no such file/i.test(reason))
    return new DoorstepError('PROV_ERR_PORT_MISSING', { port }, { cause: error });
  return isDoorstepError(error) ? error : new DoorstepError('DRV_ERR_LINK_OPEN', { link: port, reason });
}

/**
 * Scans one port across line settings × unit ids. Interruptible: when `signal` aborts, the probe in
 * flight finishes and the result holds everything found so far (`interrupted: true`).
 */
export async function scanPort(options: ScanOptions): Promise<ScanResult> {
  await checkPort(options.port);
  const started = performance.now();
  const settingsList = lineSettings(options);
  const total = settingsList.length * options.units.length;
  const profiles = signatureOrder(options.profiles ?? registerProfiles.values());
  const createLink =
    options.createLink ?? ((path: string, settings: SerialSettings) => new SerialLink({ path, ...settings }));
  const result: ScanResult = {
    port: options.port,
    found: [],
    probes: 0,
    total,
    interrupted: false,
    complete: false,
    elapsedMs: 0,
    garbled: [],
  };
  const seen = new Set<number>();
  const enough = () => options.expect !== undefined && result.found.length >= options.expect;
  for (const settings of settingsList) {
    if (options.signal?.aborted || enough()) break;
    const link = createLink(options.port, settings);
    try {
      await link.open();
    } catch (error) {
      throw openError(options.port, error);
    }
    const timeoutMs = options.timeoutMs ?? defaultProbeTimeoutMs(settings);
    // Probing one unit id after another: a late reply from the last one cannot answer the next (its
    // unit id differs, and the master discards it as late), so the scan does not wait out a full
    // late-reply guard after every silent address — that would double the time of a scan.
    const master = new RtuMaster(link, {
      serial: settings,
      defaultTimeoutMs: timeoutMs,
      lateReplyGuardMs: 0,
    });
    try {
      for (const unitId of options.units) {
        if (options.signal?.aborted || enough()) break;
        const device = await probe(
          master,
          unitId,
          settings,
          timeoutMs,
          profiles,
          result,
          options.profileRefs,
        );
        result.probes++;
        if (device && !seen.has(unitId)) {
          // A unit id is one device on a multi-drop bus: the first settings it answered at win.
          seen.add(unitId);
          if (!device.profile) device.registers = await dumpRegisters(master, unitId, timeoutMs);
          result.found.push(device);
          options.onFound?.(device);
        }
        const elapsedMs = performance.now() - started;
        options.onProgress?.({
          done: result.probes,
          total,
          settings,
          unitId,
          found: result.found.length,
          elapsedMs,
          etaMs: (elapsedMs / result.probes) * (total - result.probes),
        });
      }
    } finally {
      master.dispose();
      await link.close();
    }
  }
  result.complete = enough();
  result.interrupted = !result.complete && result.probes < total && (options.signal?.aborted ?? false);
  result.elapsedMs = performance.now() - started;
  return result;
}

async function probe(
  master: RtuMaster,
  unitId: number,
  settings: SerialSettings,
  timeoutMs: number,
  profiles: Readonly<RegisterProfile>[],
  result: ScanResult,
  refs: ReadonlyMap<string, string> | undefined,
): Promise<FoundDevice | undefined> {
  let identity: FoundDevice['identity'];
  try {
    const objects = await master.readDeviceIdentification(unitId, 1, { timeoutMs });
    identity = { vendor: objects.get(0), product: objects.get(1), revision: objects.get(2) };
  } catch (error) {
    if (!isDoorstepError(error)) throw error;
    if (error.code === 'DRV_ERR_TIMEOUT') return undefined;
    if (error.code === 'DRV_ERR_LINK_DOWN' || error.code === 'DRV_ERR_CANCELLED') throw error;
    // Exception 01 (FC 0x2B unsupported) is still a device; garbage is not evidence of one.
    if (error.code !== 'DRV_ERR_EXCEPTION') {
      result.garbled.push({ settings: formatSettings(settings), unitId, code: error.code });
      return undefined;
    }
  }
  return {
    unitId,
    settings,
    ...(identity ? { identity } : {}),
    ...refer(await identify(master, unitId, timeoutMs, profiles, identity), refs),
  };
}

/** Parses "1-10,12,20-22" into unit ids within 1–247 (serial line v1.02 §2.2). */
export function parseUnits(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(part);
    const from = Number(m?.[1]);
    const to = Number(m?.[2] ?? m?.[1]);
    if (!m || from < 1 || to > 247 || from > to)
      throw new DoorstepError('CLI_ERR_USAGE', {
        reason: `--units "${text}": give ids or ranges within 1–247, e.g. 1-32,100`,
      });
    for (let u = from; u <= to; u++) out.add(u);
  }
  return [...out];
}
