import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UplinkBatch } from '../../../protocol/index.js';
import { alarm, drain, makeUplink, memoryOutbox, reading, startCloud, T0, VirtualClock } from './helpers.js';

const readings = (n: number, from = 0) => Array.from({ length: n }, (_, i) => reading(T0 + from + i));

describe('uplink rejections', () => {
  it('400 naming a row: only that row is quarantined, the rest and the next batches flow', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put(readings(30));
    cloud.badSeqs.add(5);
    const { uplink } = makeUplink(baseUrl, outbox, clock, { batch: { rows: 10 }, backlogPace: 'max' });
    uplink.start();
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) outcomes.push((await uplink.syncNow()).kind);
    assert.deepEqual(outcomes, ['acked', 'acked', 'quarantined', 'acked', 'idle']);
    assert.equal(cloud.stored.size, 29);
    const q = outbox.listQuarantine();
    assert.deepEqual(
      q.map((r) => r.seq),
      [5],
    );
    assert.match(q[0]!.reason, /CLOUD_ERR_VALIDATION at telemetry\.value\.4/);
    assert.deepEqual(uplink.stats().quarantined, {
      batches: 1,
      rows: 1,
      alarmsIsolated: 0,
      alarmsRescued: 0,
    });
    assert.equal(uplink.stats().batches.failed.malformed, 1);
    // Visible in the health report of the following batches.
    clock.advance(31_000);
    outbox.put([reading(T0 + 500)]);
    assert.equal((await uplink.syncNow()).kind, 'acked');
    const health = UplinkBatch.parse(JSON.parse(cloud.acceptedRequests().at(-1)!.raw)).health;
    assert.equal(health?.outbox.quarantined, 1);
  });

  it('400 naming a row the way the cloud writes it (telemetry.value[4]): only that row is set aside', async () => {
    const { cloud, baseUrl } = await startCloud();
    cloud.bracketPaths = true;
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put([alarm('good', T0), ...readings(9, 1)]);
    cloud.badSeqs.add(5);
    const { uplink } = makeUplink(baseUrl, outbox, clock, { batch: { rows: 10 }, backlogPace: 'max' });
    uplink.start();
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) outcomes.push((await uplink.syncNow()).kind);
    assert.deepEqual(outcomes, ['quarantined', 'acked', 'idle']);
    assert.deepEqual(
      outbox.listQuarantine().map((r) => r.seq),
      [5],
    );
    assert.match(outbox.listQuarantine()[0]!.reason, /at telemetry\.value\[3\]/);
    assert.equal(cloud.stored.size, 9, 'the alarm and every other reading');
  });

  it('400 without a field: the whole batch is quarantined and never blocks what follows', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put(readings(20));
    cloud.badSeqs.add(5);
    cloud.hideField = true;
    const { uplink } = makeUplink(baseUrl, outbox, clock, { batch: { rows: 10 }, backlogPace: 'max' });
    uplink.start();
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) outcomes.push((await uplink.syncNow()).kind);
    assert.deepEqual(outcomes, ['acked', 'quarantined', 'idle']);
    assert.deepEqual(
      outbox.listQuarantine().map((r) => r.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.match(outbox.listQuarantine()[0]!.reason, /CLOUD_ERR_VALIDATION at -/);
    outbox.put([reading(T0 + 100)]);
    assert.equal((await uplink.syncNow()).kind, 'acked');
    assert.equal(cloud.stored.size, 11);
  });

  it('a good alarm in a rejected batch is retried alone and delivered; only what is still rejected is quarantined', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put([alarm('good', T0), alarm('bad', T0 + 1), ...readings(6, 2)]);
    cloud.badSeqs.add(2); // the second alarm
    cloud.badSeqs.add(5); // a reading
    const { uplink } = makeUplink(baseUrl, outbox, clock);
    uplink.start();
    const outcome = await uplink.syncNow();
    assert.equal(outcome.kind, 'quarantined');
    assert.equal(outcome.kind === 'quarantined' && outcome.delivered, 1);
    assert.equal(cloud.count('alarm'), 1, 'the good alarm reached the cloud');
    assert.ok(cloud.storedSeqs().has(1));
    assert.deepEqual(
      outbox.listQuarantine().map((r) => r.seq),
      [2],
      'the cloud blamed the alarm: the readings were never judged and stay pending',
    );
    assert.match(outbox.listQuarantine()[0]!.reason, /alone: CLOUD_ERR_VALIDATION at alarms\.0/);
    const isolated = cloud.requests.filter((r) => r.alarmSeqs.length === 1 && r.telemetrySeqs.length === 0);
    assert.equal(isolated.length, 2, 'one batch per alarm');
    assert.ok(
      isolated.every((r) => !r.hasHealth),
      'isolation batches carry no health',
    );
    assert.equal((await uplink.syncNow()).kind, 'quarantined', 'the bad reading is named next');
    assert.equal((await uplink.syncNow()).kind, 'acked');
    assert.deepEqual(
      outbox.listQuarantine().map((r) => r.seq),
      [2, 5],
    );
    assert.deepEqual([...cloud.storedSeqs()].sort(), [1, 3, 4, 6, 7, 8]);
    assert.deepEqual(uplink.stats().quarantined, {
      batches: 2,
      rows: 2,
      alarmsIsolated: 2,
      alarmsRescued: 1,
    });
    assert.equal(outbox.stats().totalRows, 0);
  });

  it('a lone alarm the cloud rejects is quarantined without a pointless retry', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put([alarm('bad', T0)]);
    cloud.badSeqs.add(1);
    const { uplink } = makeUplink(baseUrl, outbox, clock);
    uplink.start();
    assert.equal((await uplink.syncNow()).kind, 'quarantined');
    assert.equal(cloud.requests.length, 1);
    assert.equal(outbox.listQuarantine().length, 1);
  });

  it('a row that fails the sync schema locally is quarantined before sending; the rest goes', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    const bad = reading(T0 + 1);
    if (bad.class === 'telemetry') bad.payload = { ...bad.payload, device: 'Not A Slug!' };
    outbox.put([reading(T0), bad, reading(T0 + 2)]);
    const { uplink } = makeUplink(baseUrl, outbox, clock);
    uplink.start();
    assert.equal((await uplink.syncNow()).kind, 'acked');
    assert.deepEqual([...cloud.storedSeqs()].sort(), [1, 3]);
    const q = outbox.listQuarantine();
    assert.deepEqual(
      q.map((r) => r.seq),
      [2],
    );
    assert.match(q[0]!.reason, /row 2 \(telemetry\) cannot be sent: device/);
    assert.equal(cloud.requests.filter((r) => r.status === 400).length, 0);
  });

  it('413: halves the batch until the cloud takes it, delivers everything', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put(readings(64));
    cloud.maxBodyBytes = 1200;
    const { uplink } = makeUplink(baseUrl, outbox, clock, { batch: { rows: 64 }, backlogPace: 'max' });
    uplink.start();
    await drain(uplink, outbox);
    assert.equal(outbox.stats().totalRows, 0);
    assert.equal(cloud.stored.size, 64);
    assert.equal(outbox.stats().quarantined.rows, 0);
    const stats = uplink.stats();
    assert.ok(stats.splits >= 1);
    assert.ok(stats.batchLimits.rows < 64, `limit shrank to ${stats.batchLimits.rows}`);
    assert.ok(cloud.acceptedRequests().every((r) => r.raw.length <= 1200));
    assert.ok(cloud.requests.some((r) => r.status === 413));
  });

  it('413 for a single row: that row is quarantined, never retried forever', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put(readings(2));
    cloud.maxBodyBytes = 10;
    const { uplink } = makeUplink(baseUrl, outbox, clock);
    uplink.start();
    const kinds: string[] = [];
    for (let i = 0; i < 4; i++) kinds.push((await uplink.syncNow()).kind);
    assert.deepEqual(kinds.slice(0, 3), ['split', 'quarantined', 'quarantined']);
    assert.equal(outbox.stats().quarantined.rows, 2);
    assert.equal(outbox.stats().totalRows, 0);
  });
});
