import type { BitTable, RegisterBank, RegisterTable } from '../register-bank.js';
import type { DeviceIdentity } from './unit.js';

/**
 * The transport-independent part of a Modbus server: one request PDU in, one response PDU out
 * (Modbus Application Protocol v1.1b3 §6 function codes, §7 exception responses). Checks follow
 * the spec's state diagrams in order: function code supported (01), quantity and byte count (03),
 * address range and mapping (02).
 */
export const FunctionCode = {
  readCoils: 0x01,
  readDiscreteInputs: 0x02,
  readHoldingRegisters: 0x03,
  readInputRegisters: 0x04,
  writeSingleCoil: 0x05,
  writeSingleRegister: 0x06,
  writeMultipleCoils: 0x0f,
  writeMultipleRegisters: 0x10,
  encapsulatedInterface: 0x2b,
} as const;

export const ExceptionCode = {
  illegalFunction: 0x01,
  illegalDataAddress: 0x02,
  illegalDataValue: 0x03,
  serverDeviceFailure: 0x04,
  gatewayTargetFailedToRespond: 0x0b,
} as const;

/** MEI type of Read Device Identification (§6.21). */
export const MEI_READ_DEVICE_ID = 0x0e;

/** Quantity limits (§6.1–6.4, §6.11, §6.12). */
export const LIMITS = {
  readBits: 2000,
  readRegisters: 125,
  writeBits: 1968,
  writeRegisters: 123,
} as const;

export function exceptionPdu(functionCode: number, exceptionCode: number): Buffer {
  return Buffer.from([(functionCode | 0x80) & 0xff, exceptionCode]);
}

/**
 * Executes `pdu` against a bank. Returns the response PDU (possibly an exception), or undefined for
 * a broadcast (no reply, §4.1 / serial line §2.2) — broadcast reads are ignored, writes applied.
 */
export function executePdu(
  bank: RegisterBank,
  identity: DeviceIdentity,
  pdu: Buffer,
  broadcast = false,
): Buffer | undefined {
  const functionCode = pdu[0];
  if (functionCode === undefined) return undefined;
  const reply = executeUnicast(bank, identity, pdu, functionCode, broadcast);
  return broadcast ? undefined : reply;
}

