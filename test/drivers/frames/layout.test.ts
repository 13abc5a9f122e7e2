import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SerialPort } from 'serialport';
import {
  AsciiFrameDecoder,
  BinaryFrameDecoder,
  encodeAsciiFrame,
  type FrameReadings,
  FrameReceiver,
} from '../../../drivers/frames/index.js';
import { AsciiLayout, BinaryLayout, checksumOf, crc16Ccitt } from '../../../drivers/frames/layout.js';
import { SerialLink } from '../../../drivers/link/serial.js';
import { checkProfileDocument, loadProfileFile } from '../../../drivers/profiles/file.js';
import { openPtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';
import { randomBytes, randomInt, seededRandom } from './prng.js';

/**
 * Frame layouts declared in a profile file: the receiver of issue 14 sends
 * `$001,1,D017,1,87*CS\r\n` — receiver, channel, an alphanumeric detector id, state, battery —
 * which the fixed doorstep layout rejected (0 of 1 219 frames decoded).
 */
const PROFILE = `type: frame
id: receiver-d-smoke
version: 1
description: Wireless smoke alarms behind a receiver with alphanumeric detector ids
source: receiver protocol sheet, "serial output" section
kind: smoke
detectorType: 33
hasTamper: false
layout:
  codec: ascii
  start: "$"
  end: "\\r\\n"
  separator: ","
  checksum: { kind: sum8, mark: "*" }
  fields:
    - { name: receiver, type: uint }
    - { name: channel, type: uint }
    - { name: detector, type: alnum }
    - { name: state, type: uint }
    - { name: battery, type: uint }
points:
  smoke: {}
  fault: { name: Fault, valueType: boolean, priority: normal }
states:
  "0": { label: normal, set: { smoke: false, fault: false } }
  "1": { label: fire alarm, set: { smoke: true, fault: false } }
  "2": { label: fault, set: { smoke: false, fault: true }, bad: [smoke] }
`;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function loadLayoutProfile() {
  const dir = tempDir('doorstep-layout-');
  cleanups.push(() => dir.dispose());
  const file = join(dir.path, 'receiver-d-smoke.yaml');
  writeFileSync(file, PROFILE);
  const loaded = loadProfileFile(file);
  assert.equal(loaded.type, 'frame');
  if (loaded.type !== 'frame' || loaded.layout?.codec !== 'ascii')
    throw new Error('not an ascii frame profile');
  return { profile: loaded.profile, layout: loaded.layout };
}

describe('declared frame layouts', () => {
  it('checksums: byte sum, XOR, CRC-16/MODBUS and CRC-16/CCITT check values', () => {
    const check = Buffer.from('123456789', 'latin1');
    assert.equal(checksumOf('sum8', check), 0xdd);
    assert.equal(checksumOf('xor8', check), 0x31);
    assert.equal(checksumOf('crc16-modbus', check), 0x4b37); // CRC-16/MODBUS check value
    assert.equal(crc16Ccitt(check), 0x29b1); // CRC-16/CCITT-FALSE check value
  });

  it('decodes the issue frame with its alphanumeric id, in every checksum kind', () => {
    const { layout } = loadLayoutProfile();
    const frame = encodeAsciiFrame(
      { receiver: 1, channel: 1, detector: 'D017', state: 1, battery: 87 },
      layout,
    );
    // sum(b"1,1,D017,1,87") mod 256, worked out by hand: 0x8E
    assert.equal(frame.toString('latin1'), '$1,1,D017,1,87*8E\r\n');
    const decoder = new AsciiFrameDecoder({ layout });
    assert.deepEqual(decoder.push(Buffer.from('$001,1,D017,1,87*EE\r\n', 'latin1')), [
      { format: 'ascii', channel: 1, detector: 'D017', state: 1, battery: 87, fields: { receiver: 1 } },
    ]);
    for (const kind of ['xor8', 'crc16-modbus', 'crc16-ccitt', 'none'] as const) {
      const other = AsciiLayout.parse({ ...layout, checksum: { kind, mark: '*' } });
      const bytes = encodeAsciiFrame(
        { receiver: 1, channel: 1, detector: 'D017', state: 1, battery: 87 },
        other,
      );
      const d = new AsciiFrameDecoder({ layout: other });
      assert.equal(d.push(bytes)[0]?.detector, 'D017', `${kind}: ${bytes.toString('latin1')}`);
      const corrupted = Buffer.from(bytes);
      corrupted[5] = 0x39; // '1' → '9' in the channel/detector area
      assert.equal(d.push(corrupted).length, kind === 'none' ? 1 : 0, kind);
    }
  });

  it('a binary layout with little-endian fields and CRC-16/CCITT sent high byte first', () => {
    const layout = BinaryLayout.parse({
      codec: 'binary',
      start: [0x55, 0xaa],
      header: 3,
      length: { offset: 2, allowed: [5] },
      fields: [
        { name: 'detector', offset: 3, type: 'uint32', endian: 'little' },
        { name: 'state', offset: 7, type: 'uint8' },
      ],
      crc: { kind: 'crc16-ccitt', from: 2, endian: 'big' },
    });
    const body = Buffer.from([0x55, 0xaa, 0x05, 0x78, 0x56, 0x34, 0x12, 0x01]);
    const crc = Buffer.alloc(2);
    crc.writeUInt16BE(crc16Ccitt(body, 2));
    const decoder = new BinaryFrameDecoder({ layout });
    const frames = decoder.push(Buffer.concat([Buffer.from([0x55, 0x00, 0x13]), body, crc]));
    assert.deepEqual(frames, [{ format: 'binary', detector: 0x12345678, state: 1 }]);
    assert.equal(decoder.stats().garbageBytes, 3);
  });

  it('reports every problem of a bad layout with its path', () => {
    const { issues } = checkProfileDocument({
      type: 'frame',
      id: 'bad-layout',
      description: 'x',
      kind: 'smoke',
      detectorType: 9,
      hasTamper: false,
      layout: {
        codec: 'ascii',
        separator: '$',
        fields: [
          { name: 'detector', type: 'int' },
          { name: 'battery', type: 'uint', optional: true },
          { name: 'state', type: 'uint' },
        ],
      },
      points: { smoke: {} },
      states: { '0': { label: 'normal', set: { smoke: false } } },
    });
    const paths = issues.map((i) => `${i.path}: ${i.message}`);
    for (const expected of ['layout.fields[0].type', 'layout.fields[2].optional', 'layout.separator'])
      assert.ok(
        paths.some((p) => p.startsWith(`${expected}:`)),
        `missing ${expected} in\n${paths.join('\n')}`,
      );
  });

  it('1 219 valid frames with garbage between them over a real pty: every one decoded', async () => {
    const { profile, layout } = loadLayoutProfile();
    const ids = Array.from({ length: 20 }, (_, i) => `D${String(i + 1).padStart(3, '0')}`);
    const pty = await openPtyPair();
    cleanups.push(() => pty.close());
    const receiver = new FrameReceiver({
      link: new SerialLink({ path: pty.a, baudRate: 9600 }),
      codec: 'ascii',
      layout,
      profiles: { [profile.id]: profile },
      detectors: ids.map((detector, i) => ({ detector, device: `smoke-${i + 1}`, profile: profile.id })),
    });
    cleanups.push(() => receiver.stop());
    const events: FrameReadings[] = [];
    receiver.onReadings((e) => events.push(e));
    await receiver.start();

    const random = seededRandom(14);
    const last = new Map<string, number>();
    const parts: Buffer[] = [];
    const VALID = 1219;
    let corrupted = 0;
    for (let n = 0; n < VALID; n++) {
      const detector = ids[randomInt(random, 0, ids.length - 1)]!;
      const state = randomInt(random, 0, 2);
      last.set(detector, state);
      // Receivers zero-pad their own id: "001".
      const text = encodeAsciiFrame(
        {
          receiver: 1,
          channel: randomInt(random, 1, 8),
          detector,
          state,
          battery: randomInt(random, 20, 100),
        },
        layout,
      )
        .toString('latin1')
        .replace(/^\$1,/, '$001,');
      const fixed = Buffer.from(text, 'latin1');
      // The zero padding changes the byte sum by 2 × '0' (0x60).
      const star = fixed.indexOf(0x2a);
      const sum = checksumOf('sum8', fixed, 1, star);
      fixed.write(sum.toString(16).toUpperCase().padStart(2, '0'), star + 1, 'latin1');
      parts.push(fixed);
      // Garbage between frames: noise without a start mark, and now and then a corrupted frame.
      const noise = randomBytes(random, randomInt(random, 0, 12));
      for (let i = 0; i < noise.length; i++) if (noise[i] === 0x24) noise[i] = 0x23;
      parts.push(noise);
      if (random() < 0.05) {
        const bad = Buffer.from(fixed);
        bad[star - 1] = bad[star - 1] === 0x37 ? 0x38 : 0x37;
        parts.push(bad);
        corrupted++;
      }
    }
    // Receivers send each frame in one burst: chunks of about 1 kB, never splitting a frame (a
    // frame torn across a pause longer than the idle flush is given up, README "Idle flush").
    const chunks: Buffer[] = [];
    for (let i = 0; i < parts.length; i += 40) chunks.push(Buffer.concat(parts.slice(i, i + 40)));
    const writer = new SerialPort({ path: pty.b, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => writer.open((e) => (e ? reject(e) : resolve())));
    cleanups.push(
      () => new Promise<void>((resolve) => (writer.isOpen ? writer.close(() => resolve()) : resolve())),
    );
    for (const chunk of chunks) {
      await new Promise<void>((resolve, reject) =>
        writer.write(chunk, (e) => (e ? reject(e) : writer.drain((d) => (d ? reject(d) : resolve())))),
      );
    }
    const deadline = Date.now() + 60_000;
    while (events.length < VALID && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const stats = receiver.stats();
    assert.equal(events.length, VALID, JSON.stringify(stats));
    assert.equal(stats.unknownDetectors, 0);
    assert.ok(stats.discards.checksum >= corrupted, JSON.stringify(stats.discards));
    assert.ok(stats.discards.garbageBytes > 0);
    // The last state each detector reported is what its device shows.
    for (const [detector, state] of last) {
      const device = `smoke-${ids.indexOf(detector) + 1}`;
      const final = events.filter((e) => e.device === device).at(-1)!;
      const smoke = final.readings.find((r) => r.point === 'smoke')!;
      assert.equal(smoke.value, state === 1, `${detector}`);
      assert.equal(smoke.quality, state === 2 ? 'bad' : 'good');
    }
  });
});
