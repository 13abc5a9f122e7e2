import { crc16Modbus } from '../../modbus/crc16.js';
import { FunctionCode, MEI_READ_DEVICE_ID } from './pdu.js';

/**
 * RTU request framing for the simulated slave. A real slave ends a frame at t3.5 of silence
 * (Modbus over serial line v1.02 §2.5.1.1), but a pty or an event loop delivers bytes in chunks
 * with scheduling gaps that have nothing to do with the wire, so requests are delimited by the
 * length their function code implies, and silence is only the fallback for garbage and for
 * function codes whose length we cannot know (answered with exception 01 when the CRC holds).
 *
 * We frame by hand rather than through a library because the simulator must also *emit* malformed
 * frames on purpose (bad CRC, truncated, wrong unit, garbage), which no library will do.
 */

/** Length of the request ADU (unit + PDU + CRC) starting at `buffer[0]`:
 *  a number; 'more' when more bytes are needed to tell; 'unknown' when only silence can end it. */
export function expectedRequestLength(buffer: Uint8Array): number | 'more' | 'unknown' {
  if (buffer.length < 2) return 'more';
  const functionCode = buffer[1]!;
  switch (functionCode) {
    case FunctionCode.readCoils:
    case FunctionCode.readDiscreteInputs:
    case FunctionCode.readHoldingRegisters:
    case FunctionCode.readInputRegisters:
    case FunctionCode.writeSingleCoil:
    case FunctionCode.writeSingleRegister:
      return 8; // unit, fc, address(2), quantity|value(2), crc(2)
    case FunctionCode.writeMultipleCoils:
    case FunctionCode.writeMultipleRegisters:
      if (buffer.length < 7) return 'more';
      return 9 + buffer[6]!; // unit, fc, address(2), quantity(2), byte count, data, crc(2)
    case FunctionCode.encapsulatedInterface:
      if (buffer.length < 3) return 'more';
      return buffer[2] === MEI_READ_DEVICE_ID ? 7 : 'unknown'; // unit, fc, mei, code, object id, crc(2)
    default:
      return 'unknown';
  }
}

/** Builds an RTU ADU: unit, PDU, CRC low byte first (§2.5.1.2); `invertCrc` for the bad_crc fault. */
export function buildRtuFrame(unitId: number, pdu: Uint8Array, invertCrc = false): Buffer {
  const frame = Buffer.alloc(pdu.length + 3);
  frame[0] = unitId;
  frame.set(pdu, 1);
  const crc = crc16Modbus(frame, 0, pdu.length + 1) ^ (invertCrc ? 0xffff : 0);
  frame.writeUInt16LE(crc, pdu.length + 1);
  return frame;
}
