/**
 * Modbus PDUs: request encoding, reply length discovery and reply decoding, shared by the RTU and
 * TCP masters. References: Modbus Application Protocol Specification v1.1b3 (MBAP v1.1b3) §6
 * (function codes), §7 (exceptions). Written here rather than taken from modbus-serial because
 * the masters must tell a short frame, a malformed reply and an exception apart by error code,
 * and must learn a reply's length from its first bytes (RTU frame end by length, not by timing).
 */
import { DoorstepError } from '../../protocol/errors.js';

export type ModbusTable = 'coil' | 'discrete' | 'holding' | 'input';
export type WritableTable = 'coil' | 'holding';

export type ModbusRequest =
  | { kind: 'read'; table: ModbusTable; address: number; count: number }
  | { kind: 'writeCoil'; address: number; value: boolean }
  | { kind: 'writeRegister'; address: number; value: number }
  | { kind: 'writeCoils'; address: number; values: boolean[] }
  | { kind: 'writeRegisters'; address: number; values: number[] }
  /** 0x2B / 0x0E; readDeviceIdCode 1 basic, 2 regular, 3 extended, 4 one object (MBAP §6.21). */
  | { kind: 'readDeviceIdentification'; readDeviceIdCode: 1 | 2 | 3 | 4; objectId: number };

export interface DeviceIdentificationPage {
  conformityLevel: number;
  moreFollows: boolean;
  nextObjectId: number;
  /** Object id → value (latin1). 0 VendorName, 1 ProductCode, 2 MajorMinorRevision, 3 VendorUrl, 4 ProductName, 5 ModelName, 6 UserApplicationName. */
  objects: Map<number, string>;
}

export type ModbusResponse =
  | { kind: 'bits'; values: boolean[] }
  | { kind: 'registers'; values: number[] }
  | { kind: 'written'; address: number; count: number }
  | { kind: 'deviceIdentification'; page: DeviceIdentificationPage };

export const FUNCTION_CODES = {
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

const MEI_READ_DEVICE_ID = 0x0e;
const READ_FUNCTION: Record<ModbusTable, number> = { coil: 0x01, discrete: 0x02, holding: 0x03, input: 0x04 };

/** MBAP v1.1b3 §7, Table "Modbus Exception Codes". */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'ILLEGAL FUNCTION',
  2: 'ILLEGAL DATA ADDRESS',
  3: 'ILLEGAL DATA VALUE',
  4: 'SERVER DEVICE FAILURE',
  5: 'ACKNOWLEDGE',
  6: 'SERVER DEVICE BUSY',
  8: 'MEMORY PARITY ERROR',
  10: 'GATEWAY PATH UNAVAILABLE',
  11: 'GATEWAY TARGET DEVICE FAILED TO RESPOND',
};

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? 'UNKNOWN EXCEPTION';
}

/** Quantity limits per function, MBAP v1.1b3 §6.1–6.4, §6.11, §6.12. */
export const LIMITS = { readBits: 2000, readRegisters: 125, writeCoils: 1968, writeRegisters: 123 } as const;

export function functionCodeOf(request: ModbusRequest): number {
  switch (request.kind) {
    case 'read':
      return READ_FUNCTION[request.table];
    case 'writeCoil':
      return FUNCTION_CODES.writeSingleCoil;
    case 'writeRegister':
      return FUNCTION_CODES.writeSingleRegister;
    case 'writeCoils':
      return FUNCTION_CODES.writeMultipleCoils;
    case 'writeRegisters':
      return FUNCTION_CODES.writeMultipleRegisters;
    case 'readDeviceIdentification':
      return FUNCTION_CODES.encapsulatedInterface;
  }
}

function invalid(target: string, reason: string): DoorstepError {
  return new DoorstepError('DRV_ERR_BAD_REQUEST', { target, reason });
}

function checkAddress(target: string, address: number, count: number): void {
  if (!Number.isInteger(address) || address < 0 || address > 0xffff) {
    throw invalid(target, `address ${address} is not an integer in 0–65535`);
  }
  if (address + count > 0x10000) throw invalid(target, `address ${address} + ${count} runs past 65535`);
}

