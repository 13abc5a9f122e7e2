import { DoorstepError } from '../protocol/index.js';
import { SerialLink } from './link/serial.js';
import { TcpLink } from './link/tcp.js';
import type { SerialSettings } from './link/types.js';
import type { MasterBase } from './modbus/master.js';
import type { ModbusTable } from './modbus/pdu.js';
import { RtuMaster } from './modbus/rtu-master.js';
import { TcpMaster } from './modbus/tcp-master.js';

/**
 * Raw register access for installers (`doorstep poll --raw`, issue 16): read a table by address,
 * count and type, as Modbus Poll or mbpoll do, for a device no profile describes yet. The tables
 * and their function codes are those of the Modbus Application Protocol v1.1b3 §6.1–6.4.
 */
export type RawType = 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'bit';
/** Word order of 32-bit values: ABCD = high word first (the Modbus default), CDAB = low word first. */
export type RawWordOrder = 'ABCD' | 'CDAB';

export const RAW_TABLES: readonly ModbusTable[] = ['holding', 'input', 'coil', 'discrete'];
export const RAW_TYPES: readonly RawType[] = ['uint16', 'int16', 'uint32', 'int32', 'float32'];

export interface RawReadSpec {
  table: ModbusTable;
  address: number;
  /** Values to read: registers for 16-bit types and bits, pairs of registers for 32-bit types. */
  count: number;
  type: RawType;
  order: RawWordOrder;
}

export interface RawRow {
  /** Address of the value's first register (or bit). */
  address: number;
  /** The raw words (or 0/1 for bits) the value was decoded from. */
  raw: number[];
  value: number | boolean;
}

/** Checks the options of a raw read and names what is wrong; changes nothing. */
export function parseRawSpec(input: {
  table?: string;
  address?: string;
  count?: string;
  type?: string;
  order?: string;
}): RawReadSpec {
  const table = (input.table ?? 'holding') as ModbusTable;
  if (!RAW_TABLES.includes(table))
    throw usage(`--table must be one of ${RAW_TABLES.join(', ')}, not "${input.table}"`);
  const address = Number(input.address ?? 0);
  if (!/^\d+$/.test(input.address ?? '0') || address > 0xffff)
    throw usage(`--address must be a register address 0–65535, not "${input.address}"`);
  const bitTable = table === 'coil' || table === 'discrete';
  const type = (input.type ?? (bitTable ? 'bit' : 'uint16')) as RawType;
  if (bitTable && type !== 'bit')
    throw usage(`--type does not apply to ${table}s: they are single bits (leave --type out)`);
  if (!bitTable && !RAW_TYPES.includes(type))
    throw usage(`--type must be one of ${RAW_TYPES.join(', ')}, not "${input.type}"`);
  const order = (input.order ?? 'ABCD') as RawWordOrder;
  if (order !== 'ABCD' && order !== 'CDAB')
    throw usage(`--order must be ABCD (high word first) or CDAB (low word first), not "${input.order}"`);
  const count = Number(input.count ?? 1);
  const words = wordsPerValue(type);
  const limit = bitTable ? 2000 : Math.floor(125 / words); // §6.1–6.4: 2000 bits, 125 registers per read
  if (!/^\d+$/.test(input.count ?? '1') || count < 1 || count > limit)
    throw usage(`--count must be 1–${limit} for ${type} values of the ${table} table, not "${input.count}"`);
  if (address + count * words - 1 > 0xffff)
    throw usage(`--address ${address} + ${count} ${type} value(s) runs past address 65535`);
  return { table, address, count, type, order };
}

function wordsPerValue(type: RawType): number {
  return type === 'uint32' || type === 'int32' || type === 'float32' ? 2 : 1;
}

function usage(reason: string): DoorstepError {
  return new DoorstepError('CLI_ERR_USAGE', { reason });
}

/** Reads and decodes; Modbus exceptions and timeouts surface as the master's DRV_ERR_* errors. */
export async function readRaw(
  master: MasterBase,
  unitId: number,
  spec: RawReadSpec,
  timeoutMs: number,
): Promise<RawRow[]> {
  const options = { timeoutMs };
  if (spec.table === 'coil' || spec.table === 'discrete') {
    const bits =
      spec.table === 'coil'
        ? await master.readCoils(unitId, spec.address, spec.count, options)
        : await master.readDiscreteInputs(unitId, spec.address, spec.count, options);
    return bits
      .slice(0, spec.count)
      .map((b, i) => ({ address: spec.address + i, raw: [b ? 1 : 0], value: b }));
  }
  const words = wordsPerValue(spec.type);
  const registers =
    spec.table === 'holding'
      ? await master.readHoldingRegisters(unitId, spec.address, spec.count * words, options)
      : await master.readInputRegisters(unitId, spec.address, spec.count * words, options);
  const rows: RawRow[] = [];
  for (let i = 0; i < spec.count; i++) {
    const raw = registers.slice(i * words, (i + 1) * words);
    rows.push({ address: spec.address + i * words, raw, value: decodeWords(raw, spec.type, spec.order) });
  }
  return rows;
}

