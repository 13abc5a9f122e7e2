import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BusScheduler } from '../../../drivers/bus/scheduler.js';
import type { PollResult, PollTask, StallEvent } from '../../../drivers/bus/types.js';
import type { DeviceLinkState } from '../../../protocol/device.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import { memoryBusFactory } from './fake-rtu-bus.js';

function task(device: string, unitId: number, overrides: Partial<PollTask> = {}): PollTask {
  return {
    device,
    unitId,
    timeoutMs: 60,
    retries: 1,
    blocks: [{ id: 'main', table: 'holding', address: 0, count: 4, intervalMs: 20, priority: 'normal' }],
    ...overrides,
  };
}

function startBus(
  units: number[],
  options: { offlineAfter?: number; stallAfterMs?: number; replyDelayMs?: number } = {},
) {
  const links = memoryBusFactory(units, options.replyDelayMs ?? 2);
  const scheduler = new BusScheduler({
    bus: 'rs485-test',
    protocol: 'rtu',
    createLink: links.factory,
    offlineAfter: options.offlineAfter ?? 2,
    backoff: { initialMs: 200, factor: 2, maxMs: 60_000 },
    reconnect: { initialMs: 50, factor: 2, maxMs: 1000 },
    flushQuietMs: 5,
    stallAfterMs: options.stallAfterMs ?? 60_000,
  });
  const results: PollResult[] = [];
  const states: DeviceLinkState[] = [];
  scheduler.onResult((r) => results.push(r));
  scheduler.onDeviceState((s) => states.push(s));
  after(async () => {
    await scheduler.stop();
    await links.closeAll();
  });
  return { links, scheduler, results, states };
}

