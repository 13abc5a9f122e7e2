import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { wireTimeMs } from '../../../drivers/link/types.js';
import {
  type Clock,
  interFrameGapMs,
  type Pace,
  planTransaction,
  RegisterBank,
  RtuSlave,
  SimUnit,
  transactionTimeMs,
} from '../../../drivers/sim/index.js';
import { rtuRequest } from './helpers.js';

const AT_9600: Pace = { baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1, turnaroundMs: 0 };
const AT_19200: Pace = { ...AT_9600, baudRate: 19200 };
const close = (actual: number, expected: number, label: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${label}: ${actual} ≠ ${expected}`);

describe('pacing model (Modbus over serial line v1.02)', () => {
  it('t3.5 is 3.5 characters of the configured frame, 1.75 ms above 19200 baud (§2.5.1.1)', () => {
    close(interFrameGapMs(AT_9600), (3.5 * 10 * 1000) / 9600, '9600 8N1');
    close(interFrameGapMs({ ...AT_9600, parity: 'even' }), (3.5 * 11 * 1000) / 9600, '9600 8E1');
    close(interFrameGapMs({ ...AT_9600, baudRate: 115200 }), 1.75, '115200');
  });

  it('a 10-register read is 41.67 ms at 9600 (24 tx/s), 20.83 ms at 19200 (48 tx/s), 51.67 ms with 10 ms turnaround', () => {
    // request 8 chars, reply 3 + 20 + 2 = 25 chars, two t3.5 gaps of 3.5 chars: 40 chars × 10 bits.
    close(transactionTimeMs(8, 25, AT_9600), 400 / 9.6, '9600');
    close(transactionTimeMs(8, 25, AT_19200), 400 / 19.2, '19200');
    close(transactionTimeMs(8, 25, { ...AT_9600, turnaroundMs: 10 }), 400 / 9.6 + 10, '9600 + 10 ms');
    assert.equal(Math.round(1000 / transactionTimeMs(8, 25, AT_9600)), 24);
    assert.equal(Math.round(1000 / transactionTimeMs(8, 25, AT_19200)), 48);
  });

  it('plans request, gap, turnaround and reply on the bus timeline', () => {
    const pace = { ...AT_9600, turnaroundMs: 5 };
    const plan = planTransaction({ arrivalMs: 100, busFreeAtMs: 0, requestBytes: 8, replyBytes: 25, pace });
    close(plan.requestStartMs, 100, 'request start');
    close(plan.requestEndMs, 100 + wireTimeMs(8, pace), 'request end');
    close(plan.replyStartMs, plan.requestEndMs + interFrameGapMs(pace) + 5, 'reply start');
    close(plan.replyEndMs, plan.replyStartMs + wireTimeMs(25, pace), 'reply end');
    close(plan.busFreeAtMs, plan.replyEndMs + interFrameGapMs(pace), 'bus free');
  });

  it('a request arriving while the bus is busy starts when it is free; credit never reaches before that', () => {
    const busy = planTransaction({
      arrivalMs: 10,
      busFreeAtMs: 30,
      creditMs: 50,
      requestBytes: 8,
      replyBytes: 25,
      pace: AT_9600,
    });
    close(busy.requestStartMs, 30, 'waits for bus free');
    const credited = planTransaction({
      arrivalMs: 40,
      busFreeAtMs: 30,
      creditMs: 3,
      requestBytes: 8,
      replyBytes: 25,
      pace: AT_9600,
    });
    close(credited.requestStartMs, 37, 'credited by our own lateness');
  });

  it('no reply holds the bus for the request only; a slow reply does not hold the bus', () => {
    const silent = planTransaction({
      arrivalMs: 0,
      busFreeAtMs: 0,
      requestBytes: 8,
      replyBytes: undefined,
      pace: AT_9600,
    });
    close(silent.busFreeAtMs, wireTimeMs(8, AT_9600) + interFrameGapMs(AT_9600), 'silent');
    const normal = planTransaction({
      arrivalMs: 0,
      busFreeAtMs: 0,
      requestBytes: 8,
      replyBytes: 25,
      pace: AT_9600,
    });
    const slow = planTransaction({
      arrivalMs: 0,
      busFreeAtMs: 0,
      requestBytes: 8,
      replyBytes: 25,
      pace: AT_9600,
      extraDelayMs: 500,
    });
    close(slow.replyEndMs, normal.replyEndMs + 500, 'slow reply');
    close(slow.busFreeAtMs, normal.busFreeAtMs, 'bus free unchanged');
  });
});

/** A virtual monotonic clock: time moves only when the test says so. */
class VirtualClock implements Clock {
  private time = 1000;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();
  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves time to `target`, running due timers in deadline order. */
  advanceTo(target: number): void {
    while (true) {
      const due = [...this.timers.entries()]
        .filter(([, t]) => t.at <= target)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].callback();
    }
    this.time = target;
  }
}

describe('RtuSlave schedule on a virtual clock', () => {
  it('writes each reply exactly at its modelled wire time, never a microsecond before', async () => {
    const clock = new VirtualClock();
    const [master, bus] = MemoryLink.pair('virtual');
    const bank = new RegisterBank().map('holding', 0, 10);
    const slave = new RtuSlave({
      link: bus,
      units: [new SimUnit({ unitId: 1, bank })],
      pace: AT_9600,
      clock,
    });
    const received: number[] = [];
    master.onData(() => received.push(clock.now()));
    await master.open();
    await slave.start();
    try {
      // A master polling back-to-back: it sends the next request the instant a reply arrives.
      const period = transactionTimeMs(8, 25, AT_9600);
      const firstReply = 1000 + wireTimeMs(8, AT_9600) + interFrameGapMs(AT_9600) + wireTimeMs(25, AT_9600);
      for (let i = 0; i < 5; i++) {
        await master.write(rtuRequest(1, 0x03, 0, 0, 0, 10));
        await sleep(1); // let MemoryLink deliver (virtual time stands still)
        const deadline = firstReply + i * period;
        clock.advanceTo(deadline - 0.001);
        await sleep(1);
        assert.equal(received.length, i, `reply ${i} not before ${deadline}`);
        clock.advanceTo(deadline);
        await sleep(1);
        assert.equal(received.length, i + 1, `reply ${i} at ${deadline}`);
        close(received[i]!, deadline, `reply ${i} time`);
      }
    } finally {
      await slave.stop();
      await master.close();
    }
  });
});

describe('RtuSlave pacing on the real clock', () => {
  const [master, bus] = MemoryLink.pair('real');
  const pace = { ...AT_19200, turnaroundMs: 2 };
  const slave = new RtuSlave({
    link: bus,
    units: [new SimUnit({ unitId: 1, bank: new RegisterBank().map('holding', 0, 10) })],
    pace,
  });
  before(async () => {
    await master.open();
    await slave.start();
  });
  after(async () => {
    await slave.stop();
    await master.close();
  });

  it('never delivers a reply before request + t3.5 + turnaround + reply wire time', async () => {
    const modelled = wireTimeMs(8, pace) + interFrameGapMs(pace) + 2 + wireTimeMs(25, pace);
    for (let i = 0; i < 10; i++) {
      const reply = new Promise<number>((resolve) => {
        const off = master.onData(() => {
          off();
          resolve(performance.now());
        });
      });
      const sentAt = performance.now();
      await master.write(rtuRequest(1, 0x03, 0, 0, 0, 10));
      const elapsed = (await reply) - sentAt;
      assert.ok(
        elapsed >= modelled,
        `reply after ${elapsed.toFixed(3)} ms < modelled ${modelled.toFixed(3)} ms`,
      );
      await sleep(15); // an idle bus between polls: no lateness credit applies
    }
  });
});
