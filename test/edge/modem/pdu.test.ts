import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { encodeSubmit, splitUnits } from '../../../edge/modem/pdu.js';
import { composeText } from '../../../edge/modem/text.js';
import { normalisePhoneNumber } from '../../../protocol/index.js';
import { decodeSubmitPdu } from '../../support/modem-sim.js';

/**
 * Debian's python3-gammu (Gammu 1.42, scripts/setup-test-env.sh) as the independent codec: its
 * DecodePDU reads what doorstep encodes, and its EncodeSMS/EncodePDU makes PDUs the simulated
 * modem's decoder must read — neither side is checked only against code written here.
 */
function gammu(script: string, input: unknown): unknown {
  const run = spawnSync('/usr/bin/python3', ['-c', script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, `python3-gammu failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

const DECODE = `
import sys, json, binascii, gammu
out = []
for h in json.load(sys.stdin):
    d = gammu.DecodePDU(binascii.unhexlify(h))
    out.append({'number': d['Number'], 'text': d['Text'], 'coding': d['Coding'], 'type': d['Type'],
                'udh': d['UDH']['Type'], 'ref': d['UDH']['ID8bit'], 'part': d['UDH']['PartNumber'],
                'all': d['UDH']['AllParts'], 'validity': d['SMSC']['Validity']})
print(json.dumps(out))
`;

const ENCODE = `
import sys, json, binascii, gammu
req = json.load(sys.stdin)
msgs = gammu.EncodeSMS({'Class': -1, 'Unicode': True,
                        'Entries': [{'ID': 'ConcatenatedTextLong', 'Buffer': req['text']}]})
out = []
for m in msgs:
    m['SMSC'] = {'Location': 0, 'Number': ''}
    m['Number'] = req['to']
    out.append(binascii.hexlify(gammu.EncodePDU(m, 'Submit')).decode())
print(json.dumps(out))
`;

interface GammuDecoded {
  number: string;
  text: string;
  coding: string;
  type: string;
  udh: string;
  ref: number;
  part: number;
  all: number;
  validity: string;
}

describe('SMS-SUBMIT PDUs (3GPP TS 23.040, TS 27.005 PDU mode)', () => {
  it('encodes the worked example "测试" to +8613800138000 octet for octet', () => {
    // The commonly published example: 00 SMSC (SIM default), 11 SUBMIT + relative VP, 00 MR,
    // 0D 91 683108108300F0, 00 PID, 08 UCS-2, AA 4 days, 04 octets 6D4B 8BD5 → AT+CMGS=19.
    const [part, ...more] = encodeSubmit({
      to: '+8613800138000',
      text: '测试',
      reference: 0,
      validity: 0xaa,
    });
    assert.equal(more.length, 0);
    assert.equal(part!.hex, '0011000D91683108108300F00008AA046D4B8BD5');
    assert.equal(part!.tpduOctets, 19);
  });

  it('python3-gammu decodes a single and a concatenated text to the same number and characters', () => {
    const short = encodeSubmit({ to: '+8613800138000', text: '【紧急报警】3号楼 烟感报警', reference: 1 });
    const longText = `【紧急报警】${'幸福里小区3号楼2单元楼道'.repeat(8)}，请立即到场核实。😀`;
    const long = encodeSubmit({ to: '+8613800138000', text: longText, reference: 201 });
    assert.equal(long.length, Math.ceil(longText.length / 67));
    const decoded = gammu(
      DECODE,
      [...short, ...long].map((p) => p.hex),
    ) as GammuDecoded[];
    assert.equal(decoded[0]!.text, '【紧急报警】3号楼 烟感报警');
    assert.equal(decoded[0]!.udh, 'NoUDH');
    for (const d of decoded) {
      assert.equal(d.number, '+8613800138000');
      assert.equal(d.coding, 'Unicode_No_Compression');
      assert.equal(d.type, 'Submit');
      assert.equal(d.validity, '1440M', 'TP-VP 0xA7 = 24 h (TS 23.040 §9.2.3.12.1)');
    }
    const parts = decoded.slice(1);
    parts.forEach((d, i) => {
      assert.equal(d.udh, 'ConcatenatedMessages');
      assert.equal(d.ref, 201);
      assert.equal(d.part, i + 1);
      assert.equal(d.all, long.length);
    });
    assert.equal(parts.map((d) => d.text).join(''), longText);
  });

  it('the simulated modem decodes PDUs made by python3-gammu (its decoder is not checked against ours only)', () => {
    const text = `【紧急报警】${'测'.repeat(80)}`;
    const hexes = gammu(ENCODE, { to: '+8613900139000', text }) as string[];
    assert.equal(hexes.length, 2);
    const parts = hexes.map((h) => decodeSubmitPdu(h));
    for (const p of parts) {
      assert.equal(p.to, '+8613900139000');
      assert.equal(p.dcs, 0x08);
      assert.equal(p.udhi, true);
      assert.equal(p.concat?.total, 2);
    }
    assert.equal(parts.map((p) => p.text).join(''), text);
  });

  it('never splits a surrogate pair between parts, and refuses bad input', () => {
    const text = `${'字'.repeat(66)}😀尾`;
    const chunks = splitUnits(text, 67);
    assert.equal(chunks[0]!.length, 66);
    assert.equal(chunks.join(''), text);
    assert.throws(() => encodeSubmit({ to: '+86abc', text: 'x', reference: 0 }), /not a dialable number/);
    assert.throws(() => encodeSubmit({ to: '+8613800138000', text: 'x', reference: 256 }), /0–255/);
    assert.throws(
      () => encodeSubmit({ to: '+8613800138000', text: '字'.repeat(67 * 9), reference: 0 }),
      /parts/,
    );
  });
});

describe('texts people read', () => {
  it('one alarm: severity, location, alarm, Asia/Shanghai time, gateway name, why it comes by text', () => {
    // 2026-12-07 22:41:03 UTC = 2026-12-08 06:41:03 in Shanghai.
    const ts = Date.UTC(2026, 11, 7, 22, 41, 3);
    const text = composeText(
      [{ type: 'smoke', severity: 'critical', location: '3号楼2单元 楼道', ts }],
      '幸福里1号网关',
      'zh',
    );
    assert.equal(
      text,
      '【紧急报警】3号楼2单元 楼道 烟感报警，2026-12-08 06:41:03。网关：幸福里1号网关。平台未收到（网络中断），请立即到场核实。',
    );
    const gas = composeText(
      [{ type: 'gas_high', severity: 'critical', location: '1号楼厨房', ts, value: 62, cleared: true }],
      'gw',
      'en',
    );
    assert.match(
      gas,
      /^\[Critical alarm\] 1号楼厨房 Combustible gas high-level alarm 62%LEL, 2026-12-08 06:41:03/,
    );
    assert.match(gas, /since cleared/);
  });

  it('several alarms due at once go in one text, the fifth and later counted', () => {
    const ts = Date.UTC(2026, 11, 7, 22, 41, 3);
    const alarms = Array.from({ length: 6 }, (_, i) => ({
      type: 'smoke',
      severity: 'critical' as const,
      location: `${i + 1}号楼`,
      ts: ts + i * 1000,
    }));
    const text = composeText(alarms, '网关甲', 'zh');
    assert.match(text, /^【紧急报警】共6条：1\.1号楼 烟感报警 06:41:03；2\.2号楼/);
    assert.match(text, /另有2条。网关：网关甲。/);
    assert.doesNotMatch(text, /5号楼/);
  });
});

describe('phone numbers', () => {
  it('normalises mainland mobiles and E.164, refuses the rest', () => {
    assert.equal(normalisePhoneNumber('13800138000'), '+8613800138000');
    assert.equal(normalisePhoneNumber('138 0013 8000'), '+8613800138000');
    assert.equal(normalisePhoneNumber('+86-138-0013-8000'), '+8613800138000');
    assert.equal(normalisePhoneNumber('8613800138000'), '+8613800138000');
    assert.equal(normalisePhoneNumber('+85291234567'), '+85291234567');
    for (const bad of [
      '12800138000',
      '1380013800',
      '+8602188888888',
      '021-88888888',
      'abc',
      '',
      '+0123456789',
    ])
      assert.equal(normalisePhoneNumber(bad), undefined, bad);
  });
});
