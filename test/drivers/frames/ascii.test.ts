import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ASCII_DEFAULT_MAX_FRAME_BYTES,
  AsciiFrameDecoder,
  asciiChecksum,
  type Discard,
  encodeAsciiFrame,
} from '../../../drivers/frames/index.js';
import { isDoorstepError } from '../../../protocol/errors.js';

const latin1 = (text: string) => Buffer.from(text, 'latin1');

describe('ASCII frame codec', () => {
  it('encodes the documented layout with an upper-case byte-sum checksum', () => {
    // Checksum worked out independently: sum(b"1,3,1024,1,87,-71") % 256 = 0x3C.
    const bytes = encodeAsciiFrame({ host: 1, channel: 3, detector: 1024, state: 1, battery: 87, rssi: -71 });
    assert.equal(bytes.toString('latin1'), '$1,3,1024,1,87,-71*3C\r\n');
    const withValue = encodeAsciiFrame({
      host: 7,
      channel: 2,
      detector: 300,
      state: 1,
      battery: 15,
      rssi: -88,
      value: 153,
    });
    assert.equal(withValue.toString('latin1'), '$7,2,300,1,15,-88,153*D1\r\n');
  });

  it('refuses to encode fields outside their range', () => {
    assert.throws(
      () => encodeAsciiFrame({ host: 1, channel: 1, detector: 1, state: 256, battery: 1, rssi: 0 }),
      RangeError,
    );
    assert.throws(
      () => encodeAsciiFrame({ host: 1.5, channel: 1, detector: 1, state: 0, battery: 1, rssi: 0 }),
      RangeError,
    );
  });

  it('decodes a frame and accepts a lower-case checksum', () => {
    const decoder = new AsciiFrameDecoder();
    const frames = decoder.push(latin1('$7,2,300,1,15,-88,153*d1\r\n$1,3,1024,1,87,-71*3C\r\n'));
    assert.deepEqual(frames, [
      { format: 'ascii', host: 7, channel: 2, detector: 300, state: 1, battery: 15, rssi: -88, value: 153 },
      { format: 'ascii', host: 1, channel: 3, detector: 1024, state: 1, battery: 87, rssi: -71 },
    ]);
    assert.deepEqual(decoder.stats(), { frames: 2, garbageBytes: 0, checksum: 0, syntax: 0, overflow: 0 });
  });

  it('decodes a frame split at every byte boundary', () => {
    const bytes = encodeAsciiFrame({
      host: 12,
      channel: 4,
      detector: 99,
      state: 0,
      battery: 100,
      rssi: -40,
      value: -5,
    });
    for (let cut = 1; cut < bytes.length; cut++) {
      const decoder = new AsciiFrameDecoder();
      const frames = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      assert.equal(frames.length, 1, `cut at ${cut}`);
      assert.equal(frames[0]!.value, -5);
    }
  });

  it('discards a bad checksum with DRV_ERR_FRAME_CHECKSUM and keeps going', () => {
    const decoder = new AsciiFrameDecoder({ link: 'serial:/dev/ttyS1' });
    const discards: Discard[] = [];
    decoder.onDiscard((d) => discards.push(d));
    const frames = decoder.push(latin1('$1,3,1024,1,87,-71*3D\r\n$1,3,1024,1,87,-71*3C\r\n'));
    assert.equal(frames.length, 1);
    assert.equal(decoder.stats().checksum, 1);
    assert.equal(discards.length, 1);
    assert.ok(isDoorstepError(discards[0]!.error, 'DRV_ERR_FRAME_CHECKSUM'));
    assert.match(discards[0]!.error.message, /serial:\/dev\/ttyS1.*checksum 3D, expected 3C/);
  });

  it('discards syntax errors with DRV_ERR_FRAME_SYNTAX: field count, non-numbers, missing CR, interrupted frames', () => {
    const body = (text: string) =>
      `$${text}*${asciiChecksum(latin1(text)).toString(16).padStart(2, '0')}\r\n`;
    const decoder = new AsciiFrameDecoder();
    const reasons: string[] = [];
    decoder.onDiscard((d) => {
      assert.ok(isDoorstepError(d.error, 'DRV_ERR_FRAME_SYNTAX'));
      reasons.push(String(d.error.details.reason));
    });
    const input = [
      body('1,2,3,4,5'), // five fields
      body('1,2,x3,4,5,6'), // not an integer
      body('1,2,3,999,5,6'), // state above 255
      '$1,3,1024,1,87,-71*3C\n', // LF without CR
      '$1,3,10', // torn by the next `$`
      '$1,3,1024,1,87,-71*3C\r\n',
    ].join('');
    const frames = decoder.push(latin1(input));
    assert.equal(frames.length, 1);
    assert.equal(decoder.stats().syntax, 5);
    assert.equal(reasons.length, 5);
    assert.match(reasons[0]!, /5 field/);
    assert.match(reasons[1]!, /detector/);
    assert.match(reasons[2]!, /state 999 is out of range/);
    assert.match(reasons[4]!, /interrupted/);
  });

  it('counts garbage bytes outside frames as one discard per run', () => {
    const decoder = new AsciiFrameDecoder();
    const discards: Discard[] = [];
    decoder.onDiscard((d) => discards.push(d));
    const frames = decoder.push(latin1('noise\r\n$1,3,1024,1,87,-71*3C\r\nxyz'));
    assert.equal(frames.length, 1);
    assert.equal(decoder.stats().garbageBytes, 10);
    assert.deepEqual(
      discards.map((d) => [d.reason, d.bytes]),
      [
        ['garbage', 7],
        ['garbage', 3],
      ],
    );
  });

  it('stays bounded on 1 MB without a line end, then decodes the next frame', () => {
    const decoder = new AsciiFrameDecoder();
    const megabyte = Buffer.alloc(1024 * 1024, 0x41);
    megabyte[0] = 0x24; // one `$` at the start, then never a line end
    let maxHeld = 0;
    for (let offset = 0; offset < megabyte.length; offset += 4096) {
      assert.deepEqual(decoder.push(megabyte.subarray(offset, offset + 4096)), []);
      maxHeld = Math.max(maxHeld, decoder.bufferedBytes);
    }
    assert.ok(maxHeld <= ASCII_DEFAULT_MAX_FRAME_BYTES, `held ${maxHeld} bytes`);
    const stats = decoder.stats();
    assert.equal(stats.overflow, 1);
    assert.equal(stats.garbageBytes, megabyte.length - ASCII_DEFAULT_MAX_FRAME_BYTES - 1);
    assert.equal(decoder.push(latin1('$1,3,1024,1,87,-71*3C\r\n')).length, 1);
  });

  it('gives up a partial frame on flush (link idle) and on reset', () => {
    const decoder = new AsciiFrameDecoder();
    decoder.push(latin1('$1,3,1024'));
    assert.equal(decoder.bufferedBytes, 9);
    assert.deepEqual(decoder.flush(), []);
    assert.equal(decoder.bufferedBytes, 0);
    assert.equal(decoder.stats().syntax, 1);
    decoder.push(latin1('$1,3,1024'));
    decoder.reset();
    assert.deepEqual(decoder.push(latin1(',1,87,-71*3C\r\n')), []);
  });
});
