import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import {
  encodeAsciiFrame,
  encodeBinaryFrame,
  type FrameReadings,
  FrameReceiver,
  type FrameReceiverOptions,
} from '../../../drivers/frames/index.js';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { type DoorstepError, isDoorstepError } from '../../../protocol/index.js';

/** Timers driven by the test, so the idle flush happens when the test says. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  let next = 1;
  return {
    setTimeout: (callback: () => void) => {
      pending.set(next, callback);
      return next++;
    },
    clearTimeout: (handle: unknown) => pending.delete(handle as number),
    fireAll: () => {
      const callbacks = [...pending.values()];
      pending.clear();
      for (const callback of callbacks) callback();
    },
    get size() {
      return pending.size;
    },
  };
}

const started: FrameReceiver[] = [];
after(async () => {
  for (const receiver of started) await receiver.stop();
});

async function setup(options: Partial<FrameReceiverOptions> & Pick<FrameReceiverOptions, 'codec'>) {
  const [gateway, radio] = MemoryLink.pair('radio');
  let now = 1000;
  const receiver = new FrameReceiver({
    link: gateway,
    detectors: [
      { detector: 42, device: 'smoke-2f-01', profile: 'wireless-smoke' },
      { detector: 7, device: 'door-b1', profile: 'wireless-door' },
    ],
    clock: () => now,
    ...options,
  });
  const events: FrameReadings[] = [];
  const issues: DoorstepError[] = [];
  receiver.onReadings((e) => events.push(e));
  receiver.onIssue((e) => issues.push(e));
  await radio.open();
  await receiver.start();
  started.push(receiver);
  return {
    receiver,
    radio,
    gateway,
    events,
    issues,
    setNow: (ms: number) => {
      now = ms;
    },
  };
}

describe('FrameReceiver', () => {
  it('turns ASCII frames into readings and tracks last-seen per device', async () => {
    const { receiver, radio, events, setNow } = await setup({ codec: 'ascii' });
    await radio.write(
      encodeAsciiFrame({ host: 1, channel: 1, detector: 42, state: 1, battery: 80, rssi: -70 }),
    );
    await tick();
    setNow(2500);
    await radio.write(
      encodeAsciiFrame({ host: 1, channel: 1, detector: 7, state: 1, battery: 80, rssi: -70 }),
    );
    await tick();
    assert.deepEqual(
      events.map((e) => e.device),
      ['smoke-2f-01', 'door-b1'],
    );
    const smoke = events[0]!.readings.find((r) => r.point === 'smoke');
    assert.deepEqual(smoke, {
      device: 'smoke-2f-01',
      point: 'smoke',
      value: true,
      unit: '',
      quality: 'good',
      ts: 1000,
    });
    assert.deepEqual(
      [...receiver.lastSeen()],
      [
        ['smoke-2f-01', 1000],
        ['door-b1', 2500],
      ],
    );
    assert.equal(receiver.stats().frames, 2);
    assert.equal(
      receiver.stats().readings,
      events.reduce((n, e) => n + e.readings.length, 0),
    );
  });

  it('counts unknown detectors and type mismatches without crashing, and reports them', async () => {
    const { receiver, radio, events, issues } = await setup({ codec: 'binary' });
    await radio.write(
      encodeBinaryFrame({ detector: 999, detectorType: 1, state: 1, battery: 80, rssi: -70 }),
    );
    await radio.write(encodeBinaryFrame({ detector: 7, detectorType: 1, state: 1, battery: 80, rssi: -70 })); // door bound, smoke type
    await radio.write(encodeBinaryFrame({ detector: 42, detectorType: 1, state: 9, battery: 80, rssi: -70 })); // unknown state
    await radio.write(encodeBinaryFrame({ detector: 42, detectorType: 1, state: 0, battery: 80, rssi: -70 }));
    await tick();
    const stats = receiver.stats();
    assert.equal(stats.frames, 4);
    assert.equal(stats.unknownDetectors, 1);
    assert.equal(stats.typeMismatches, 1);
    assert.equal(stats.decodeProblems, 1);
    assert.equal(events.length, 2);
    assert.ok(
      issues.some((e) => isDoorstepError(e, 'DRV_ERR_FRAME_UNKNOWN_DETECTOR') && e.details.detector === 999),
    );
    assert.equal(issues.filter((e) => isDoorstepError(e, 'DRV_ERR_DECODE')).length, 2);
    assert.equal(receiver.lastSeen().has('door-b1'), false);
  });

  it('counts discards by reason and passes their errors on', async () => {
    const { receiver, radio, events, issues } = await setup({ codec: 'ascii' });
    await radio.write(Buffer.from('noise$1,1,42,1,80,-70*00\r\n', 'latin1'));
    await radio.write(
      encodeAsciiFrame({ host: 1, channel: 1, detector: 42, state: 1, battery: 80, rssi: -70 }),
    );
    await tick();
    assert.equal(events.length, 1);
    const { discards } = receiver.stats();
    assert.equal(discards.garbageBytes, 5);
    assert.equal(discards.checksum, 1);
    assert.ok(issues.some((e) => isDoorstepError(e, 'DRV_ERR_FRAME_CHECKSUM')));
    assert.ok(issues.some((e) => isDoorstepError(e, 'DRV_ERR_FRAME_SYNTAX')));
  });

  it('flushes a held false start when the link falls idle, releasing the frame behind it', async () => {
    const timers = manualTimers();
    const { radio, events } = await setup({
      codec: 'binary',
      timers,
      detectors: [{ detector: 6, device: 'door-b6', profile: 'wireless-door' }],
    });
    // A5 then a frame for address 0x0006: the false start reads length 6 (the address low byte)
    // and claims 12 bytes; only 11 follow, so the real frame waits for the idle flush.
    const frame = encodeBinaryFrame({ detector: 6, detectorType: 2, state: 1, battery: 80, rssi: -70 });
    await radio.write(Buffer.concat([Buffer.from([0xa5]), frame]));
    await tick();
    assert.equal(events.length, 0);
    assert.equal(timers.size, 1, 'idle timer armed while bytes are held');
    timers.fireAll();
    assert.deepEqual(
      events.map((e) => e.device),
      ['door-b6'],
    );
    await radio.write(frame);
    await tick();
    assert.equal(events.length, 2);
    assert.equal(timers.size, 0, 'no timer when nothing is held');
  });

  it('disables only bad bindings, each reported with its path', async () => {
    const [link] = MemoryLink.pair();
    const receiver = new FrameReceiver({
      link,
      codec: 'ascii',
      detectors: [
        { detector: 1, device: 'ok-1', profile: 'wireless-smoke' },
        { detector: 2, device: 'Bad Device', profile: 'wireless-smoke' },
        { detector: 3, device: 'ok-3', profile: 'no-such-profile' },
        { detector: 1, device: 'ok-4', profile: 'wireless-door' },
      ],
    });
    const messages = receiver.issues().map((e) => e.message);
    assert.equal(messages.length, 3);
    assert.match(messages[0]!, /detectors\.1\.device/);
    assert.match(messages[1]!, /detectors\.2\.profile: no frame profile named no-such-profile/);
    assert.match(messages[2]!, /detectors\.3\.detector: 1 is bound twice/);
    assert.ok(receiver.issues().every((e) => isDoorstepError(e, 'CFG_ERR_INVALID')));
    assert.equal(link.isOpen, false, 'constructor does no I/O');
  });

  it('reports a lost link and drops the torn frame', async () => {
    const { receiver, radio, gateway, events, issues } = await setup({ codec: 'ascii' });
    const frame = encodeAsciiFrame({ host: 1, channel: 1, detector: 42, state: 1, battery: 80, rssi: -70 });
    await radio.write(frame.subarray(0, 8));
    await tick();
    gateway.fail('adapter unplugged');
    await gateway.open();
    await radio.write(frame.subarray(8));
    await tick();
    assert.equal(events.length, 0);
    assert.equal(receiver.stats().linkLosses, 1);
    assert.ok(issues.some((e) => isDoorstepError(e, 'DRV_ERR_LINK_DOWN')));
    await radio.write(frame);
    await tick();
    assert.equal(events.length, 1);
  });
});