function executeUnicast(
  bank: RegisterBank,
  identity: DeviceIdentity,
  pdu: Buffer,
  functionCode: number,
  broadcast: boolean,
): Buffer | undefined {
  const fail = (code: number) => exceptionPdu(functionCode, code);
  const isWrite =
    functionCode === FunctionCode.writeSingleCoil ||
    functionCode === FunctionCode.writeSingleRegister ||
    functionCode === FunctionCode.writeMultipleCoils ||
    functionCode === FunctionCode.writeMultipleRegisters;
  if (broadcast && !isWrite) return undefined;
  switch (functionCode) {
    case FunctionCode.readCoils:
    case FunctionCode.readDiscreteInputs: {
      if (pdu.length !== 5) return fail(ExceptionCode.illegalDataValue);
      const table: BitTable = functionCode === FunctionCode.readCoils ? 'coil' : 'discrete';
      const address = pdu.readUInt16BE(1);
      const quantity = pdu.readUInt16BE(3);
      if (quantity < 1 || quantity > LIMITS.readBits) return fail(ExceptionCode.illegalDataValue);
      if (address + quantity > 0x10000) return fail(ExceptionCode.illegalDataAddress);
      const bits = bank.read(table, address, quantity);
      if (!bits) return fail(ExceptionCode.illegalDataAddress);
      const byteCount = Math.ceil(quantity / 8);
      const out = Buffer.alloc(2 + byteCount);
      out[0] = functionCode;
      out[1] = byteCount;
      // §6.1: the first coil is the LSB of the first data byte; unused high bits are zero.
      for (let i = 0; i < quantity; i++) if (bits[i]) out[2 + (i >> 3)]! |= 1 << (i & 7);
      return out;
    }
    case FunctionCode.readHoldingRegisters:
    case FunctionCode.readInputRegisters: {
      if (pdu.length !== 5) return fail(ExceptionCode.illegalDataValue);
      const table: RegisterTable = functionCode === FunctionCode.readHoldingRegisters ? 'holding' : 'input';
      const address = pdu.readUInt16BE(1);
      const quantity = pdu.readUInt16BE(3);
      if (quantity < 1 || quantity > LIMITS.readRegisters) return fail(ExceptionCode.illegalDataValue);
      if (address + quantity > 0x10000) return fail(ExceptionCode.illegalDataAddress);
      const words = bank.read(table, address, quantity);
      if (!words) return fail(ExceptionCode.illegalDataAddress);
      const out = Buffer.alloc(2 + quantity * 2);
      out[0] = functionCode;
      out[1] = quantity * 2;
      for (let i = 0; i < quantity; i++) out.writeUInt16BE(words[i]!, 2 + i * 2);
      return out;
    }
    case FunctionCode.writeSingleCoil: {
      if (pdu.length !== 5) return fail(ExceptionCode.illegalDataValue);
      const address = pdu.readUInt16BE(1);
      const value = pdu.readUInt16BE(3);
      // §6.5: 0xFF00 = ON, 0x0000 = OFF; anything else is an illegal data value.
      if (value !== 0xff00 && value !== 0x0000) return fail(ExceptionCode.illegalDataValue);
      if (!bank.write('coil', address, [value === 0xff00 ? 1 : 0], 'master')) {
        return fail(ExceptionCode.illegalDataAddress);
      }
      return Buffer.from(pdu);
    }
    case FunctionCode.writeSingleRegister: {
      if (pdu.length !== 5) return fail(ExceptionCode.illegalDataValue);
      const address = pdu.readUInt16BE(1);
      if (!bank.write('holding', address, [pdu.readUInt16BE(3)], 'master')) {
        return fail(ExceptionCode.illegalDataAddress);
      }
      return Buffer.from(pdu);
    }
    case FunctionCode.writeMultipleCoils: {
      if (pdu.length < 6) return fail(ExceptionCode.illegalDataValue);
      const address = pdu.readUInt16BE(1);
      const quantity = pdu.readUInt16BE(3);
      const byteCount = pdu[5]!;
      if (quantity < 1 || quantity > LIMITS.writeBits || byteCount !== Math.ceil(quantity / 8)) {
        return fail(ExceptionCode.illegalDataValue);
      }
      if (pdu.length !== 6 + byteCount) return fail(ExceptionCode.illegalDataValue);
      if (address + quantity > 0x10000) return fail(ExceptionCode.illegalDataAddress);
      const values = new Array<number>(quantity);
      for (let i = 0; i < quantity; i++) values[i] = (pdu[6 + (i >> 3)]! >> (i & 7)) & 1;
      if (!bank.write('coil', address, values, 'master')) return fail(ExceptionCode.illegalDataAddress);
      return pdu.subarray(0, 5);
    }
    case FunctionCode.writeMultipleRegisters: {
      if (pdu.length < 6) return fail(ExceptionCode.illegalDataValue);
      const address = pdu.readUInt16BE(1);
      const quantity = pdu.readUInt16BE(3);
      const byteCount = pdu[5]!;
      if (quantity < 1 || quantity > LIMITS.writeRegisters || byteCount !== quantity * 2) {
        return fail(ExceptionCode.illegalDataValue);
      }
      if (pdu.length !== 6 + byteCount) return fail(ExceptionCode.illegalDataValue);
      if (address + quantity > 0x10000) return fail(ExceptionCode.illegalDataAddress);
      const values = new Array<number>(quantity);
      for (let i = 0; i < quantity; i++) values[i] = pdu.readUInt16BE(6 + i * 2);
      if (!bank.write('holding', address, values, 'master')) return fail(ExceptionCode.illegalDataAddress);
      return Buffer.from(pdu.subarray(0, 5));
    }
    case FunctionCode.encapsulatedInterface:
      return readDeviceIdentification(identity, pdu);
    default:
      return fail(ExceptionCode.illegalFunction);
  }
}

/**
 * Read Device Identification, §6.21. The simulator holds the basic objects only (0x00 vendor,
 * 0x01 product code, 0x02 revision) and declares conformity level 0x81 (basic, stream and
 * individual access). Stream access (codes 01–03) answers every object from the requested id
 * on in one response (an object id past the last restarts at 0, as §6.21 says); individual
 * access (code 04) of an unknown object answers exception 02.
 */
function readDeviceIdentification(identity: DeviceIdentity, pdu: Buffer): Buffer {
  const fail = (code: number) => exceptionPdu(FunctionCode.encapsulatedInterface, code);
  if (pdu[1] !== MEI_READ_DEVICE_ID) return fail(ExceptionCode.illegalFunction);
  if (pdu.length !== 4) return fail(ExceptionCode.illegalDataValue);
  const code = pdu[2]!;
  let objectId = pdu[3]!;
  const objects = [identity.vendorName, identity.productCode, identity.revision].map((text) =>
    Buffer.from(text, 'latin1').subarray(0, 80),
  );
  if (code < 1 || code > 4) return fail(ExceptionCode.illegalDataValue);
  if (code === 4 && objectId >= objects.length) return fail(ExceptionCode.illegalDataAddress);
  if (objectId >= objects.length) objectId = 0;
  const ids = code === 4 ? [objectId] : objects.map((_, id) => id).filter((id) => id >= objectId);
  const parts: Buffer[] = [
    Buffer.from([FunctionCode.encapsulatedInterface, MEI_READ_DEVICE_ID, code, 0x81, 0x00, 0x00, ids.length]),
  ];
  for (const id of ids) {
    const value = objects[id]!;
    parts.push(Buffer.from([id, value.length]), value);
  }
  return Buffer.concat(parts);
}
