import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { BusScheduler } from '../../../drivers/bus/scheduler.js';
import type { PollResult } from '../../../drivers/bus/types.js';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { RegisterBank, RtuSlave, SimUnit } from '../../../drivers/sim/index.js';
import type { DeviceLinkState } from '../../../protocol/device.js';
import { until } from './helpers.js';

function simUnit(unitId: number): SimUnit {
  const bank = new RegisterBank().map('holding', 0, 8);
  for (let i = 0; i < 8; i++) bank.setUint16('holding', i, unitId * 100 + i);
  return new SimUnit({ unitId, bank });
}

async function bus(units: SimUnit[], options: { priorityAgingMs?: number } = {}) {
  const [gateway, device] = MemoryLink.pair(`share-${units.map((u) => u.unitId).join('-')}`);
  const slave = new RtuSlave({ link: device, units });
  await slave.start();
  const scheduler = new BusScheduler({
    bus: 'rs485-share',
    protocol: 'rtu',
    createLink: () => gateway,
    flushQuietMs: 5,
    ...options,
  });
  const results: PollResult[] = [];
  const states: DeviceLinkState[] = [];
  scheduler.onResult((r) => results.push(r));
  scheduler.onDeviceState((s) => states.push(s));
  after(async () => {
    await scheduler.stop();
    await slave.stop();
  });
  return { scheduler, results, states };
}

describe('BusScheduler: as fast as the bus allows, shared by priority', () => {
  it('a critical block at interval 0 takes the idle bus, yet normal and diagnostic blocks of other devices are still polled', async () => {
    const { scheduler, results } = await bus([simUnit(1), simUnit(2), simUnit(3)], { priorityAgingMs: 200 });
    const block = (priority: 'critical' | 'normal' | 'diagnostic', intervalMs: number) => [
      { id: priority, table: 'holding' as const, address: 0, count: 2, intervalMs, priority },
    ];
    const base = { timeoutMs: 200, retries: 0 };
    scheduler.addDevice({ device: 'fast', unitId: 1, ...base, blocks: block('critical', 0) });
    scheduler.addDevice({ device: 'fast-2', unitId: 2, ...base, blocks: block('critical', 0) });
    scheduler.addDevice({ device: 'slow-poll', unitId: 3, ...base, blocks: block('normal', 100) });
    scheduler.addDevice({
      device: 'diag',
      unitId: 3,
      ...base,
      blocks: [
        { id: 'diag', table: 'holding', address: 4, count: 2, intervalMs: 50, priority: 'diagnostic' },
      ],
    });
    scheduler.start();
    const count = (device: string) => results.filter((r) => r.device === device).length;
    await until(() => count('slow-poll') >= 5 && count('diag') >= 5, 'normal and diagnostic polls', 20_000);
    // Two continuous critical blocks share the bus between them (oldest due first) …
    assert.ok(count('fast') >= 5 && count('fast-2') >= 5, `fast ${count('fast')}, fast-2 ${count('fast-2')}`);
    // … and take most of it.
    assert.ok(count('fast') + count('fast-2') > count('slow-poll') + count('diag'));
    assert.deepEqual(results.find((r) => r.device === 'fast')?.values, [100, 101]);
  });

  it('refuses a negative interval and a bad late-reply guard with DRV_ERR_BAD_REQUEST', async () => {
    const { scheduler } = await bus([simUnit(1)]);
    const block = { id: 'b', table: 'holding' as const, address: 0, count: 1, priority: 'critical' as const };
    assert.throws(
      () =>
        scheduler.addDevice({
          device: 'x',
          unitId: 1,
          timeoutMs: 50,
          retries: 0,
          blocks: [{ ...block, intervalMs: -1 }],
        }),
      /intervalMs must be ≥ 0/,
    );
    assert.throws(
      () =>
        scheduler.addDevice({
          device: 'y',
          unitId: 1,
          timeoutMs: 50,
          retries: 0,
          lateReplyGuardMs: Number.NaN,
          blocks: [{ ...block, intervalMs: 10 }],
        }),
      /lateReplyGuardMs/,
    );
  });
});

describe('BusScheduler: late replies', () => {
  it('counts late replies, reports the device slow with its turnaround and needed timeout, and clears it once it answers in time', async () => {
    const unit = simUnit(1);
    const { scheduler, results, states } = await bus([unit]);
    scheduler.addDevice({
      device: 'smoke',
      unitId: 1,
      timeoutMs: 40,
      retries: 1,
      blocks: [
        { id: 'status', table: 'holding', address: 0, count: 1, intervalMs: 10, priority: 'critical' },
        { id: 'density', table: 'holding', address: 1, count: 1, intervalMs: 10, priority: 'normal' },
      ],
    });
    scheduler.start();
    await until(() => results.length >= 3, 'first polls');
    unit.faults.set({ mode: 'slow', delayMs: 60, probability: 0.5 }); // 1.5 × the timeout, every other reply
    await until(() => states.some((s) => s.slow !== undefined), 'device reported slow', 20_000);
    const slow = states.find((s) => s.slow !== undefined)!.slow!;
    // Late means after the 40 ms timeout (on a loaded machine an on-time reply can be late too).
    assert.ok(slow.turnaroundMs >= 40, `turnaround ${slow.turnaroundMs}`);
    assert.ok(slow.neededTimeoutMs >= slow.turnaroundMs, `needed ${slow.neededTimeoutMs}`);
    assert.ok(slow.lateReplies >= 2);
    const stats = scheduler.stats();
    assert.ok(stats.lateReplies >= 2, `late replies ${stats.lateReplies}`);
    assert.equal(stats.errorsByCode.DRV_ERR_LATE_REPLY, stats.lateReplies);
    // Never believed: every reading is the register its block asked for.
    for (const r of results) assert.deepEqual(r.values, r.blockId === 'status' ? [100] : [101], r.blockId);
    unit.faults.clear();
    await until(
      () => scheduler.deviceStates()[0]?.slow === undefined && states.at(-1)?.slow === undefined,
      'slow cleared after answering in time',
      20_000,
    );
    assert.equal(scheduler.deviceStates()[0]?.state, 'online');
  });
});
