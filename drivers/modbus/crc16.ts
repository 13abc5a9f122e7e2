/**
 * CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), transmitted low byte first.
 * Modbus over serial line v1.02 §2.5.1.2 and Annex B. Also used by the binary wireless frame.
 */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
    table[i] = crc;
  }
  return table;
})();

export function crc16Modbus(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ data[i]!) & 0xff]!;
  return crc;
}

/** Appends the CRC (low byte first) to `frame`. */
export function withCrc(frame: Uint8Array): Buffer {
  const out = Buffer.alloc(frame.length + 2);
  out.set(frame, 0);
  out.writeUInt16LE(crc16Modbus(frame), frame.length);
  return out;
}

/** True when the last two bytes of `frame` are the CRC of the rest. */
export function hasValidCrc(frame: Uint8Array): boolean {
  if (frame.length < 3) return false;
  const expected = crc16Modbus(frame, 0, frame.length - 2);
  return frame[frame.length - 2] === (expected & 0xff) && frame[frame.length - 1] === expected >>> 8;
}
