import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BINARY_MAX_FRAME_BYTES,
  BinaryFrameDecoder,
  type Discard,
  encodeBinaryFrame,
} from '../../../drivers/frames/index.js';
import { isDoorstepError } from '../../../protocol/errors.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// Golden frames; CRC-16/MODBUS worked out independently (bitwise, in Python).
const MANHOLE_TILT = hex('a5 0102 06 04 01 0f a6 0099 ffa0'); // addr 0x0102, tilt 15.3°, battery 15 %, -90 dBm
const SMOKE_FIRE = hex('a5 002a 04 01 81 55 b5 4239'); // addr 42, smoke, fire + low-battery flag, 85 %, -75 dBm

describe('binary frame codec', () => {
  it('encodes the documented layout with CRC-16/MODBUS low byte first', () => {
    assert.deepEqual(
      encodeBinaryFrame({ detector: 0x0102, detectorType: 4, state: 1, battery: 15, rssi: -90, value: 153 }),
      MANHOLE_TILT,
    );
    assert.deepEqual(
      encodeBinaryFrame({ detector: 42, detectorType: 1, state: 0x81, battery: 85, rssi: -75 }),
      SMOKE_FIRE,
    );
  });

  it('refuses to encode fields outside their wire range', () => {
    assert.throws(
      () => encodeBinaryFrame({ detector: 0x10000, detectorType: 1, state: 0, battery: 0, rssi: 0 }),
      RangeError,
    );
    assert.throws(
      () => encodeBinaryFrame({ detector: 1, detectorType: 1, state: 0, battery: 0, rssi: 0, value: 40000 }),
      RangeError,
    );
  });

  it('decodes both payload lengths', () => {
    const decoder = new BinaryFrameDecoder();
    assert.deepEqual(decoder.push(Buffer.concat([MANHOLE_TILT, SMOKE_FIRE])), [
      { format: 'binary', detector: 0x0102, detectorType: 4, state: 1, battery: 15, rssi: -90, value: 153 },
      { format: 'binary', detector: 42, detectorType: 1, state: 0x81, battery: 85, rssi: -75 },
    ]);
  });

  it('decodes a frame split at every byte boundary', () => {
    for (let cut = 1; cut < MANHOLE_TILT.length; cut++) {
      const decoder = new BinaryFrameDecoder();
      const frames = [
        ...decoder.push(MANHOLE_TILT.subarray(0, cut)),
        ...decoder.push(MANHOLE_TILT.subarray(cut)),
      ];
      assert.equal(frames.length, 1, `cut at ${cut}`);
    }
  });

  it('on a bad CRC resumes one byte after the false start and finds the frame inside it', () => {
    // A false start whose "frame" swallows the start of a real one: A5 00 01 04 | A5 00 2a 04 …
    const decoder = new BinaryFrameDecoder({ link: 'serial:/dev/ttyUSB0' });
    const discards: Discard[] = [];
    decoder.onDiscard((d) => discards.push(d));
    const frames = decoder.push(Buffer.concat([hex('a5 0001 04'), SMOKE_FIRE]));
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.detector, 42);
    const stats = decoder.stats();
    assert.equal(stats.checksum, 1);
    assert.equal(stats.garbageBytes, 3);
    const checksum = discards.find((d) => d.reason === 'checksum');
    assert.ok(checksum && isDoorstepError(checksum.error, 'DRV_ERR_FRAME_CHECKSUM'));
    assert.match(checksum.error.message, /serial:\/dev\/ttyUSB0/);
  });

  it('discards a corrupted frame and decodes the next', () => {
    const corrupted = Buffer.from(SMOKE_FIRE);
    corrupted[6] = 0x54; // battery byte flipped by noise
    const decoder = new BinaryFrameDecoder();
    const frames = decoder.push(Buffer.concat([corrupted, MANHOLE_TILT]));
    assert.deepEqual(
      frames.map((f) => f.detector),
      [0x0102],
    );
    assert.equal(decoder.stats().checksum, 1);
  });

  it('rejects an impossible length at once instead of waiting for its payload', () => {
    // Length 200 would hold the fire alarm behind it until 200 more bytes arrived.
    const decoder = new BinaryFrameDecoder();
    const discards: Discard[] = [];
    decoder.onDiscard((d) => discards.push(d));
    const frames = decoder.push(Buffer.concat([hex('a5 0001 c8'), SMOKE_FIRE, hex('a5 0001 05')]));
    assert.equal(frames.length, 1);
    const stats = decoder.stats();
    assert.equal(stats.overflow, 1);
    assert.equal(stats.syntax, 1); // length 5 is in the cap but not the doorstep layout
    assert.ok(
      discards
        .filter((d) => d.reason !== 'garbage')
        .every((d) => isDoorstepError(d.error, 'DRV_ERR_FRAME_SYNTAX')),
    );
  });

  it('holds at most one frame of bytes and flushes a false start when the link falls idle', () => {
    // 0xA5 right before a frame whose address low byte is 6: the false start claims 12 bytes
    // and the real frame has only 10 after it, so the frame waits — until the idle flush.
    const frame = encodeBinaryFrame({ detector: 0x0006, detectorType: 2, state: 1, battery: 90, rssi: -60 });
    const decoder = new BinaryFrameDecoder();
    assert.deepEqual(decoder.push(Buffer.concat([hex('a5'), frame])), []);
    assert.ok(decoder.bufferedBytes <= BINARY_MAX_FRAME_BYTES);
    const flushed = decoder.flush();
    assert.deepEqual(
      flushed.map((f) => f.detector),
      [6],
    );
    assert.equal(decoder.bufferedBytes, 0);
    assert.equal(decoder.stats().syntax, 1);
  });

  it('keeps memory bounded on a long stream of start bytes', () => {
    const decoder = new BinaryFrameDecoder();
    for (let i = 0; i < 1000; i++) {
      decoder.push(Buffer.alloc(1024, 0xa5));
      assert.ok(decoder.bufferedBytes <= BINARY_MAX_FRAME_BYTES);
    }
    assert.ok(decoder.stats().overflow > 0);
  });
});
