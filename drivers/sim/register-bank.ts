import { DoorstepError } from '../../protocol/errors.js';

/**
 * The four Modbus data tables of one simulated device (Modbus Application Protocol v1.1b3 §4.3):
 * coils and discrete inputs are single bits, holding and input registers are 16-bit words.
 * Tables are sparse: only mapped addresses exist, and a master reading an unmapped address gets
 * exception 02 (illegal data address), as a real device with a fixed register map answers —
 * unless the bank is built with `unmappedAsZero`, like devices that answer 0 for any address.
 */
export type BitTable = 'coil' | 'discrete';
export type RegisterTable = 'holding' | 'input';
export type Table = BitTable | RegisterTable;

/** Word order of 32-bit values: ABCD = high word first (big-endian), CDAB = low word first. */
export type WordOrder = 'ABCD' | 'CDAB';

/** Who changed the bank: a Modbus master's write, or local code (a scenario, a test). */
export type ChangeSource = 'master' | 'local';

export interface RegisterChange {
  table: Table;
  /** First address changed. */
  address: number;
  /** New raw values from `address` on: 0/1 for bit tables, 0–65535 for registers. */
  values: readonly number[];
  source: ChangeSource;
}

export type ChangeListener = (change: RegisterChange) => void;

export interface RegisterBankOptions {
  /** Treat every unmapped address as an existing zero instead of answering exception 02. */
  unmappedAsZero?: boolean;
}

const MAX_ADDRESS = 0xffff;

export class RegisterBank {
  readonly unmappedAsZero: boolean;
  private readonly tables: Record<Table, Map<number, number>> = {
    coil: new Map(),
    discrete: new Map(),
    holding: new Map(),
    input: new Map(),
  };
  private readonly listeners = new Set<ChangeListener>();

  constructor(options: RegisterBankOptions = {}) {
    this.unmappedAsZero = options.unmappedAsZero ?? false;
  }

  /** Maps `count` addresses from `address` on as zero (keeps values already there). */
  map(table: Table, address: number, count = 1): this {
    checkRange(table, address, count);
    const store = this.tables[table];
    for (let i = 0; i < count; i++) if (!store.has(address + i)) store.set(address + i, 0);
    return this;
  }

  /** Removes addresses from the map: reads of them answer exception 02 again. */
  unmap(table: Table, address: number, count = 1): this {
    const store = this.tables[table];
    for (let i = 0; i < count; i++) store.delete(address + i);
    return this;
  }

  isMapped(table: Table, address: number): boolean {
    return this.tables[table].has(address);
  }

  /** Number of mapped addresses in a table. */
  size(table: Table): number {
    return this.tables[table].size;
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ── raw access, as the Modbus function codes see it ─────────────────────────────────────────

  /**
   * Reads `count` raw values, or `undefined` when any address is unmapped (→ exception 02).
   * Unmapped addresses read as 0 with `unmappedAsZero`.
   */
  read(table: Table, address: number, count: number): number[] | undefined {
    if (address < 0 || address + count - 1 > MAX_ADDRESS) return undefined;
    const store = this.tables[table];
    const out = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      const value = store.get(address + i);
      if (value === undefined) {
        if (!this.unmappedAsZero) return undefined;
        out[i] = 0;
      } else out[i] = value;
    }
    return out;
  }