/** Decodes one value from its registers as they came off the wire (big-endian bytes, §4.2). */
export function decodeWords(raw: readonly number[], type: RawType, order: RawWordOrder = 'ABCD'): number {
  if (type === 'uint16' || type === 'bit') return raw[0]!;
  if (type === 'int16') return (raw[0]! << 16) >> 16;
  const [high, low] = order === 'ABCD' ? [raw[0]!, raw[1]!] : [raw[1]!, raw[0]!];
  const buffer = Buffer.alloc(4);
  buffer.writeUInt16BE(high, 0);
  buffer.writeUInt16BE(low, 2);
  if (type === 'uint32') return buffer.readUInt32BE(0);
  if (type === 'int32') return buffer.readInt32BE(0);
  return buffer.readFloatBE(0);
}

/** One line per value: address, decoded value, raw words in hex. */
export function formatRawRow(spec: RawReadSpec, row: RawRow): string {
  const value =
    typeof row.value === 'boolean'
      ? row.value
        ? '1'
        : '0'
      : spec.type === 'float32'
        ? String(Number(row.value.toPrecision(7)))
        : String(row.value);
  const hex = row.raw.map((w) => `0x${w.toString(16).padStart(spec.type === 'bit' ? 1 : 4, '0')}`).join(' ');
  return `${spec.table.padEnd(8)} ${String(row.address).padStart(5)}  ${spec.type.padEnd(7)} ${value.padStart(12)}  ${hex}`;
}

/** Where a raw command talks: one TCP endpoint or one serial line (validated, changes nothing). */
export type RawEndpoint =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu'; path: string; serial: SerialSettings };

const PARITIES = ['none', 'even', 'odd'] as const;

export function parseEndpoint(input: {
  tcp?: string;
  serial?: string;
  baud?: string;
  parity?: string;
}): RawEndpoint {
  if ((!input.tcp && !input.serial) || (input.tcp && input.serial))
    throw usage('give one of --tcp HOST:PORT or --serial PATH');
  if (input.tcp) {
    const match = /^(.+):(\d{1,5})$/.exec(input.tcp);
    if (!match || Number(match[2]) > 65535) throw usage(`--tcp "${input.tcp}" must be HOST:PORT`);
    return { kind: 'tcp', host: match[1]!, port: Number(match[2]) };
  }
  return { kind: 'rtu', path: input.serial!, serial: parseLine(input.baud, input.parity) };
}

/** Baud rate and parity of a serial line (Modbus over serial line v1.02 §2.5.1: even parity by default). */
export function parseLine(baud: string | undefined, parity: string | undefined): SerialSettings {
  const baudRate = Number(baud ?? 9600);
  if (!/^\d+$/.test(baud ?? '9600') || baudRate < 300 || baudRate > 921_600)
    throw usage(`--baud must be a baud rate such as 9600 or 19200, not "${baud}"`);
  const p = (parity ?? 'even').toLowerCase();
  const named = p === 'n' ? 'none' : p === 'e' ? 'even' : p === 'o' ? 'odd' : p;
  if (!PARITIES.includes(named as (typeof PARITIES)[number]))
    throw usage(`--parity must be none, even or odd (N, E, O), not "${parity}"`);
  return { baudRate, parity: named as SerialSettings['parity'], dataBits: 8, stopBits: 1 };
}

/** Opens the link and a master on it; `close` disposes both. */
export async function openMaster(
  endpoint: RawEndpoint,
  timeoutMs: number,
): Promise<{ master: MasterBase; close(): Promise<void> }> {
  const link =
    endpoint.kind === 'tcp'
      ? new TcpLink({ host: endpoint.host, port: endpoint.port })
      : new SerialLink({ path: endpoint.path, ...endpoint.serial });
  await link.open();
  const master =
    endpoint.kind === 'tcp'
      ? new TcpMaster(link, { defaultTimeoutMs: timeoutMs })
      : new RtuMaster(link, { serial: endpoint.serial, defaultTimeoutMs: timeoutMs });
  return {
    master,
    async close() {
      master.dispose();
      await link.close();
    },
  };
}
