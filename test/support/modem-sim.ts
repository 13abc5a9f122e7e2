import { SerialLink } from '../../drivers/link/serial.js';

/**
 * A simulated 4G modem on one end of a pty pair, written from the standards, not from the
 * gateway's sender: the AT dialogue of ITU-T V.250 (echo, CR LF framing, final result codes),
 * 3GPP TS 27.007 (+CMEE, +CPIN, +CREG, +CEREG) and TS 27.005 §3.5.1 (+CMGF, +CMGS in PDU mode:
 * `> ` prompt, hex PDU, Ctrl-Z submits, ESC aborts), and an SMS-SUBMIT decoder after TS 23.040
 * §9.2.2.2 (first octet, TP-MR, TP-DA, TP-PID, TP-DCS, TP-VP, TP-UDL, user data header §9.2.3.24).
 *
 * It records every command and every submitted part, checks the order of the dialogue
 * (`violations`), and can be told to answer +CMS ERROR, to have no SIM or no network, or to stay
 * silent.
 */

export interface DecodedSubmit {
  smscOctets: number;
  firstOctet: number;
  mti: number;
  rejectDuplicates: boolean;
  vpf: number;
  statusReport: boolean;
  udhi: boolean;
  replyPath: boolean;
  mr: number;
  /** Destination as dialled: `+` and digits for international type of number. */
  to: string;
  toa: number;
  pid: number;
  dcs: number;
  vp: number | undefined;
  udl: number;
  concat?: { ref: number; total: number; seq: number };
  text: string;
}

export interface ReceivedText {
  to: string;
  text: string;
  parts: DecodedSubmit[];
  /** When the last part arrived. */
  at: number;
}

export type SimMode = 'ok' | 'cms' | 'silent';

function fail(reason: string): never {
  throw new Error(reason);
}

/** TS 23.040 §9.2.2.2 SMS-SUBMIT, preceded by the SMSC address of TS 27.005 §3.5.1 PDU mode. */
export function decodeSubmitPdu(hex: string): DecodedSubmit {
  if (!/^([0-9A-Fa-f]{2})+$/.test(hex)) fail(`not hex octets: ${hex.slice(0, 40)}`);
  const o = Buffer.from(hex, 'hex');
  let i = 0;
  const next = () => (i < o.length ? o[i++]! : fail(`PDU ends early at octet ${i}`));
  const smscLen = next();
  i += smscLen;
  const first = next();
  const mti = first & 0x03;
  if (mti !== 0x01) fail(`TP-MTI ${mti} is not SMS-SUBMIT`);
  const vpf = (first >> 3) & 0x03;
  const udhi = (first & 0x40) !== 0;
  const mr = next();
  const digits = next();
  const toa = next();
  let number = '';
  for (let k = 0; k < Math.ceil(digits / 2); k++) {
    const b = next();
    number += (b & 0x0f).toString(16) + (b >> 4).toString(16);
  }
  number = number.slice(0, digits);
  if (!/^\d*$/.test(number)) fail(`address digits not decimal: ${number}`);
  const ton = (toa >> 4) & 0x07;
  const to = ton === 1 ? `+${number}` : number;
  const pid = next();
  const dcs = next();
  let vp: number | undefined;
  if (vpf === 2) vp = next();
  else if (vpf === 1 || vpf === 3) {
    i += 7; // enhanced or absolute format: 7 octets (§9.2.3.12.2/3)
  }
  const udl = next();
  const ud = o.subarray(i);
  // DCS 0x08: UCS-2, UDL counts octets (§9.2.3.16); 7-bit alphabets are not what a gateway sends.
  if ((dcs & 0x0c) !== 0x08) fail(`DCS 0x${dcs.toString(16)} is not UCS-2`);
  if (ud.length !== udl) fail(`TP-UDL says ${udl} octets, ${ud.length} present`);
  let start = 0;
  let concat: DecodedSubmit['concat'];
  if (udhi) {
    const udhl = ud[0] ?? fail('UDHI set but no header');
    let j = 1;
    while (j < 1 + udhl) {
      const iei = ud[j]!;
      const len = ud[j + 1]!;
      const data = ud.subarray(j + 2, j + 2 + len);
      if (iei === 0x00 && len === 3) concat = { ref: data[0]!, total: data[1]!, seq: data[2]! };
      if (iei === 0x08 && len === 4) concat = { ref: data.readUInt16BE(0), total: data[2]!, seq: data[3]! };
      j += 2 + len;
    }
    start = 1 + udhl;
  }
  const body = ud.subarray(start);
  if (body.length % 2 !== 0) fail('UCS-2 user data has an odd number of octets');
  let text = '';
  for (let k = 0; k < body.length; k += 2) text += String.fromCharCode(body.readUInt16BE(k));
  return {
    smscOctets: smscLen,
    firstOctet: first,
    mti,
    rejectDuplicates: (first & 0x04) !== 0,
    vpf,
    statusReport: (first & 0x20) !== 0,
    udhi,
    replyPath: (first & 0x80) !== 0,
    mr,
    to,
    toa,
    pid,
    dcs,
    vp,
    udl,
    ...(concat ? { concat } : {}),
    text,
  };
}

