import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AsciiFrameDecoder } from '../../../drivers/frames/ascii.js';
import { BinaryFrameDecoder } from '../../../drivers/frames/binary.js';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { RADIO_SCENARIOS, RadioReceiverSim, RadioScenarioPlayer } from '../../../drivers/sim/radio.js';

describe('simulated wireless receiver', () => {
  for (const codec of ['ascii', 'binary'] as const) {
    it(`${codec}: reports every detector at start and on every change, through noise`, async () => {
      const [simSide, gatewaySide] = MemoryLink.pair('radio');
      const decoder = codec === 'ascii' ? new AsciiFrameDecoder() : new BinaryFrameDecoder();
      const frames: { detector: number | string; state: number; value?: number }[] = [];
      await gatewaySide.open();
      gatewaySide.onData((chunk) => frames.push(...decoder.push(chunk)));
      const radio = new RadioReceiverSim({
        link: simSide,
        codec,
        detectors: [
          { detector: 12, profile: 'wireless-smoke' },
          { detector: 40, profile: 'manhole-cover' },
        ],
        reportEveryMs: 0,
        garbageEvery: 2,
      });
      await radio.start();
      radio.detector(12).set({ state: 1 });
      new RadioScenarioPlayer(
        radio.detector(40),
        RADIO_SCENARIOS.find((s) => s.name === 'manhole_tilted')!,
      ).step(10_000);
      await new Promise((r) => setTimeout(r, 20));
      await radio.stop();
      assert.deepEqual(
        frames.map((f) => [f.detector, f.state & 0x3f, f.value]),
        [
          [12, 0, undefined],
          [40, 0, 4],
          [12, 1, undefined],
          [40, 1, 250],
        ],
      );
      const s = decoder.stats();
      assert.ok(s.garbageBytes + s.checksum + s.syntax > 0, 'the injected noise was there and was skipped');
    });
  }

  it('refuses a scenario that does not fit the detector', () => {
    const [simSide] = MemoryLink.pair('radio');
    const radio = new RadioReceiverSim({
      link: simSide,
      codec: 'ascii',
      detectors: [{ detector: 1, profile: 'wireless-door' }],
    });
    assert.throws(
      () =>
        new RadioScenarioPlayer(radio.detector(1), RADIO_SCENARIOS.find((s) => s.name === 'smoke_alarm')!),
      /does not fit/,
    );
  });
});
