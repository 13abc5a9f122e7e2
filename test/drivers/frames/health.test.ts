import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BusHealth, ValidFrameWatch } from '../../../drivers/frames/health.js';
import { emptyDecoderStats } from '../../../drivers/frames/types.js';

/** The bus-health rules of ValidFrameWatch on a virtual clock (the pty test runs the real thing). */
describe('ValidFrameWatch', () => {
  const make = () => {
    const changes: BusHealth[] = [];
    const watch = new ValidFrameWatch(
      { bus: 'radio', degradedAfterMs: 60_000, onChange: (h) => changes.push(h) },
      0,
    );
    const stats = emptyDecoderStats();
    return { watch, stats, changes };
  };

  it('silence is not degraded, nor is one burst of noise followed by silence', () => {
    const { watch, stats, changes } = make();
    watch.observe(1_000, 0, stats);
    stats.garbageBytes += 40;
    stats.checksum += 1;
    watch.observe(2_000, 0, stats);
    watch.observe(300_000, 0, stats); // nothing new since: no rejection, still ok
    assert.equal(watch.current().state, 'ok');
    assert.equal(changes.length, 0);
  });

  it('rejections for degradedAfterMs with no valid frame make it degraded once, with the counts', () => {
    const { watch, stats, changes } = make();
    for (let t = 0; t <= 70_000; t += 1000) {
      stats.checksum += 2;
      stats.garbageBytes += 10;
      watch.observe(t, 0, stats);
    }
    const h = watch.current();
    assert.equal(h.state, 'degraded');
    assert.equal(h.since, 60_000);
    assert.equal(h.reason, 'DRV_ERR_FRAME_CHECKSUM');
    assert.match(
      h.detail ?? '',
      /bus radio delivered no valid frame for 60 s; rejected: 122 bad checksum, 610 byte/,
    );
    assert.equal(h.rejected?.checksum, 142, 'counts keep growing while degraded');
    assert.equal(changes.length, 1, 'told once per streak');
  });

  it('a valid frame ends the streak and recovers', () => {
    const { watch, stats, changes } = make();
    for (let t = 0; t <= 61_000; t += 1000) {
      stats.syntax += 1;
      watch.observe(t, 0, stats);
    }
    assert.equal(watch.current().reason, 'DRV_ERR_FRAME_SYNTAX');
    stats.frames += 1;
    watch.observe(62_000, 1, stats);
    assert.deepEqual(watch.current(), { state: 'ok', since: 62_000 });
    assert.equal(changes.length, 2);
    // A new streak starts from zero.
    stats.syntax += 1;
    watch.observe(63_000, 0, stats);
    stats.syntax += 1;
    watch.observe(100_000, 0, stats);
    assert.equal(watch.current().state, 'ok');
  });

  it('a new decoder (receiver reopened) counts from zero without a false rejection', () => {
    const { watch, stats } = make();
    stats.checksum = 500;
    watch.observe(0, 0, stats);
    watch.resetBaseline();
    watch.observe(61_000, 0, emptyDecoderStats());
    assert.equal(watch.current().state, 'ok');
  });
});
