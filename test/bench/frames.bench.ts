/**
 * Decode throughput of the wireless frame codecs and of the whole FrameReceiver path
 * (bytes → frames → readings) over a MemoryLink-free direct feed.
 *
 * Target: 50 000 frames/s per codec on the decoder alone, 20 000 frames/s through the receiver
 * (readings included). A 433 MHz / LoRa concentrator at 115200 baud delivers at most ~500
 * frames/s, so the targets leave two orders of magnitude for the slower CPUs of gateway boxes.
 */
import { performance } from 'node:perf_hooks';
import {
  createFrameDecoder,
  encodeAsciiFrame,
  encodeBinaryFrame,
  FrameReceiver,
} from '../../drivers/frames/index.js';
import type { Link } from '../../drivers/link/types.js';
import { report } from './report.js';

const FRAMES = 200_000;

function stream(codec: 'ascii' | 'binary'): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const detector = i % 1000;
    parts.push(
      codec === 'ascii'
        ? encodeAsciiFrame({
            host: 1,
            channel: 2,
            detector,
            state: i % 2,
            battery: 80,
            rssi: -70,
            value: i % 900,
          })
        : encodeBinaryFrame({
            detector,
            detectorType: 4,
            state: i % 2,
            battery: 80,
            rssi: -70,
            value: i % 900,
          }),
    );
    if (i % 10 === 0) parts.push(Buffer.from([0x00, 0x13, 0x37])); // some line noise
  }
  return Buffer.concat(parts);
}

/** Feeds `data` in 256-byte chunks, as a serial port would deliver it. */
function feed(data: Buffer, push: (chunk: Buffer) => void): number {
  const start = performance.now();
  for (let at = 0; at < data.length; at += 256) push(data.subarray(at, at + 256));
  return (performance.now() - start) / 1000;
}

/** A Link whose bytes the benchmark pushes straight into the receiver's data listener. */
function directLink(): Link & { emit(chunk: Buffer): void } {
  const listeners = new Set<(chunk: Buffer) => void>();
  let open = false;
  return {
    name: 'bench',
    get isOpen() {
      return open;
    },
    async open() {
      open = true;
    },
    async close() {
      open = false;
    },
    async write() {},
    onData(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onClose() {
      return () => {};
    },
    emit(chunk) {
      for (const listener of listeners) listener(chunk);
    },
  };
}

for (const codec of ['ascii', 'binary'] as const) {
  const data = stream(codec);
  const decoder = createFrameDecoder(codec);
  let decoded = 0;
  const seconds = feed(data, (chunk) => {
    decoded += decoder.push(chunk).length;
  });
  if (decoded !== FRAMES) throw new Error(`${codec}: decoded ${decoded} of ${FRAMES}`);
  report({
    name: `${codec} decoder throughput`,
    value: Math.round(FRAMES / seconds),
    unit: 'frames/s',
    target: 50_000,
    comparator: '>=',
    note: `${(data.length / 1e6 / seconds).toFixed(1)} MB/s, 256-byte chunks, noise every 10 frames`,
  });

  const link = directLink();
  const receiver = new FrameReceiver({
    link,
    codec,
    detectors: Array.from({ length: 1000 }, (_, i) => ({
      detector: i,
      device: `mh-${i}`,
      profile: 'manhole-cover',
    })),
  });
  await receiver.start();
  let readings = 0;
  receiver.onReadings((event) => {
    readings += event.readings.length;
  });
  const receiverSeconds = feed(data, (chunk) => link.emit(chunk));
  await receiver.stop();
  if (receiver.stats().frames !== FRAMES)
    throw new Error(`${codec}: receiver saw ${receiver.stats().frames}`);
  report({
    name: `${codec} FrameReceiver throughput`,
    value: Math.round(FRAMES / receiverSeconds),
    unit: 'frames/s',
    target: 20_000,
    comparator: '>=',
    note: `${readings} readings, 1000 bound detectors`,
  });
}
