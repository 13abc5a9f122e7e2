import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialPort } from 'serialport';
import {
  encodeAsciiFrame,
  encodeBinaryFrame,
  type FrameReadings,
  FrameReceiver,
} from '../../../drivers/frames/index.js';
import { SerialLink } from '../../../drivers/link/serial.js';
import { openPtyPair, type PtyPair } from '../../support/pty.js';
import { randomBytes, seededRandom } from './prng.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

async function openWriter(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 9600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  cleanups.push(
    () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  );
  return port;
}

function write(port: SerialPort, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    port.write(data, (error) => (error ? reject(error) : port.drain((e) => (e ? reject(e) : resolve())))),
  );
}

/** Resolves once `count` events arrived; rejects (failing the test) if they do not within 5 s. */
function collect(receiver: FrameReceiver, count: number): Promise<FrameReadings[]> {
  const events: FrameReadings[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(`only ${events.length} of ${count} frames arrived: ${JSON.stringify(receiver.stats())}`),
        ),
      5000,
    );
    receiver.onReadings((event) => {
      events.push(event);
      if (events.length === count) {
        clearTimeout(timer);
        resolve(events);
      }
    });
  });
}

const DETECTORS = [
  { detector: 42, device: 'smoke-2f-01', profile: 'wireless-smoke' },
  { detector: 258, device: 'manhole-07', profile: 'manhole-cover' },
];

describe('frame receivers over a real pty pair (socat)', () => {
  for (const codec of ['ascii', 'binary'] as const) {
    it(`${codec}: frames mixed with garbage written by serialport arrive as readings`, async () => {
      const pty: PtyPair = await openPtyPair();
      cleanups.push(() => pty.close());
      const receiver = new FrameReceiver({
        link: new SerialLink({ path: pty.a, baudRate: 9600 }),
        codec,
        detectors: DETECTORS,
      });
      cleanups.push(() => receiver.stop());
      await receiver.start();
      const arrived = collect(receiver, 3);

      const frames =
        codec === 'ascii'
          ? [
              encodeAsciiFrame({ host: 1, channel: 2, detector: 42, state: 1, battery: 90, rssi: -65 }),
              encodeAsciiFrame({
                host: 1,
                channel: 2,
                detector: 258,
                state: 1,
                battery: 15,
                rssi: -90,
                value: 153,
              }),
              encodeAsciiFrame({ host: 1, channel: 2, detector: 42, state: 0, battery: 90, rssi: -66 }),
            ]
          : [
              encodeBinaryFrame({ detector: 42, detectorType: 1, state: 1, battery: 90, rssi: -65 }),
              encodeBinaryFrame({
                detector: 258,
                detectorType: 4,
                state: 1,
                battery: 15,
                rssi: -90,
                value: 153,
              }),
              encodeBinaryFrame({ detector: 42, detectorType: 1, state: 0, battery: 90, rssi: -66 }),
            ];
      const writer = await openWriter(pty.b);
      const random = seededRandom(99);
      const stream = Buffer.concat(frames.flatMap((frame) => [randomBytes(random, 17), frame]));
      // Written in uneven pieces with pauses, so frames are split across reads on the receiving side.
      for (let at = 0; at < stream.length; at += 7) {
        await write(writer, stream.subarray(at, at + 7));
        if (at % 21 === 0) await sleep(2);
      }

      const events = await arrived;
      assert.deepEqual(
        events.map((e) => e.device),
        ['smoke-2f-01', 'manhole-07', 'smoke-2f-01'],
      );
      const point = (e: FrameReadings, name: string) => e.readings.find((r) => r.point === name)?.value;
      assert.equal(point(events[0]!, 'smoke'), true);
      assert.equal(point(events[1]!, 'tilt'), 15.3);
      assert.equal(point(events[1]!, 'battery_low'), true);
      assert.equal(point(events[2]!, 'smoke'), false);
      assert.ok(receiver.stats().discards.garbageBytes > 0);
    });
  }
});