function checkCount(target: string, count: number, max: number): void {
  if (!Number.isInteger(count) || count < 1 || count > max) {
    throw invalid(target, `quantity ${count} is not an integer in 1–${max}`);
  }
}

function checkRegister(target: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw invalid(target, `register value ${value} is not an integer in 0–65535`);
  }
}

/** Encodes the request PDU (function code + data); throws DRV_ERR_BAD_REQUEST on out-of-range input. */
export function encodeRequest(request: ModbusRequest, target = 'device'): Buffer {
  const fc = functionCodeOf(request);
  switch (request.kind) {
    case 'read': {
      const bits = request.table === 'coil' || request.table === 'discrete';
      checkCount(target, request.count, bits ? LIMITS.readBits : LIMITS.readRegisters);
      checkAddress(target, request.address, request.count);
      const pdu = Buffer.alloc(5);
      pdu.writeUInt8(fc, 0);
      pdu.writeUInt16BE(request.address, 1);
      pdu.writeUInt16BE(request.count, 3);
      return pdu;
    }
    case 'writeCoil':
    case 'writeRegister': {
      checkAddress(target, request.address, 1);
      const value = request.kind === 'writeCoil' ? (request.value ? 0xff00 : 0x0000) : request.value;
      checkRegister(target, value);
      const pdu = Buffer.alloc(5);
      pdu.writeUInt8(fc, 0);
      pdu.writeUInt16BE(request.address, 1);
      pdu.writeUInt16BE(value, 3);
      return pdu;
    }
    case 'writeCoils': {
      const count = request.values.length;
      checkCount(target, count, LIMITS.writeCoils);
      checkAddress(target, request.address, count);
      const byteCount = Math.ceil(count / 8);
      const pdu = Buffer.alloc(6 + byteCount);
      pdu.writeUInt8(fc, 0);
      pdu.writeUInt16BE(request.address, 1);
      pdu.writeUInt16BE(count, 3);
      pdu.writeUInt8(byteCount, 5);
      // §6.11: coil 0 of the request is the least significant bit of the first data byte.
      request.values.forEach((on, i) => {
        if (on) pdu[6 + (i >> 3)]! |= 1 << (i & 7);
      });
      return pdu;
    }
    case 'writeRegisters': {
      const count = request.values.length;
      checkCount(target, count, LIMITS.writeRegisters);
      checkAddress(target, request.address, count);
      const pdu = Buffer.alloc(6 + count * 2);
      pdu.writeUInt8(fc, 0);
      pdu.writeUInt16BE(request.address, 1);
      pdu.writeUInt16BE(count, 3);
      pdu.writeUInt8(count * 2, 5);
      request.values.forEach((value, i) => {
        checkRegister(target, value);
        pdu.writeUInt16BE(value, 6 + i * 2);
      });
      return pdu;
    }
    case 'readDeviceIdentification': {
      if (![1, 2, 3, 4].includes(request.readDeviceIdCode)) {
        throw invalid(target, `read device id code ${request.readDeviceIdCode} is not 1–4`);
      }
      if (!Number.isInteger(request.objectId) || request.objectId < 0 || request.objectId > 0xff) {
        throw invalid(target, `object id ${request.objectId} is not 0–255`);
      }
      return Buffer.from([fc, MEI_READ_DEVICE_ID, request.readDeviceIdCode, request.objectId]);
    }
  }
}

/**
 * The full length of a reply PDU, learned from its first bytes: a number once known, `undefined`
 * while more bytes are needed, `null` when the function code is neither the request's nor its
 * exception form (the length cannot be known; the caller falls back to line silence).
 */
export function replyPduLength(request: ModbusRequest, pdu: Uint8Array): number | undefined | null {
  if (pdu.length < 1) return undefined;
  const fc = functionCodeOf(request);
  if (pdu[0] === (fc | 0x80)) return 2; // §7: exception reply = function | 0x80, exception code
  if (pdu[0] !== fc) return null;
  switch (request.kind) {
    case 'read':
      return pdu.length < 2 ? undefined : 2 + pdu[1]!;
    case 'writeCoil':
    case 'writeRegister':
    case 'writeCoils':
    case 'writeRegisters':
      return 5;
    case 'readDeviceIdentification': {
      // §6.21: fc, MEI, code, conformity, more follows, next object id, number of objects, objects…
      if (pdu.length < 7) return undefined;
      let offset = 7;
      for (let object = 0; object < pdu[6]!; object++) {
        if (pdu.length < offset + 2) return undefined;
        offset += 2 + pdu[offset + 1]!;
      }
      return offset;
    }
  }
}