export class ModemSim {
  readonly #link: SerialLink;
  /** Every command line received, in order. */
  readonly commands: string[] = [];
  /** Every accepted SMS-SUBMIT part. */
  readonly parts: DecodedSubmit[] = [];
  /** Whole texts: single parts, and concatenated ones once every part arrived. */
  readonly texts: ReceivedText[] = [];
  /** Breaches of the AT dialogue order or of the PDU rules. */
  readonly violations: string[] = [];
  mode: SimMode = 'ok';
  cmsCode = 331;
  /** Answer +CMS ERROR this many times, then OK. */
  failNext = 0;
  sim: 'ready' | 'absent' | 'pin' = 'ready';
  pin = '1234';
  /** TS 27.007 <stat>: 1 home, 5 roaming, 0/2/3/4 not registered. */
  creg = 1;
  cereg = 1;
  #echo = true;
  #cmee = 0;
  #cmgf = 1;
  #line = '';
  #pdu: { length: number; hex: string } | undefined;
  #mr = 0;
  #sessionQueried = { cpin: false, reg: false };
  #pending = new Map<string, DecodedSubmit[]>();

  constructor(path: string) {
    this.#link = new SerialLink({ path, baudRate: 115200, parity: 'none' });
  }

  async start(): Promise<void> {
    await this.#link.open();
    this.#link.onData((chunk) => this.#onData(chunk));
  }

  async stop(): Promise<void> {
    await this.#link.close();
  }

  /** Powers the modem "off and on": echo and text mode back to their defaults. */
  reboot(): void {
    this.#echo = true;
    this.#cmee = 0;
    this.#cmgf = 1;
    this.#sessionQueried = { cpin: false, reg: false };
  }