  /**
   * Writes raw values; returns false and changes nothing when any address is unmapped (→ exception 02)
   * and the bank does not treat unmapped addresses as zero.
   */
  write(table: Table, address: number, values: readonly number[], source: ChangeSource = 'local'): boolean {
    if (address < 0 || address + values.length - 1 > MAX_ADDRESS) return false;
    const store = this.tables[table];
    if (!this.unmappedAsZero) {
      for (let i = 0; i < values.length; i++) if (!store.has(address + i)) return false;
    }
    const limit = table === 'coil' || table === 'discrete' ? 1 : 0xffff;
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (!Number.isInteger(value) || value < 0 || value > limit) {
        throw new DoorstepError('SIM_ERR_VALUE', {
          value,
          type: limit === 1 ? 'bit' : 'uint16',
          table,
          address,
        });
      }
    }
    for (let i = 0; i < values.length; i++) store.set(address + i, values[i]!);
    this.emit({ table, address, values: [...values], source });
    return true;
  }

  // ── typed helpers for scenarios and tests (they map what they write) ──────────────────────────

  setBit(table: BitTable, address: number, value: boolean): this {
    return this.setLocal(table, address, [value ? 1 : 0]);
  }

  getBit(table: BitTable, address: number): boolean | undefined {
    const value = this.tables[table].get(address);
    return value === undefined ? undefined : value === 1;
  }

  setBits(table: BitTable, address: number, values: readonly boolean[]): this {
    return this.setLocal(
      table,
      address,
      values.map((v) => (v ? 1 : 0)),
    );
  }

  setUint16(table: RegisterTable, address: number, value: number): this {
    checkInteger(value, 0, 0xffff, 'uint16', table, address);
    return this.setLocal(table, address, [value]);
  }

  getUint16(table: RegisterTable, address: number): number | undefined {
    return this.tables[table].get(address);
  }

  setInt16(table: RegisterTable, address: number, value: number): this {
    checkInteger(value, -0x8000, 0x7fff, 'int16', table, address);
    return this.setLocal(table, address, [value & 0xffff]);
  }

  getInt16(table: RegisterTable, address: number): number | undefined {
    const raw = this.tables[table].get(address);
    return raw === undefined ? undefined : (raw << 16) >> 16;
  }

  setUint32(table: RegisterTable, address: number, value: number, order: WordOrder = 'ABCD'): this {
    checkInteger(value, 0, 0xffffffff, 'uint32', table, address);
    return this.setLocal(table, address, orderWords(value >>> 16, value & 0xffff, order));
  }

  getUint32(table: RegisterTable, address: number, order: WordOrder = 'ABCD'): number | undefined {
    const words = this.readPair(table, address, order);
    return words === undefined ? undefined : words[0] * 0x10000 + words[1];
  }

  setInt32(table: RegisterTable, address: number, value: number, order: WordOrder = 'ABCD'): this {
    checkInteger(value, -0x80000000, 0x7fffffff, 'int32', table, address);
    const unsigned = value >>> 0;
    return this.setLocal(table, address, orderWords(unsigned >>> 16, unsigned & 0xffff, order));
  }

  getInt32(table: RegisterTable, address: number, order: WordOrder = 'ABCD'): number | undefined {
    const words = this.readPair(table, address, order);
    return words === undefined ? undefined : ((words[0] << 16) | words[1]) >> 0;
  }

  /** IEEE 754 single precision; the value is rounded to the nearest float32 (NaN and ±Infinity are allowed). */
  setFloat32(table: RegisterTable, address: number, value: number, order: WordOrder = 'ABCD'): this {
    if (typeof value !== 'number') {
      throw new DoorstepError('SIM_ERR_VALUE', { value: String(value), type: 'float32', table, address });
    }
    const buffer = Buffer.alloc(4);
    buffer.writeFloatBE(value);
    return this.setLocal(table, address, orderWords(buffer.readUInt16BE(0), buffer.readUInt16BE(2), order));
  }

  getFloat32(table: RegisterTable, address: number, order: WordOrder = 'ABCD'): number | undefined {
    const words = this.readPair(table, address, order);
    if (words === undefined) return undefined;
    const buffer = Buffer.alloc(4);
    buffer.writeUInt16BE(words[0], 0);
    buffer.writeUInt16BE(words[1], 2);
    return buffer.readFloatBE(0);
  }

  /** Sets bit `bit` (0 = least significant) of a register, leaving the others; maps it as 0 first if needed. */
  setRegisterBit(table: RegisterTable, address: number, bit: number, value: boolean): this {
    if (!Number.isInteger(bit) || bit < 0 || bit > 15) {
      throw new DoorstepError('SIM_ERR_VALUE', { value: bit, type: 'bit index 0–15', table, address });
    }
    const current = this.tables[table].get(address) ?? 0;
    const next = value ? current | (1 << bit) : current & ~(1 << bit) & 0xffff;
    return this.setLocal(table, address, [next]);
  }

  getRegisterBit(table: RegisterTable, address: number, bit: number): boolean | undefined {
    const raw = this.tables[table].get(address);
    return raw === undefined ? undefined : ((raw >> bit) & 1) === 1;
  }

  private setLocal(table: Table, address: number, values: number[]): this {
    checkRange(table, address, values.length);
    const store = this.tables[table];
    for (let i = 0; i < values.length; i++) store.set(address + i, values[i]!);
    this.emit({ table, address, values, source: 'local' });
    return this;
  }

  /** The two words of a 32-bit value in high, low order, or undefined when either is unmapped. */
  private readPair(table: RegisterTable, address: number, order: WordOrder): [number, number] | undefined {
    const first = this.tables[table].get(address);
    const second = this.tables[table].get(address + 1);
    if (first === undefined || second === undefined) return undefined;
    return order === 'ABCD' ? [first, second] : [second, first];
  }

  private emit(change: RegisterChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

function orderWords(high: number, low: number, order: WordOrder): number[] {
  return order === 'ABCD' ? [high, low] : [low, high];
}

function checkRange(table: Table, address: number, count: number): void {
  if (!Number.isInteger(address) || address < 0 || address + count - 1 > MAX_ADDRESS) {
    throw new DoorstepError('SIM_ERR_VALUE', {
      value: address,
      type: `address (count ${count})`,
      table,
      address,
    });
  }
}

function checkInteger(
  value: number,
  min: number,
  max: number,
  type: string,
  table: Table,
  address: number,
): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new DoorstepError('SIM_ERR_VALUE', { value, type, table, address });
  }
}
