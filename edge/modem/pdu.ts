/**
 * SMS-SUBMIT TPDUs for PDU mode (3GPP TS 27.005 §3.5.1 AT+CMGS; the TPDU is 3GPP TS 23.040 §9.2.2.2).
 * Text is always UCS-2 (TS 23.038 §4 data coding scheme 0x08, UTF-16BE octets): the texts are
 * Chinese, and one coding keeps the encoder small and the length rules simple. A text over 70
 * UTF-16 units is sent as a concatenated SMS (TS 23.040 §9.2.3.24.1, IEI 0x00, 8-bit reference):
 * the 6-octet user data header leaves 134 octets, 67 units, per part.
 */

/** One part as the modem wants it: `AT+CMGS=<tpduOctets>` then `hex` + Ctrl-Z. */
export interface SubmitPdu {
  /** SMSC address (one octet 00: use the SIM's SMSC, TS 27.005 §3.5.1) followed by the TPDU, upper-case hex. */
  hex: string;
  /** TPDU length in octets, the SMSC part excluded (TS 27.005 §3.5.1 `<length>`). */
  tpduOctets: number;
}

export interface SubmitOptions {
  /** E.164 (`+8613800138000`) or a national number without `+`. */
  to: string;
  text: string;
  /** Concatenation reference (0–255), the same in every part of one message. */
  reference: number;
  /**
   * TP-VP, relative format (TS 23.040 §9.2.3.12.1). 0xA7 = 24 h: an alarm text that could not be
   * delivered within a day is of no use, and the SMSC should not keep it for the default days.
   */
  validity?: number;
}

/** TS 23.040 §9.2.3.24.1: 140 octets of user data − 6 octets of header = 134 octets = 67 UCS-2 units. */
export const SINGLE_PART_UNITS = 70;
export const CONCAT_PART_UNITS = 67;
/** A gateway text is a few lines; more parts than this means something upstream went wrong. */
export const MAX_PARTS = 8;

const hex2 = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');

/** TS 23.040 §9.1.2.5: address digits as swapped semi-octets, an odd count padded with F. */
function encodeAddress(number: string): string {
  const international = number.startsWith('+');
  const digits = international ? number.slice(1) : number;
  if (!/^\d{1,20}$/.test(digits)) throw new Error(`not a dialable number: ${number}`);
  // Type of address: 1 001 0001 = international, ISDN/E.164 plan; 1 000 0001 = unknown type.
  const toa = international ? 0x91 : 0x81;
  const padded = digits.length % 2 === 1 ? `${digits}F` : digits;
  let swapped = '';
  for (let i = 0; i < padded.length; i += 2) swapped += padded[i + 1]! + padded[i]!;
  return hex2(digits.length) + hex2(toa) + swapped;
}

/** Splits UTF-16 units into parts of at most `size`, never between the halves of a surrogate pair. */
export function splitUnits(text: string, size: number): string[] {
  const parts: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    parts.push(text.slice(start, end));
    start = end;
  }
  return parts;
}

function ucs2(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) out += text.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0');
  return out;
}

/** The parts of one text: one PDU up to 70 units, else concatenated parts of 67 units (at most MAX_PARTS). */
export function encodeSubmit(options: SubmitOptions): SubmitPdu[] {
  const { to, text, reference } = options;
  if (!Number.isInteger(reference) || reference < 0 || reference > 255)
    throw new Error(`concatenation reference must be 0–255, got ${reference}`);
  const validity = options.validity ?? 0xa7;
  const chunks = text.length <= SINGLE_PART_UNITS ? [text] : splitUnits(text, CONCAT_PART_UNITS);
  if (chunks.length > MAX_PARTS) throw new Error(`text needs ${chunks.length} parts, more than ${MAX_PARTS}`);
  const address = encodeAddress(to);
  return chunks.map((chunk, i) => {
    const concatenated = chunks.length > 1;
    // First octet (TS 23.040 §9.2.2.2): TP-MTI 01 SMS-SUBMIT, TP-VPF 10 relative (0x10),
    // TP-UDHI (0x40) when the user data starts with a header.
    const firstOctet = 0x01 | 0x10 | (concatenated ? 0x40 : 0);
    // IEI 0x00 concatenated short messages, 8-bit reference: 00 03 ref total seq, after UDHL 05.
    const udh = concatenated ? `050003${hex2(reference)}${hex2(chunks.length)}${hex2(i + 1)}` : '';
    const userData = udh + ucs2(chunk);
    const tpdu =
      hex2(firstOctet) +
      '00' + // TP-MR: the modem assigns the message reference (reported back in +CMGS: <mr>)
      address +
      '00' + // TP-PID: plain short message
      '08' + // TP-DCS: UCS-2, no message class
      hex2(validity) +
      hex2(userData.length / 2) + // TP-UDL: octets for UCS-2 (TS 23.040 §9.2.3.16)
      userData;
    return { hex: `00${tpdu}`, tpduOctets: tpdu.length / 2 };
  });
}