/**
 * The full length of a reply PDU from its own function code, whatever was asked: lets the RTU
 * master delimit a frame that does not answer its request (a late reply to an earlier request,
 * another unit's reply) so that it can be discarded whole. `undefined` while more bytes are
 * needed, `null` for a function code whose reply length cannot be known.
 */
export function replyPduLengthOf(pdu: Uint8Array): number | undefined | null {
  if (pdu.length < 1) return undefined;
  const fc = pdu[0]!;
  if (fc & 0x80) return 2; // §7: exception reply
  switch (fc) {
    case FUNCTION_CODES.readCoils:
    case FUNCTION_CODES.readDiscreteInputs:
    case FUNCTION_CODES.readHoldingRegisters:
    case FUNCTION_CODES.readInputRegisters:
      return pdu.length < 2 ? undefined : 2 + pdu[1]!;
    case FUNCTION_CODES.writeSingleCoil:
    case FUNCTION_CODES.writeSingleRegister:
    case FUNCTION_CODES.writeMultipleCoils:
    case FUNCTION_CODES.writeMultipleRegisters:
      return 5;
    case FUNCTION_CODES.encapsulatedInterface:
      return replyPduLength({ kind: 'readDeviceIdentification', readDeviceIdCode: 1, objectId: 0 }, pdu);
    default:
      return null;
  }
}

/**
 * Why a complete, CRC-valid reply PDU does not answer `request`, or `undefined` when it does.
 * A reply answers its request only when its function code is the request's (or its exception
 * form, MBAP v1.1b3 §7), a read's byte count is the one the quantity asked implies (§6.1–6.4),
 * and a write echoes the address and value or quantity it was sent (§6.5, §6.6, §6.11, §6.12).
 * Modbus RTU has no transaction id: these fields are all that tell a late reply to an earlier
 * request from the answer to this one.
 */
export function replyMismatch(request: ModbusRequest, pdu: Uint8Array): string | undefined {
  const fc = functionCodeOf(request);
  if (pdu.length < 1) return 'empty reply';
  if (pdu[0] === (fc | 0x80)) return pdu.length === 2 ? undefined : `exception reply of ${pdu.length} bytes`;
  if (pdu[0] !== fc) return `function code 0x${pdu[0]!.toString(16)} answers request 0x${fc.toString(16)}`;
  const word = (offset: number) => (pdu[offset]! << 8) | pdu[offset + 1]!;
  switch (request.kind) {
    case 'read': {
      const bits = request.table === 'coil' || request.table === 'discrete';
      const expected = bits ? Math.ceil(request.count / 8) : request.count * 2;
      if (pdu.length < 2) return 'no byte count';
      if (pdu[1] !== expected)
        return `byte count ${pdu[1]}, expected ${expected} for ${request.count} ${bits ? 'bits' : 'registers'}`;
      if (pdu.length !== 2 + expected) return `${pdu.length - 2} data bytes, expected ${expected}`;
      return undefined;
    }
    case 'writeCoil':
    case 'writeRegister':
    case 'writeCoils':
    case 'writeRegisters': {
      if (pdu.length !== 5) return `${pdu.length}-byte write reply, expected 5`;
      if (word(1) !== request.address) return `echoed address ${word(1)}, expected ${request.address}`;
      const expected =
        request.kind === 'writeCoil'
          ? request.value
            ? 0xff00
            : 0
          : request.kind === 'writeRegister'
            ? request.value
            : request.values.length;
      const what = request.kind === 'writeCoil' || request.kind === 'writeRegister' ? 'value' : 'quantity';
      if (word(3) !== expected) return `echoed ${what} ${word(3)}, expected ${expected}`;
      return undefined;
    }
    case 'readDeviceIdentification':
      if (pdu.length < 2 || pdu[1] !== MEI_READ_DEVICE_ID) return 'MEI type is not 0x0e';
      return undefined;
  }
}

