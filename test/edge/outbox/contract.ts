import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { OutboxOptions } from '../../../edge/outbox/engine.js';
import type { Outbox, OutboxEntry } from '../../../edge/outbox/types.js';
import { isDoorstepError } from '../../../protocol/index.js';
import { alarm, event, ManualScheduler, reading, VirtualClock } from './helpers.js';

/** Storage for one test: fresh on open(), the same storage again on reopen() (a restart). */
export interface OutboxHarness {
  open(options?: OutboxOptions): Outbox;
  /** Closes `outbox` and opens a new instance on the same storage. */
  reopen(outbox: Outbox, options?: OutboxOptions): Outbox;
  dispose(): void;
}

/**
 * The one contract every Outbox implementation keeps (model: aedes-persistence's abstract test).
 * Run it with a factory per implementation: `outboxContract('sqlite', () => harness)`.
 */
export function outboxContract(name: string, makeHarness: () => OutboxHarness): void {
  describe(`Outbox contract: ${name}`, () => {
    let harness: OutboxHarness;
    let clock: VirtualClock;
    let scheduler: ManualScheduler;
    const opened: Outbox[] = [];
    const open = (config: OutboxOptions['config'] = {}) => {
      const outbox = harness.open({ config, clock, scheduler });
      opened.push(outbox);
      return outbox;
    };
    const reopen = (outbox: Outbox, config: OutboxOptions['config'] = {}) => {
      const again = harness.reopen(outbox, { config, clock, scheduler });
      opened.push(again);
      return again;
    };
    beforeEach(() => {
      harness = makeHarness();
      clock = new VirtualClock(1_700_000_000_000);
      scheduler = new ManualScheduler();
    });
    afterEach(() => {
      for (const outbox of opened.splice(0)) outbox.close();
      harness.dispose();
    });

    it('orders a batch alarm > event > telemetry, oldest first within a class', () => {
      const outbox = open();
      const put = outbox.put([reading(1), event(2), alarm('a1', 3), reading(4), event(5), alarm('a2', 6)]);
      assert.deepEqual(put.seqs, [1, 2, 3, 4, 5, 6]);
      const batch = outbox.nextBatch();
      assert.deepEqual(batch.seqs, [3, 6, 2, 5, 1, 4]);
      assert.deepEqual(
        batch.records.map((r) => r.class),
        ['alarm', 'alarm', 'event', 'event', 'telemetry', 'telemetry'],
      );
      assert.equal(batch.records[0]?.payload.ts, 3);
      assert.deepEqual(batch.records[4]?.payload, reading(1).payload);
    });

    it('sends live telemetry first when asked, alarms still oldest first', () => {
      const outbox = open();
      outbox.put([reading(1), reading(2), alarm('a1', 3), alarm('a2', 4), reading(5)]);
      const batch = outbox.nextBatch({ telemetryOrder: 'newest-first' });
      assert.deepEqual(batch.seqs, [3, 4, 5, 2, 1]);
    });

    it('limits a batch by rows and bytes but always returns at least one row', () => {
      const outbox = open();
      outbox.put([reading(1), reading(2), reading(3), reading(4)]);
      assert.deepEqual(outbox.nextBatch({ maxRows: 3 }).seqs, [1, 2, 3]);
      const one = outbox.nextBatch({ maxBytes: 1 });
      assert.deepEqual(one.seqs, [1]);
      const bytesOfTwo = outbox.nextBatch({ maxRows: 2 }).bytes;
      assert.deepEqual(outbox.nextBatch({ maxBytes: bytesOfTwo }).seqs, [1, 2]);
    });

    it('redelivers unacknowledged rows and removes exactly the acknowledged ones', () => {
      const outbox = open();
      outbox.put([reading(1), reading(2), reading(3), alarm('a1', 4)]);
      const first = outbox.nextBatch({ maxRows: 2 });
      assert.deepEqual(first.seqs, [4, 1]);
      assert.deepEqual(outbox.nextBatch({ maxRows: 2 }).seqs, first.seqs, 'same rows again without ack');
      assert.equal(outbox.ack([...first.seqs, 999, 999]), 2);
      assert.deepEqual(outbox.nextBatch().seqs, [2, 3]);
      assert.equal(outbox.ack([4]), 0, 'a second ack of the same seq removes nothing');
      outbox.put([reading(5)]);
      assert.equal(outbox.ack([3]), 1);
      assert.deepEqual(outbox.nextBatch().seqs, [2, 5]);
      assert.equal(outbox.stats().counters.acked, 3);
    });

    it('never reuses a seq, even after everything was acked and the outbox reopened', () => {
      let outbox = open();
      outbox.put([reading(1), reading(2)]);
      outbox.ack([1, 2]);
      outbox = reopen(outbox);
      assert.deepEqual(outbox.put([reading(3)]).seqs, [3]);
    });

    it('keeps pending rows, quarantine and counters across a restart', () => {
      let outbox = open();
      outbox.put([alarm('a1', 1), event(2), reading(3), reading(4)]);
      outbox.ack([4]);
      outbox.quarantine([2], 'rejected by cloud');
      const before = outbox.stats();
      outbox = reopen(outbox);
      const after = outbox.stats();
      assert.deepEqual(after.counters, before.counters);
      assert.equal(after.totalRows, 2);
      assert.equal(after.quarantined.rows, 1);
      assert.deepEqual(outbox.nextBatch().seqs, [1, 3]);
      assert.equal(outbox.listQuarantine()[0]?.reason, 'rejected by cloud');
    });

    it('drops the oldest telemetry when telemetry is over its cap, and counts it', () => {
      const outbox = open({ evictionSlack: 0, classes: { telemetry: { maxRows: 5, downsampleEvery: 1 } } });
      const result = outbox.put(Array.from({ length: 8 }, (_, i) => reading(i + 1)));
      assert.equal(result.dropped.telemetry.cap, 3);
      assert.deepEqual(outbox.nextBatch().seqs, [4, 5, 6, 7, 8]);
      assert.equal(outbox.stats().counters.dropped.telemetry.cap, 3);
    });

    it('drops telemetry over its byte cap', () => {
      const size = Buffer.byteLength(JSON.stringify(reading(1).payload));
      const outbox = open({
        evictionSlack: 0,
        classes: { telemetry: { maxBytes: size * 3, downsampleEvery: 1 } },
      });
      outbox.put(Array.from({ length: 5 }, (_, i) => reading(i + 1)));
      assert.deepEqual(outbox.nextBatch().seqs, [3, 4, 5]);
    });

    it('downsamples the oldest telemetry per series instead of cutting a block', () => {
      const outbox = open({
        evictionSlack: 0.5,
        classes: { telemetry: { maxRows: 20, downsampleEvery: 2 } },
      });
      // Two series interleaved: a global "every 2nd row" would erase one of them entirely.
      const entries = Array.from({ length: 21 }, (_, i) => reading(i + 1, i % 2 === 0 ? 'gas' : 'battery'));
      const result = outbox.put(entries);
      assert.ok(result.dropped.telemetry.downsample > 0);
      const kept = outbox.nextBatch({ maxRows: 100 }).records;
      assert.ok(kept.length <= 20 * 0.5 + 1, `kept ${kept.length}`);
      const points = new Set(kept.slice(0, 4).map((r) => (r.payload as { point: string }).point));
      assert.deepEqual([...points].sort(), ['battery', 'gas'], 'both series survive in the thinned head');
      assert.equal(kept.at(-1)?.seq, 21, 'the newest reading is kept');
      const stats = outbox.stats();
      assert.equal(
        stats.counters.dropped.telemetry.downsample + stats.counters.dropped.telemetry.cap,
        21 - kept.length,
      );
    });

    it('drops the oldest events beyond their cap and never an alarm', () => {
      const outbox = open({ evictionSlack: 0, classes: { event: { maxRows: 2 }, alarm: { maxRows: 2 } } });
      const result = outbox.put([
        event(1),
        event(2),
        event(3),
        alarm('a1', 4),
        alarm('a2', 5),
        alarm('a3', 6),
      ]);
      assert.equal(result.dropped.event.cap, 1);
      assert.equal(result.alarmsOverCap, true, 'alarms beyond their class cap are accepted and reported');
      assert.deepEqual(outbox.nextBatch().seqs, [4, 5, 6, 2, 3]);
      const stats = outbox.stats();
      assert.equal(stats.pending.alarm.overCap, true);
      assert.equal(stats.counters.alarmsAcceptedOverCap, 3);
      assert.equal(stats.counters.dropped.alarm.cap, 0);
    });

    it('when the store is full, telemetry goes first, then events, never alarms', () => {
      const outbox = open({
        evictionSlack: 0,
        store: { maxRows: 4 },
        classes: { telemetry: { downsampleEvery: 1 } },
      });
      outbox.put([reading(1), event(2), reading(3), event(4)]);
      const withAlarm = outbox.put([alarm('a1', 5)]);
      assert.equal(withAlarm.dropped.telemetry.cap, 1);
      assert.equal(withAlarm.alarmsOverCap, false);
      assert.deepEqual(outbox.nextBatch().seqs, [5, 2, 4, 3]);
      outbox.put([alarm('a2', 6), alarm('a3', 7)]);
      assert.deepEqual(outbox.nextBatch().seqs, [5, 6, 7, 4], 'telemetry gone, then the oldest event');
      const onlyAlarms = outbox.put([alarm('a4', 8), alarm('a5', 9)]);
      assert.equal(onlyAlarms.alarmsOverCap, true);
      assert.deepEqual(outbox.nextBatch().seqs, [5, 6, 7, 8, 9], 'only alarms left: accepted beyond the cap');
      const stats = outbox.stats();
      assert.equal(stats.storeOverCap, true);
      assert.equal(stats.counters.alarmsAcceptedOverCap, 2);
      assert.deepEqual(stats.counters.dropped.alarm, {
        cap: 0,
        ttl: 0,
        downsample: 0,
        quarantine_cap: 0,
        storage_full: 0,
        storage_refused: 0,
      });
      assert.equal(stats.counters.dropped.telemetry.cap, 2);
      assert.equal(stats.counters.dropped.event.cap, 2);
    });

    it('expires telemetry and events past their TTL, never alarms', () => {
      const outbox = open({ classes: { telemetry: { ttlMs: 1000 }, event: { ttlMs: 5000 } } });
      outbox.put([reading(1), event(2), alarm('a1', 3)]);
      clock.advance(1001);
      outbox.put([reading(4)]);
      assert.deepEqual(outbox.nextBatch().seqs, [3, 2, 4], 'nextBatch never returns an expired row');
      clock.advance(10_000);
      const result = outbox.maintain();
      assert.equal(result.expired.event.ttl, 1);
      assert.equal(result.expired.telemetry.ttl, 1);
      assert.deepEqual(outbox.nextBatch().seqs, [3]);
      clock.advance(365 * 24 * 3600 * 1000);
      outbox.maintain();
      assert.deepEqual(outbox.nextBatch().seqs, [3], 'an alarm has no TTL');
      assert.deepEqual(outbox.stats().counters.dropped.telemetry.ttl, 2);
    });

    it('runs maintenance from the injected timer and stops it on close', () => {
      const outbox = open({ maintenanceIntervalMs: 500, classes: { telemetry: { ttlMs: 100 } } });
      assert.equal(scheduler.active(), 1);
      assert.equal(scheduler.intervalMs(), 500);
      outbox.put([reading(1)]);
      clock.advance(200);
      scheduler.tick();
      assert.equal(outbox.stats().counters.dropped.telemetry.ttl, 1);
      outbox.close();
      assert.equal(scheduler.active(), 0);
    });

    it('quarantines a rejected batch: kept, counted, listed, not blocking what follows', () => {
      const outbox = open();
      outbox.put([alarm('a1', 1), event(2), reading(3), reading(4)]);
      const rejected = outbox.nextBatch({ maxRows: 2 });
      assert.equal(outbox.quarantine(rejected.seqs, 'CLOUD_ERR_SCHEMA: bad field'), 2);
      assert.deepEqual(outbox.nextBatch().seqs, [3, 4]);
      const listed = outbox.listQuarantine();
      assert.deepEqual(
        listed.map((r) => [r.seq, r.class, r.reason]),
        [
          [1, 'alarm', 'CLOUD_ERR_SCHEMA: bad field'],
          [2, 'event', 'CLOUD_ERR_SCHEMA: bad field'],
        ],
      );
      assert.equal(listed[0]?.quarantinedAt, clock.now());
      assert.deepEqual(
        outbox.listQuarantine({ afterSeq: 1 }).map((r) => r.seq),
        [2],
      );
      assert.equal(outbox.ack([1]), 0, 'a quarantined row is not acknowledged');
      const stats = outbox.stats();
      assert.equal(stats.quarantined.rows, 2);
      assert.equal(stats.counters.quarantined, 2);
      assert.equal(outbox.requeue([1, 2, 77]), 2);
      assert.deepEqual(outbox.nextBatch().seqs, [1, 2, 3, 4], 'requeued rows keep their seq and place');
      assert.equal(outbox.stats().counters.requeued, 2);
    });

    it('bounds the quarantine by dropping its oldest non-alarm rows, keeping alarms', () => {
      const outbox = open({ quarantine: { maxRows: 2 } });
      outbox.put([alarm('a1', 1), event(2), reading(3), reading(4), alarm('a2', 5)]);
      outbox.quarantine([1, 2, 3, 4, 5], 'bad');
      assert.deepEqual(
        outbox.listQuarantine().map((r) => r.seq),
        [1, 5],
      );
      const dropped = outbox.stats().counters.dropped;
      assert.equal(dropped.event.quarantine_cap, 1);
      assert.equal(dropped.telemetry.quarantine_cap, 2);
      outbox.put([alarm('a3', 6)]);
      outbox.quarantine([6], 'bad');
      assert.deepEqual(
        outbox.listQuarantine().map((r) => r.seq),
        [1, 5, 6],
        'alarms kept beyond the cap',
      );
    });

    it('stores an alarm transition once while it is pending (key = id:state)', () => {
      const outbox = open();
      const first = outbox.put([alarm('a1', 1), alarm('a1', 1)]);
      assert.deepEqual(first.seqs, [1, 1]);
      assert.equal(first.duplicates, 1);
      assert.deepEqual(outbox.put([alarm('a1', 1, 'cleared')]).seqs, [2], 'another state is another row');
      assert.deepEqual(
        outbox.put([
          { ...reading(2), key: 'k' },
          { ...reading(3), key: 'k' },
        ]).seqs,
        [3, 3],
      );
      assert.equal(outbox.seqOfKey('alarm:alarm-a1:raised'), 1, 'pending: seqOfKey names its row');
      outbox.ack([1]);
      assert.equal(outbox.seqOfKey('alarm:alarm-a1:raised'), undefined, 'acknowledged: gone');
      outbox.quarantine([2], 'test');
      assert.equal(outbox.seqOfKey('alarm:alarm-a1:cleared'), 2, 'quarantined rows still hold their key');
      assert.deepEqual(outbox.put([alarm('a1', 1)]).seqs, [4], 'after its ack the key is free again');
      assert.equal(outbox.stats().counters.duplicates, 2);
    });

    it('rejects a put with an invalid entry as a whole, changing nothing', () => {
      const outbox = open({ maxEntryBytes: 200 });
      outbox.put([reading(1)]);
      const before = outbox.stats();
      const invalid: unknown[] = [
        { class: 'metric', ts: 1, payload: {} },
        { class: 'telemetry', ts: -1, payload: {} },
        { class: 'telemetry', ts: 1.5, payload: {} },
        { class: 'event', ts: 1, payload: null },
        { class: 'event', ts: 1, payload: [1] },
        { class: 'event', ts: 1, payload: { kind: 'x', blob: 'y'.repeat(300) } },
        { class: 'event', ts: 1, payload: { kind: 'x', n: 1n } },
        { class: 'event', ts: 1, payload: { kind: 'x' }, key: '' },
      ];
      for (const bad of invalid) {
        assert.throws(
          () => outbox.put([alarm('ok', 2), bad as OutboxEntry]),
          (error: unknown) => isDoorstepError(error, 'EDGE_ERR_OUTBOX_ENTRY') && error.details.index === 1,
        );
      }
      assert.deepEqual(outbox.stats(), before);
      assert.deepEqual(outbox.nextBatch().seqs, [1]);
    });

    it('refuses use when not open; open and close are idempotent', () => {
      const outbox = open();
      outbox.open();
      outbox.close();
      outbox.close();
      assert.throws(
        () => outbox.put([reading(1)]),
        (e: unknown) => isDoorstepError(e, 'EDGE_ERR_OUTBOX_CLOSED'),
      );
      assert.throws(
        () => outbox.nextBatch(),
        (e: unknown) => isDoorstepError(e, 'EDGE_ERR_OUTBOX_CLOSED'),
      );
    });
  });
}
