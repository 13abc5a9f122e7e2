import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FileUplinkState } from '../../../edge/uplink/index.js';
import { expandTelemetry, UplinkBatch } from '../../../protocol/index.js';
import {
  alarm,
  event,
  makeUplink,
  memoryOutbox,
  reading,
  SITE,
  sqliteOutbox,
  startCloud,
  T0,
  VirtualClock,
} from './helpers.js';

describe('uplink batching', () => {
  it('sends alarms first, then events, then telemetry packed in seq order', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put([reading(T0 + 1), reading(T0 + 2, 'battery'), event(T0 + 3), reading(T0 + 4)]);
    outbox.put([alarm('a1', T0 + 5)]);
    const { uplink } = makeUplink(baseUrl, outbox, clock);
    uplink.start();
    const outcome = await uplink.syncNow();
    assert.equal(outcome.kind, 'acked');
    const req = cloud.acceptedRequests()[0]!;
    const body = UplinkBatch.parse(JSON.parse(req.raw));
    assert.deepEqual(body.site, SITE);
    assert.equal(body.gateway, 'gw-1');
    assert.deepEqual(
      body.alarms.map((a) => a.seq),
      [5],
    );
    assert.equal(body.alarms[0]!.transition.id, 'alarm-a1');
    assert.deepEqual(
      body.events.map((e) => [e.seq, e.ts]),
      [[3, T0 + 3]],
    );
    const rows = expandTelemetry(body.telemetry!);
    assert.deepEqual(
      rows.map((r) => r.seq),
      [1, 2, 4],
      'telemetry columns in seq order',
    );
    assert.deepEqual(
      rows.map((r) => r.point),
      ['gas', 'battery', 'gas'],
    );
    assert.equal(body.telemetry!.series.length, 2, 'one series entry per (device, point, unit)');
    assert.ok(body.health, 'health attached to the first batch');
    assert.equal(body.health!.outbox.pending.alarm, 1);
    assert.equal(outbox.stats().totalRows, 0, 'acked rows left the outbox');
    const stats = uplink.stats();
    assert.deepEqual(stats.rowsAcked, { alarm: 1, event: 1, telemetry: 3 });
    assert.ok(stats.bytes.wire > 0 && stats.bytes.wire < stats.bytes.raw, 'gzip made it smaller');
  });

  it('sends the newest telemetry first, then replays the backlog at the configured pace', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put(Array.from({ length: 25 }, (_, i) => reading(T0 + i)));
    const { uplink, timers } = makeUplink(baseUrl, outbox, clock, {
      batch: { rows: 10 },
      backlogPace: { rowsPerSecond: 5 },
    });
    uplink.start();
    assert.equal((await uplink.syncNow()).kind, 'acked');
    assert.deepEqual(cloud.acceptedRequests()[0]!.telemetrySeqs, [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    // A full batch means backlog: the next one is paced (10 rows at 5 rows/s = 2 s), not immediate.
    assert.equal(timers.pendingMs(), 2000);
    assert.equal(uplink.stats().state, 'pacing');
    // New live data arriving meanwhile goes before the remaining backlog.
    outbox.put([reading(T0 + 100)]);
    timers.fire();
    await uplink.settled();
    assert.deepEqual(cloud.acceptedRequests()[1]!.telemetrySeqs, [7, 8, 9, 10, 11, 12, 13, 14, 15, 26]);
    timers.fire();
    await uplink.settled();
    assert.deepEqual(cloud.acceptedRequests()[2]!.telemetrySeqs, [1, 2, 3, 4, 5, 6]);
    assert.equal(outbox.stats().totalRows, 0);
    assert.equal(uplink.stats().state, 'idle', 'a partial batch means caught up');
  });

  it('every batch starts with the pending alarms, even in the middle of a backlog', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put(Array.from({ length: 30 }, (_, i) => reading(T0 + i)));
    const { uplink } = makeUplink(baseUrl, outbox, clock, { batch: { rows: 10 }, backlogPace: 'max' });
    uplink.start();
    await uplink.syncNow();
    outbox.put([alarm('fire', T0 + 50)]);
    await uplink.syncNow();
    const second = cloud.acceptedRequests()[1]!;
    assert.deepEqual(second.alarmSeqs, [31]);
    assert.equal(second.telemetrySeqs.length, 9);
  });

  it('deletes rows only when a 200 acknowledges this very batch', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put([alarm('a1', T0), reading(T0 + 1)]);
    const { uplink } = makeUplink(baseUrl, outbox, clock);
    uplink.start();
    cloud.ackWrongBatch = true;
    const wrong = await uplink.syncNow();
    assert.equal(wrong.kind, 'failed');
    assert.equal(wrong.kind === 'failed' && wrong.reason, 'bad_response');
    assert.equal(outbox.stats().totalRows, 2, 'a 200 for another batch acknowledges nothing');
    cloud.failNext = 1;
    assert.equal((await uplink.syncNow()).kind, 'failed');
    assert.equal(outbox.stats().totalRows, 2, 'a 500 acknowledges nothing');
    cloud.ackWrongBatch = false;
    assert.equal((await uplink.syncNow()).kind, 'acked');
    assert.equal(outbox.stats().totalRows, 0);
    assert.equal(cloud.count('alarm'), 1);
    assert.equal(cloud.duplicates, 1 + 1, 'the stored-but-misacked batch was resent and deduplicated');
  });

  it('persists batchSeq across a restart; a resend keeps its number and content (SQLite outbox)', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const { outbox, dir } = sqliteOutbox(clock);
    const state = new FileUplinkState(`${dir}/uplink-state.json`);
    outbox.put([reading(T0), reading(T0 + 1)]);
    const first = makeUplink(baseUrl, outbox, clock, { state });
    first.uplink.start();
    assert.equal((await first.uplink.syncNow()).kind, 'acked');
    outbox.put([reading(T0 + 2), event(T0 + 3)]);
    cloud.mode = 'fail500';
    assert.equal((await first.uplink.syncNow()).kind, 'failed');
    await first.uplink.stop();
    const onDisk = JSON.parse(readFileSync(`${dir}/uplink-state.json`, 'utf8'));
    assert.equal(onDisk.nextBatchSeq, 3);
    assert.equal(onDisk.inflight.batchSeq, 2);
    assert.deepEqual(onDisk.inflight.seqs, [4, 3]);

    clock.advance(60_000);
    cloud.mode = 'ok';
    const second = makeUplink(baseUrl, outbox, clock, {
      state: new FileUplinkState(`${dir}/uplink-state.json`),
    });
    second.uplink.start();
    const outcome = await second.uplink.syncNow();
    assert.equal(outcome.kind === 'acked' && outcome.batchSeq, 2, 'the resend keeps its batchSeq');
    const attempts = cloud.requests.filter((r) => r.batchSeq === 2);
    assert.equal(attempts.length, 2);
    assert.equal(attempts[0]!.raw, attempts[1]!.raw, 'and its content, byte for byte');
    outbox.put([reading(T0 + 4)]);
    const third = await second.uplink.syncNow();
    assert.equal(third.kind === 'acked' && third.batchSeq, 3, 'numbering continues after the restart');
    assert.equal(outbox.stats().totalRows, 0);
  });
});