async function until(condition: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const count = (results: PollResult[], device: string) => results.filter((r) => r.device === device).length;

describe('BusScheduler (RTU over MemoryLink)', () => {
  it('polls every device, emits values and brings devices online', async () => {
    const { scheduler, results, states } = startBus([1, 2]);
    scheduler.addDevice(task('gas-1', 1));
    scheduler.addDevice(
      task('door-2', 2, {
        blocks: [{ id: 'bits', table: 'coil', address: 0, count: 3, intervalMs: 20, priority: 'critical' }],
      }),
    );
    scheduler.start();
    await until(() => count(results, 'gas-1') >= 3 && count(results, 'door-2') >= 3, 'three polls each');
    assert.deepEqual(results.find((r) => r.device === 'gas-1')?.values, [100, 101, 102, 103]);
    assert.deepEqual(results.find((r) => r.device === 'door-2')?.values, [false, false, false]);
    assert.deepEqual(states.map((s) => [s.device, s.state]).sort(), [
      ['door-2', 'online'],
      ['gas-1', 'online'],
    ]);
    const stats = scheduler.stats();
    assert.ok(stats.successes >= 6 && stats.transactions === stats.successes);
    assert.ok(stats.latencyMs.samples >= 6 && stats.latencyMs.p99 >= stats.latencyMs.p50);
  });

  it('runs the most urgent priority first when several blocks are due', async () => {
    const { scheduler, links } = startBus([1, 2, 3], { replyDelayMs: 5 });
    const block = (priority: 'critical' | 'normal' | 'diagnostic') => ({
      blocks: [
        { id: priority, table: 'holding' as const, address: 0, count: 1, intervalMs: 10_000, priority },
      ],
    });
    scheduler.addDevice(task('diag', 1, block('diagnostic')));
    scheduler.addDevice(task('norm', 2, block('normal')));
    scheduler.addDevice(task('crit', 3, block('critical')));
    scheduler.start();
    // Order of first requests per unit: on a loaded machine a request may time out and be retried
    // (the retry repeats its unit), which says nothing about the order of priorities.
    const firstRequests = () => [...new Set(links.current.bus.log.map((r) => r.unitId))];
    await until(() => links.made.length > 0 && firstRequests().length >= 3, 'a poll of each unit');
    assert.deepEqual(firstRequests(), [3, 2, 1]);
  });

  it('a slave that never answers costs the others no more than its own timeout budget, and is probed at a backing-off rate', async (t) => {
    const windowMs = 2000;
    const healthyCount = async (withSilent: boolean) => {
      const { scheduler, results, links, states } = startBus([1, 2, 3]);
      scheduler.addDevice(task('a', 1));
      scheduler.addDevice(task('b', 2));
      if (withSilent) scheduler.addDevice(task('dead', 3, { timeoutMs: 50 }));
      scheduler.start();
      await until(() => links.made.length > 0, 'link');
      links.unit(3).mode = 'silent';
      await sleep(windowMs);
      await scheduler.stop();
      return {
        healthy: count(results, 'a') + count(results, 'b'),
        attempts: links.unit(3).requests,
        states,
        scheduler,
      };
    };
    const baseline = await healthyCount(false);
    const withDead = await healthyCount(true);
    t.diagnostic(
      `healthy polls in ${windowMs} ms: ${baseline.healthy} alone, ${withDead.healthy} beside a dead unit; dead unit attempted ${withDead.attempts} times`,
    );
    // Healthy units poll every 20 ms: ~100 polls each in 2 s. The dead unit costs 2 timeouts to go
    // offline, then one per backoff period (200, 400, 800 ms), each followed by its late-reply
    // guard (the timeout again): ~5 × (50 + 50) ms = 500 ms of 2000.
    assert.ok(baseline.healthy >= 60, `baseline healthy polls ${baseline.healthy}`);
    assert.ok(
      withDead.healthy >= 0.6 * baseline.healthy,
      `healthy polls with a dead unit ${withDead.healthy} vs ${baseline.healthy} without`,
    );
    assert.ok(
      withDead.attempts >= 3 && withDead.attempts <= 7,
      `dead unit attempted ${withDead.attempts} times`,
    );
    const dead = withDead.scheduler.deviceStates().find((s) => s.device === 'dead');
    assert.equal(dead?.state, 'offline');
    assert.equal(dead?.reason, 'DRV_ERR_TIMEOUT');
    assert.ok(
      !withDead.states.some((s) => s.device !== 'dead' && s.state === 'offline'),
      'healthy units stayed online',
    );
    // Every attempt timed out; the stop can cut the last one on either side of the link (sent but
    // not yet read by the fake slave, or read but not yet timed out).
    const timeouts = withDead.scheduler.stats().errorsByCode.DRV_ERR_TIMEOUT ?? 0;
    assert.ok(
      Math.abs(timeouts - withDead.attempts) <= 1,
      `${timeouts} timeouts for ${withDead.attempts} attempts`,
    );
  });

  it('reports CRC failures as the offline reason and recovers on the next probe once the device is healthy', async () => {
    const { scheduler, links, states, results } = startBus([1]);
    scheduler.addDevice(task('smoke', 1));
    scheduler.start();
    await until(() => links.made.length > 0, 'link');
    links.unit(1).mode = 'badCrc';
    await until(() => states.some((s) => s.state === 'offline'), 'offline');
    const offline = states.find((s) => s.state === 'offline')!;
    assert.equal(offline.reason, 'DRV_ERR_CRC');
    assert.ok(offline.consecutiveFailures >= 2);
    links.unit(1).mode = 'ok';
    const before = results.length;
    await until(() => states.at(-1)?.state === 'online' && results.length > before, 'back online', 3000);
    assert.equal(scheduler.deviceStates()[0]?.consecutiveFailures, 0);
  });

  it('keeps a device that answers with exceptions online and reports DRV_ERR_EXCEPTION per poll', async () => {
    const { scheduler, links, states } = startBus([1]);
    const failures: string[] = [];
    scheduler.onPollError((f) => failures.push(f.error.code));
    scheduler.addDevice(task('pressure', 1));
    scheduler.start();
    await until(() => links.made.length > 0, 'link');
    links.unit(1).mode = 'exception';
    await until(() => failures.length >= 3, 'three exception replies');
    assert.ok(failures.every((code) => code === 'DRV_ERR_EXCEPTION'));
    assert.ok(!states.some((s) => s.state === 'offline'));
    assert.equal(scheduler.deviceStates()[0]?.state, 'online');
  });

  it('writes coils and registers ahead of polls and rejects bad or unknown writes by code', async () => {
    const { scheduler, links } = startBus([1]);
    scheduler.addDevice(task('siren', 1));
    scheduler.start();
    await until(() => links.made.length > 0 && links.unit(1).requests > 0, 'first poll');
    await scheduler.write('siren', { table: 'coil', address: 4, values: [true] });
    await scheduler.write('siren', { table: 'holding', address: 10, values: [7, 8, 9] });
    await scheduler.write('siren', { table: 'coil', address: 20, values: [true, false, true] });
    assert.equal(links.unit(1).coils[4], true);
    assert.deepEqual(links.unit(1).holding.slice(10, 13), [7, 8, 9]);
    assert.deepEqual(links.unit(1).coils.slice(20, 23), [true, false, true]);
    const code = (expected: string) => (error: unknown) => isDoorstepError(error) && error.code === expected;
    await assert.rejects(
      scheduler.write('nobody', { table: 'coil', address: 0, values: [true] }),
      code('DRV_ERR_UNKNOWN_DEVICE'),
    );
    await assert.rejects(
      scheduler.write('siren', { table: 'holding', address: 0, values: [70_000] }),
      code('DRV_ERR_BAD_REQUEST'),
    );
    links.unit(1).mode = 'silent';
    await assert.rejects(
      scheduler.write('siren', { table: 'coil', address: 4, values: [false] }),
      code('DRV_ERR_TIMEOUT'),
    );
  });

  it('stops polling a removed device and starts polling one added at run time', async () => {
    const { scheduler, results } = startBus([1, 2]);
    scheduler.addDevice(task('first', 1));
    scheduler.start();
    await until(() => count(results, 'first') >= 3, 'first polled');
    scheduler.addDevice(task('second', 2));
    await until(() => count(results, 'second') >= 3, 'second polled');
    scheduler.removeDevice('first');
    await sleep(20);
    const frozen = count(results, 'first');
    await until(() => count(results, 'second') >= 20, 'second keeps polling');
    assert.equal(count(results, 'first'), frozen);
    assert.deepEqual(
      scheduler.deviceStates().map((s) => s.device),
      ['second'],
    );
    assert.throws(
      () => scheduler.addDevice(task('second', 2)),
      (e: unknown) => isDoorstepError(e, 'DRV_ERR_BAD_REQUEST'),
    );
    assert.throws(
      () =>
        scheduler.addDevice(
          task('huge', 2, {
            blocks: [{ id: 'x', table: 'input', address: 0, count: 126, intervalMs: 10, priority: 'normal' }],
          }),
        ),
      (e: unknown) => isDoorstepError(e, 'DRV_ERR_BAD_REQUEST'),
    );
  });

  it('reconnects through the link factory after the link drops, reporting DRV_ERR_LINK_DOWN meanwhile', async () => {
    const { scheduler, links, states, results } = startBus([1]);
    scheduler.addDevice(task('gas', 1));
    scheduler.start();
    await until(() => results.length >= 2, 'polling');
    links.current.gateway.fail('adapter unplugged');
    await until(() => states.some((s) => s.state === 'offline'), 'offline');
    assert.equal(states.find((s) => s.state === 'offline')?.reason, 'DRV_ERR_LINK_DOWN');
    const before = results.length;
    await until(() => links.made.length === 2 && results.length > before + 2, 'polling on the new link');
    assert.equal(states.at(-1)?.state, 'online');
    assert.equal(scheduler.stats().reconnects, 2);
  });

  it('reports DRV_ERR_BUS_STALLED when nothing succeeds while work is due, and the recovery', async () => {
    const { scheduler, links } = startBus([1], { stallAfterMs: 300 });
    const events: StallEvent[] = [];
    scheduler.onStall((e) => events.push(e));
    scheduler.addDevice(task('only', 1));
    scheduler.start();
    await until(() => links.made.length > 0, 'link');
    links.unit(1).mode = 'silent';
    await until(() => events.length >= 1, 'stall report', 5000);
    assert.equal(events[0]?.stalled, true);
    assert.equal(events[0]?.error?.code, 'DRV_ERR_BUS_STALLED');
    assert.equal(scheduler.stats().stalled, true);
    links.unit(1).mode = 'ok';
    await until(() => events.length >= 2, 'recovery report', 5000);
    assert.equal(events[1]?.stalled, false);
  });
});
