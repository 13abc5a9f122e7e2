import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AsciiFrame,
  type BinaryFrame,
  createFrameDecoder,
  encodeAsciiFrame,
  encodeBinaryFrame,
  type FrameCodec,
  type FrameDecoder,
  type WirelessFrame,
} from '../../../drivers/frames/index.js';
import { randomBytes, randomInt, seededRandom } from './prng.js';

/**
 * Valid frames mixed with random bytes, cut into random chunks (and, for a short stream, at every
 * possible boundary): every valid frame must come out exactly once, in order, and every byte
 * that is not part of a decoded frame must be accounted for by a discard counter.
 */

function randomFrame(codec: FrameCodec, random: () => number, index: number): WirelessFrame {
  const base = {
    detector: index, // unique per frame so "exactly once" is checkable
    state: randomInt(random, 0, 255),
    battery: randomInt(random, 0, 100),
    rssi: randomInt(random, -120, 0),
    ...(random() < 0.5 ? { value: randomInt(random, -32768, 32767) } : {}),
  };
  return codec === 'ascii'
    ? { format: 'ascii', host: randomInt(random, 0, 99), channel: randomInt(random, 0, 15), ...base }
    : { format: 'binary', detectorType: randomInt(random, 1, 4), ...base };
}

function encode(frame: WirelessFrame): Buffer {
  const { format: _, ...fields } = frame;
  return frame.format === 'ascii'
    ? encodeAsciiFrame(fields as Omit<AsciiFrame, 'format'>)
    : encodeBinaryFrame(fields as Omit<BinaryFrame, 'format'>);
}

/** Garbage that looks like frames too: random bytes, start bytes, torn and corrupted frames. */
function garbage(codec: FrameCodec, random: () => number): Buffer {
  const pick = random();
  if (pick < 0.5) return randomBytes(random, randomInt(random, 0, 40));
  const decoy = encode(randomFrame(codec, random, 60000));
  if (pick < 0.7) return decoy.subarray(0, randomInt(random, 1, decoy.length - 1)); // torn
  if (pick < 0.9) {
    const corrupted = Buffer.from(decoy);
    const at = randomInt(random, 1, corrupted.length - 3);
    corrupted[at] = (corrupted[at]! + randomInt(random, 1, 255)) & 0xff;
    return corrupted;
  }
  return Buffer.from(codec === 'ascii' ? '$$$$\r\n' : [0xa5, 0xa5, 0xa5]);
}

function buildStream(codec: FrameCodec, seed: number, count: number) {
  const random = seededRandom(seed);
  const frames: WirelessFrame[] = [];
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(garbage(codec, random));
    const frame = randomFrame(codec, random, i);
    frames.push(frame);
    parts.push(encode(frame));
  }
  parts.push(garbage(codec, random));
  return { frames, stream: Buffer.concat(parts), random };
}

function decodeInChunks(decoder: FrameDecoder, stream: Buffer, cuts: number[]): WirelessFrame[] {
  const out: WirelessFrame[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    out.push(...decoder.push(stream.subarray(from, cut)));
    from = cut;
  }
  out.push(...decoder.flush());
  return out;
}

function checkExactlyOnce(expected: WirelessFrame[], decoded: WirelessFrame[]): void {
  const real = decoded.filter((f) => f.detector !== 60000);
  assert.equal(real.length, expected.length, 'every valid frame exactly once');
  assert.deepEqual(real, expected);
}

for (const codec of ['ascii', 'binary'] as const) {
  describe(`${codec} decoder on garbage-laden streams`, () => {
    it('decodes every valid frame exactly once across random chunk sizes (3 seeds)', () => {
      for (const seed of [1, 2, 3]) {
        const { frames, stream, random } = buildStream(codec, seed, 400);
        const cuts: number[] = [];
        for (let at = randomInt(random, 1, 64); at < stream.length; at += randomInt(random, 1, 64))
          cuts.push(at);
        const decoder = createFrameDecoder(codec);
        const decoded = decodeInChunks(decoder, stream, cuts);
        checkExactlyOnce(frames, decoded);
        const stats = decoder.stats();
        assert.equal(stats.frames, decoded.length);
        assert.ok(stats.garbageBytes > 0 && stats.checksum > 0 && stats.syntax > 0, JSON.stringify(stats));
        assert.equal(decoder.bufferedBytes, 0);
      }
    });

    it('decodes the same result whatever the boundary of a two-chunk split', () => {
      const { frames, stream } = buildStream(codec, 7, 12);
      const whole = createFrameDecoder(codec);
      const reference = decodeInChunks(whole, stream, []);
      checkExactlyOnce(frames, reference);
      for (let cut = 1; cut < stream.length; cut++) {
        const decoder = createFrameDecoder(codec);
        assert.deepEqual(decodeInChunks(decoder, stream, [cut]), reference, `cut at ${cut}`);
        assert.deepEqual(decoder.stats(), whole.stats(), `stats with cut at ${cut}`);
      }
    });

    it('decodes byte by byte', () => {
      const { frames, stream } = buildStream(codec, 11, 50);
      const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
      checkExactlyOnce(frames, decodeInChunks(createFrameDecoder(codec), stream, cuts));
    });
  });
}
