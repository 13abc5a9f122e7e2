/**
 * Register dumps of devices that answered a scan but matched no profile: what an installer (or
 * `doorstep profile new --dump FILE`) needs to write a profile for them, instead of a dead end.
 * Holding and input registers 0–124 are read (one request of 125 — the most one read may ask for,
 * Modbus Application Protocol v1.1b3 §6.3 — or, when the device refuses it, in blocks of 16 so a
 * partly mapped device still yields what it has). Exceptions and timeouts just leave a range out.
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../common/files.js';
import type { SerialSettings } from '../drivers/link/types.js';
import type { RtuMaster } from '../drivers/modbus/rtu-master.js';
import { isDoorstepError } from '../protocol/index.js';

export interface RegisterBlock {
  table: 'holding' | 'input';
  address: number;
  /** Raw 16-bit words as read. */
  values: number[];
}

export interface RegisterDump {
  kind: 'doorstep-register-dump';
  version: 1;
  port: string;
  unitId: number;
  settings: SerialSettings;
  identity?: { vendor?: string; product?: string; revision?: string };
  takenAt: string;
  /** The ranges probed; `blocks` holds those that answered. */
  probed: Array<{ table: 'holding' | 'input'; from: number; to: number }>;
  blocks: RegisterBlock[];
}

const RANGE = { from: 0, count: 125 };
const SMALL = 16;

export async function dumpRegisters(
  master: RtuMaster,
  unitId: number,
  timeoutMs: number,
): Promise<Pick<RegisterDump, 'probed' | 'blocks'>> {
  const blocks: RegisterBlock[] = [];
  const probed: RegisterDump['probed'] = [];
  for (const table of ['holding', 'input'] as const) {
    const read = (address: number, count: number) =>
      table === 'holding'
        ? master.readHoldingRegisters(unitId, address, count, { timeoutMs })
        : master.readInputRegisters(unitId, address, count, { timeoutMs });
    probed.push({ table, from: RANGE.from, to: RANGE.from + RANGE.count - 1 });
    try {
      blocks.push({ table, address: RANGE.from, values: await read(RANGE.from, RANGE.count) });
      continue;
    } catch (error) {
      if (!isDoorstepError(error) || error.code === 'DRV_ERR_LINK_DOWN') throw error;
    }
    for (let address = RANGE.from; address < RANGE.from + RANGE.count; address += SMALL) {
      const count = Math.min(SMALL, RANGE.from + RANGE.count - address);
      try {
        blocks.push({ table, address, values: await read(address, count) });
      } catch (error) {
        if (!isDoorstepError(error) || error.code === 'DRV_ERR_LINK_DOWN') throw error;
      }
    }
  }
  return { probed, blocks };
}

/** Writes the dump as `<dir>/unit-<id>-<port name>.json`; returns its path. */
export function writeDump(dir: string, dump: RegisterDump): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `unit-${dump.unitId}-${basename(dump.port).replace(/[^\w.-]+/g, '_')}.json`);
  writeFileAtomic(file, `${JSON.stringify(dump, null, 2)}\n`);
  return file;
}
