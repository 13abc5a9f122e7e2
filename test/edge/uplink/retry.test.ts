import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  alarm,
  makeUplink,
  memoryOutbox,
  reading,
  sqliteOutbox,
  startCloud,
  T0,
  VirtualClock,
} from './helpers.js';

const readings = (n: number, from = 0) => Array.from({ length: n }, (_, i) => reading(T0 + from + i));

describe('uplink retry', () => {
  it('redelivers after 500, timeout and connection reset: 0 lost, 0 duplicated', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put([...readings(50), alarm('a1', T0 + 60), alarm('a2', T0 + 61)]);
    const { uplink } = makeUplink(baseUrl, outbox, clock, { batch: { rows: 20 }, requestTimeoutMs: 300 });
    uplink.start();
    const reasons: string[] = [];
    for (const mode of ['fail500', 'hang', 'drop'] as const) {
      cloud.mode = mode;
      const outcome = await uplink.syncNow();
      reasons.push(outcome.kind === 'failed' ? outcome.reason : outcome.kind);
      assert.equal(outbox.stats().totalRows, 52, `${mode}: nothing left the outbox`);
    }
    assert.deepEqual(reasons, ['server', 'timeout', 'network']);
    cloud.mode = 'ok';
    for (let i = 0; i < 10 && outbox.stats().totalRows > 0; i++) await uplink.syncNow();
    assert.equal(outbox.stats().totalRows, 0);
    assert.equal(cloud.stored.size, 52, 'every row stored');
    assert.equal(cloud.duplicates, 0, 'none stored twice');
    const stats = uplink.stats();
    assert.equal(
      stats.batches.failed.server + stats.batches.failed.timeout + stats.batches.failed.network,
      3,
    );
    assert.equal(stats.consecutiveFailures, 0);
  });

  it('after a lost acknowledgement the resend is deduplicated, not stored twice', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put(readings(30));
    const { uplink } = makeUplink(baseUrl, outbox, clock);
    uplink.start();
    cloud.storeThenFail = 1;
    assert.equal((await uplink.syncNow()).kind, 'failed');
    assert.equal(outbox.stats().totalRows, 30);
    assert.equal((await uplink.syncNow()).kind, 'acked');
    assert.equal(cloud.count('telemetry'), 30);
    assert.equal(cloud.duplicates, 30, 'the cloud saw them twice and stored them once');
  });

  it('server down, then up: the first success drains the whole backlog without new puts (SQLite)', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const { outbox } = sqliteOutbox(clock);
    outbox.put(readings(95));
    outbox.put([alarm('a1', T0 + 200)]);
    const { uplink, timers } = makeUplink(baseUrl, outbox, clock, {
      batch: { rows: 10 },
      backlogPace: 'max',
    });
    cloud.mode = 'drop';
    uplink.start();
    for (let i = 0; i < 4; i++) {
      assert.ok(timers.fire());
      await uplink.settled();
      assert.equal(uplink.stats().state, 'backoff');
    }
    assert.equal(uplink.stats().consecutiveFailures, 4);
    cloud.mode = 'ok';
    assert.ok(timers.fire(), 'one backoff timer');
    await uplink.settled();
    assert.equal(outbox.stats().totalRows, 0, 'drained in one go, no timer and no put needed');
    assert.equal(cloud.stored.size, 96);
    assert.equal(cloud.duplicates, 0);
    assert.equal(uplink.stats().state, 'idle');
  });

  it('paced backlog keeps draining on its own timers until empty', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put(readings(45));
    const { uplink, timers } = makeUplink(baseUrl, outbox, clock, {
      batch: { rows: 10 },
      backlogPace: { rowsPerSecond: 100 },
    });
    uplink.start();
    let fired = 0;
    while (outbox.stats().totalRows > 0 && fired < 20) {
      timers.fire();
      fired++;
      await uplink.settled();
    }
    assert.equal(outbox.stats().totalRows, 0);
    assert.equal(cloud.stored.size, 45);
    assert.equal(fired, 5, 'start + 4 pacing timers of 100 ms');
    assert.ok(timers.requested.filter((ms) => ms === 100).length >= 4);
  });

  it('backoff grows exponentially with full jitter, is capped, and resets after a success', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put(readings(3));
    const draws = [0.5, 1, 0.25, 1, 0.75, 0.5];
    const { uplink, timers } = makeUplink(baseUrl, outbox, clock, {
      random: () => draws.shift() ?? 0.5,
      backoff: { baseMs: 1000, maxMs: 8000, minMs: 10 },
    });
    uplink.start();
    cloud.mode = 'fail500';
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      await uplink.syncNow();
      delays.push(timers.pendingMs()!);
    }
    // r × min(8000, 1000 × 2^(n−1)) for n = 1..5
    assert.deepEqual(delays, [500, 2000, 1000, 8000, 6000]);
    assert.equal(uplink.stats().backoff?.delayMs, 6000);
    cloud.mode = 'ok';
    assert.equal((await uplink.syncNow()).kind, 'acked');
    assert.equal(uplink.stats().consecutiveFailures, 0);
    assert.equal(uplink.stats().backoff, undefined);
    outbox.put(readings(1, 10));
    cloud.mode = 'fail500';
    await uplink.syncNow();
    assert.equal(timers.pendingMs(), 500, 'back to the first step: 0.5 × 1000');
  });

  it('notify() sends a new alarm at once when idle, and brings a backoff retry forward', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    const { uplink, timers } = makeUplink(baseUrl, outbox, clock, {
      random: () => 1,
      backoff: { baseMs: 30_000, maxMs: 60_000 },
      alarmRetryMs: 1000,
    });
    uplink.start();
    await uplink.syncNow(); // heartbeat
    assert.equal(uplink.stats().state, 'idle');
    outbox.put([alarm('fire-1', T0)]);
    uplink.notify();
    await uplink.settled();
    assert.deepEqual(cloud.acceptedRequests().at(-1)!.alarmSeqs, [1], 'sent without any timer firing');

    cloud.mode = 'drop';
    outbox.put([reading(T0 + 1)]);
    await uplink.syncNow();
    assert.equal(timers.pendingMs(), 30_000);
    cloud.mode = 'ok';
    outbox.put([alarm('fire-2', T0 + 2)]);
    uplink.notify();
    assert.equal(uplink.stats().state, 'backoff');
    timers.fire();
    await uplink.settled();
    assert.ok(clock.now() - T0 <= 1000, 'retried within alarmRetryMs of the last attempt, not after 30 s');
    assert.equal(outbox.stats().totalRows, 0);
    assert.ok(cloud.acceptedRequests().some((r) => r.alarmSeqs.includes(3)));
  });

  it('401 keeps the data, backs off at least authMinMs, and picks up a rotated secret', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put([alarm('a1', T0), ...readings(5, 1)]);
    let secret = 'old-secret';
    const { uplink, timers } = makeUplink(baseUrl, outbox, clock, {
      credentials: () => secret,
      backoff: { authMinMs: 20_000 },
    });
    uplink.start();
    const outcome = await uplink.syncNow();
    assert.equal(outcome.kind === 'failed' && outcome.reason, 'auth');
    assert.equal(outbox.stats().totalRows, 6, 'nothing dropped or quarantined');
    assert.equal(outbox.stats().quarantined.rows, 0);
    assert.ok(timers.pendingMs()! >= 20_000);
    assert.equal(uplink.stats().batches.failed.auth, 1);
    secret = 'sekret-1';
    timers.fire();
    await uplink.settled();
    assert.equal(outbox.stats().totalRows, 0);
    assert.equal(cloud.stored.size, 6);
  });
});
