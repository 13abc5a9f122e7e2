import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Outbox } from '../../../edge/outbox/index.js';
import { alarm, makeUplink, memoryOutbox, reading, startCloud, T0, VirtualClock } from './helpers.js';

const readings = (n: number, from = 0) => Array.from({ length: n }, (_, i) => reading(T0 + from + i));

describe('uplink: alarms keep knocking', () => {
  it('while an alarm is pending, every retry comes within alarmRetryMaxMs however long the outage', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put(readings(5));
    let draw = 0;
    const { uplink, timers } = makeUplink(baseUrl, outbox, clock, {
      // jitter draws cycle through the whole range
      random: () => [1, 0, 0.5, 0.999, 0.25][draw++ % 5]!,
      backoff: { baseMs: 1000, maxMs: 60_000, minMs: 250 },
      alarmRetryMs: 1000,
      alarmRetryMaxMs: 4000,
    });
    uplink.start();
    cloud.mode = 'drop'; // connection reset: a cloud that is restarting
    // Telemetry alone: the backoff grows towards a minute.
    for (let i = 0; i < 8; i++) await uplink.syncNow();
    const telemetryOnly = Math.max(...timers.requested.slice(-4));
    assert.ok(telemetryOnly > 4000, `telemetry backs off beyond alarm pace: ${telemetryOnly}`);

    // An alarm arrives in the middle of the outage: from now on no wait is longer than 4 s.
    outbox.put([alarm('smoke-1', clock.now())]);
    uplink.notify();
    const waits: number[] = [];
    for (let i = 0; i < 40; i++) {
      await uplink.syncNow();
      waits.push(timers.pendingMs()!);
    }
    assert.ok(
      waits.every((ms) => ms <= 4000 && ms >= 250),
      `every retry within 0.25–4 s: ${waits.join(',')}`,
    );
    assert.ok(new Set(waits).size > 2, `jittered: ${waits.join(',')}`);
    assert.ok(uplink.stats().consecutiveFailures >= 48);

    cloud.mode = 'ok';
    timers.fire();
    await uplink.settled();
    assert.equal(outbox.stats().pending.alarm.rows, 0, 'delivered at the next knock');
    assert.ok(cloud.acceptedRequests().some((r) => r.alarmSeqs.length === 1));
  });

  it('auth failures keep their floor even with an alarm pending (a wrong secret is not cured by asking faster)', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put([alarm('a1', T0)]);
    const { uplink, timers } = makeUplink(baseUrl, outbox, clock, {
      backoff: { baseMs: 1000, maxMs: 60_000, authMinMs: 30_000 },
    });
    uplink.start();
    cloud.mode = 'auth401';
    await uplink.syncNow();
    assert.ok(timers.pendingMs()! >= 30_000);
  });

  it('a storage failure on the gateway is named storage, not network, and the alarm is resent', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const inner = memoryOutbox(clock);
    inner.put([alarm('a1', T0)]);
    let failAcks = 1;
    // The outbox as a full disk leaves it: the cloud has the batch, the ack cannot be written.
    const outbox: Outbox = {
      open: () => inner.open(),
      put: (entries, state) => inner.put(entries, state),
      loadSideState: (prefix) => inner.loadSideState(prefix),
      seqOfKey: (key) => inner.seqOfKey(key),
      nextBatch: (options) => inner.nextBatch(options),
      ack(seqs) {
        if (failAcks-- > 0)
          throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        return inner.ack(seqs);
      },
      quarantine: (seqs, reason) => inner.quarantine(seqs, reason),
      listQuarantine: (options) => inner.listQuarantine(options),
      requeue: (seqs) => inner.requeue(seqs),
      maintain: () => inner.maintain(),
      stats: () => inner.stats(),
      close: () => inner.close(),
    };
    const { uplink, timers } = makeUplink(baseUrl, outbox, clock);
    uplink.start();
    const outcome = await uplink.syncNow();
    assert.equal(outcome.kind, 'failed');
    assert.equal(outcome.kind === 'failed' && outcome.reason, 'storage');
    assert.equal(uplink.stats().lastFailure?.reason, 'storage');
    assert.equal(uplink.stats().batches.failed.storage, 1);
    assert.equal(uplink.stats().batches.failed.network, 0);
    assert.ok(timers.pendingMs()! <= 4000, 'the alarm is still pending: it keeps knocking');
    timers.fire();
    await uplink.settled();
    assert.equal(inner.stats().pending.alarm.rows, 0, 'acked once the disk took the delete');
    assert.equal(cloud.duplicates, 1, 'the resend was deduplicated by the cloud');
  });
});