/** Decodes a complete reply PDU; throws DRV_ERR_EXCEPTION, DRV_ERR_SHORT_FRAME or DRV_ERR_BAD_REPLY. */
export function decodeReply(request: ModbusRequest, pdu: Buffer, target = 'device'): ModbusResponse {
  const fc = functionCodeOf(request);
  const bad = (reason: string) => new DoorstepError('DRV_ERR_BAD_REPLY', { target, reason });
  const short = (got: number, expected: number) =>
    new DoorstepError('DRV_ERR_SHORT_FRAME', { target, got, expected });
  if (pdu.length < 1) throw short(0, 2);
  if (pdu[0] === (fc | 0x80)) {
    if (pdu.length < 2) throw short(pdu.length, 2);
    const code = pdu[1]!;
    throw new DoorstepError('DRV_ERR_EXCEPTION', {
      target,
      exceptionCode: code,
      exceptionName: exceptionName(code),
    });
  }
  if (pdu[0] !== fc)
    throw bad(`function code 0x${pdu[0]!.toString(16)} answers request 0x${fc.toString(16)}`);
  switch (request.kind) {
    case 'read': {
      const bits = request.table === 'coil' || request.table === 'discrete';
      const expectedBytes = bits ? Math.ceil(request.count / 8) : request.count * 2;
      if (pdu.length < 2) throw short(pdu.length, 2 + expectedBytes);
      const byteCount = pdu[1]!;
      if (pdu.length < 2 + byteCount) throw short(pdu.length, 2 + byteCount);
      if (byteCount !== expectedBytes) throw bad(`byte count ${byteCount}, expected ${expectedBytes}`);
      if (pdu.length > 2 + byteCount) throw bad(`${pdu.length - 2 - byteCount} trailing byte(s)`);
      if (bits) {
        const values: boolean[] = [];
        for (let i = 0; i < request.count; i++) values.push(((pdu[2 + (i >> 3)]! >> (i & 7)) & 1) === 1);
        return { kind: 'bits', values };
      }
      const values: number[] = [];
      for (let i = 0; i < request.count; i++) values.push(pdu.readUInt16BE(2 + i * 2));
      return { kind: 'registers', values };
    }
    case 'writeCoil':
    case 'writeRegister':
    case 'writeCoils':
    case 'writeRegisters': {
      if (pdu.length < 5) throw short(pdu.length, 5);
      if (pdu.length > 5) throw bad(`${pdu.length - 5} trailing byte(s)`);
      const address = pdu.readUInt16BE(1);
      const second = pdu.readUInt16BE(3);
      if (address !== request.address) throw bad(`echoed address ${address}, expected ${request.address}`);
      if (request.kind === 'writeCoil' || request.kind === 'writeRegister') {
        // §6.5/§6.6: the normal reply echoes the request.
        const expected = request.kind === 'writeCoil' ? (request.value ? 0xff00 : 0) : request.value;
        if (second !== expected) throw bad(`echoed value ${second}, expected ${expected}`);
        return { kind: 'written', address, count: 1 };
      }
      if (second !== request.values.length)
        throw bad(`echoed quantity ${second}, expected ${request.values.length}`);
      return { kind: 'written', address, count: second };
    }
    case 'readDeviceIdentification': {
      const total = replyPduLength(request, pdu);
      if (total === undefined || total === null) throw short(pdu.length, Math.max(7, pdu.length + 1));
      if (pdu.length < total) throw short(pdu.length, total);
      if (pdu.length > total) throw bad(`${pdu.length - total} trailing byte(s)`);
      if (pdu[1] !== MEI_READ_DEVICE_ID) throw bad(`MEI type 0x${pdu[1]!.toString(16)}, expected 0x0e`);
      const objects = new Map<number, string>();
      let offset = 7;
      for (let object = 0; object < pdu[6]!; object++) {
        const id = pdu[offset]!;
        const length = pdu[offset + 1]!;
        objects.set(id, pdu.subarray(offset + 2, offset + 2 + length).toString('latin1'));
        offset += 2 + length;
      }
      return {
        kind: 'deviceIdentification',
        page: { conformityLevel: pdu[3]!, moreFollows: pdu[4] === 0xff, nextObjectId: pdu[5]!, objects },
      };
    }
  }
}