  #send(text: string): void {
    if (this.mode === 'silent') return;
    void this.#link.write(Buffer.from(text, 'latin1')).catch(() => undefined);
  }

  #result(lines: string[], final: string): void {
    // V.250 §5.7.1 verbose responses: each framed as CR LF text CR LF.
    this.#send([...lines, final].map((l) => `\r\n${l}\r\n`).join(''));
  }

  #error(code: number): void {
    this.#result([], this.#cmee === 1 ? `+CME ERROR: ${code}` : 'ERROR');
  }

  #onData(chunk: Buffer): void {
    for (const byte of chunk) {
      if (this.#pdu) {
        if (byte === 0x1a) this.#submit();
        else if (byte === 0x1b) {
          this.#pdu = undefined;
          this.#result([], 'OK');
        } else this.#pdu.hex += String.fromCharCode(byte);
        continue;
      }
      if (this.#echo && this.mode !== 'silent') this.#send(String.fromCharCode(byte));
      if (byte === 0x0d) {
        const line = this.#line.trim();
        this.#line = '';
        if (line) this.#command(line);
      } else if (byte !== 0x0a) this.#line += String.fromCharCode(byte);
    }
  }

  #command(line: string): void {
    this.commands.push(line);
    const upper = line.toUpperCase();
    if (!upper.startsWith('AT')) {
      this.#result([], 'ERROR');
      return;
    }
    if (upper === 'AT') {
      this.#result([], 'OK');
      return;
    }
    if (upper === 'ATE0' || upper === 'ATE1') {
      this.#echo = upper === 'ATE1';
      this.#result([], 'OK');
      return;
    }
    let m = /^AT\+CMEE=([012])$/.exec(upper);
    if (m) {
      this.#cmee = Number(m[1]);
      this.#result([], 'OK');
      return;
    }
    if (upper === 'AT+CPIN?') {
      this.#sessionQueried.cpin = true;
      if (this.sim === 'absent') {
        this.#error(10); // TS 27.007 §9.2.1: SIM not inserted
        return;
      }
      this.#result([`+CPIN: ${this.sim === 'pin' ? 'SIM PIN' : 'READY'}`], 'OK');
      return;
    }
    m = /^AT\+CPIN="?(\d+)"?$/.exec(upper);
    if (m) {
      if (this.sim === 'absent') {
        this.#error(10);
        return;
      }
      if (m[1] !== this.pin) {
        this.#error(16);
        return;
      } // incorrect password
      this.sim = 'ready';
      this.#result([], 'OK');
      return;
    }
    if (upper === 'AT+CREG?' || upper === 'AT+CEREG?') {
      this.#sessionQueried.reg = true;
      const cmd = upper.slice(3, -1);
      const stat = cmd === 'CREG' ? this.creg : this.cereg;
      this.#result([`+${cmd}: 0,${stat}`], 'OK');
      return;
    }
    m = /^AT\+CMGF=([01])$/.exec(upper);
    if (m) {
      this.#cmgf = Number(m[1]);
      this.#result([], 'OK');
      return;
    }
    // Identification and settings other senders ask for (TS 27.007 §5, TS 27.005 §3.3): plausible
    // answers, so an independent AT sender (Gammu) can be run against this modem.
    const info: Record<string, string[]> = {
      'AT+CGMI': ['doorstep-sim'],
      'AT+CGMM': ['EC20'],
      'AT+CGMR': ['EC20CEFAR06A01M4G'],
      'AT+CGSN': ['866758040000001'],
      ATI: ['doorstep-sim EC20', 'Revision: EC20CEFAR06A01M4G'],
      ATI4: ['EC20'],
      'AT+CSCS?': ['+CSCS: "GSM"'],
      'AT+CSCS=?': ['+CSCS: ("GSM","IRA","UCS2")'],
      'AT+CSCA?': ['+CSCA: "+8613800210500",145'],
      'AT+CPMS?': ['+CPMS: "SM",0,50,"SM",0,50,"SM",0,50'],
      'AT+CPMS=?': ['+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")'],
      'AT+CMGF=?': ['+CMGF: (0,1)'],
      'AT+CSQ': ['+CSQ: 20,99'],
    };
    const answer = info[upper];
    if (answer) {
      this.#result(answer, 'OK');
      return;
    }
    if (/^AT\+(CSCS|CPMS|CNMI|CSMP|CFUN)=/.test(upper)) {
      this.#result([], 'OK');
      return;
    }
    m = /^AT\+CMGS=(\d+)$/.exec(upper);
    if (m) {
      if (this.#cmgf !== 0) {
        this.violations.push('AT+CMGS=<length> in text mode (AT+CMGF=0 not sent)');
        this.#result([], 'ERROR');
        return;
      }
      if (!this.#sessionQueried.cpin) this.violations.push('AT+CMGS before AT+CPIN?');
      if (!this.#sessionQueried.reg) this.violations.push('AT+CMGS before AT+CREG?/AT+CEREG?');
      if (this.#echo) this.violations.push('AT+CMGS with echo on (ATE0 not sent)');
      if (this.sim !== 'ready') {
        this.#cms(this.sim === 'absent' ? 310 : 311);
        return;
      }
      if (![1, 5].includes(this.creg) && ![1, 5].includes(this.cereg)) {
        this.#cms(331);
        return;
      }
      this.#pdu = { length: Number(m[1]), hex: '' };
      // TS 27.005 §3.5.1: the prompt is CR LF, greater-than, space.
      this.#send('\r\n> ');
      return;
    }
    this.#result([], 'ERROR');
  }

  #cms(code: number): void {
    this.#result([], `+CMS ERROR: ${code}`);
  }

  #submit(): void {
    const { length, hex } = this.#pdu!;
    this.#pdu = undefined;
    let decoded: DecodedSubmit;
    try {
      decoded = decodeSubmitPdu(hex.trim());
    } catch (error) {
      this.violations.push(`bad PDU: ${(error as Error).message}`);
      this.#cms(304);
      return;
    }
    const tpduOctets = hex.trim().length / 2 - 1 - decoded.smscOctets;
    if (tpduOctets !== length) {
      this.violations.push(`AT+CMGS=${length} but the TPDU has ${tpduOctets} octets`);
      this.#cms(304);
      return;
    }
    if (this.mode === 'cms' || this.failNext > 0) {
      if (this.failNext > 0) this.failNext--;
      this.#cms(this.cmsCode);
      return;
    }
    if (this.mode === 'silent') return;
    this.parts.push(decoded);
    this.#mr = (this.#mr + 1) & 0xff;
    this.#result([`+CMGS: ${this.#mr}`], 'OK');
    const at = Date.now();
    if (!decoded.concat) {
      this.texts.push({ to: decoded.to, text: decoded.text, parts: [decoded], at });
      return;
    }
    const key = `${decoded.to}/${decoded.concat.ref}/${decoded.concat.total}`;
    const got = [...(this.#pending.get(key) ?? []), decoded];
    if (got.length < decoded.concat.total) {
      this.#pending.set(key, got);
      return;
    }
    this.#pending.delete(key);
    got.sort((a, b) => a.concat!.seq - b.concat!.seq);
    got.forEach((p, k) => {
      if (p.concat!.seq !== k + 1) this.violations.push(`concatenated parts of ${key} not numbered 1..n`);
    });
    this.texts.push({ to: decoded.to, text: got.map((p) => p.text).join(''), parts: got, at });
  }
}
