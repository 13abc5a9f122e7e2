/**
 * The tier feed's `case` messages come from the case-event log (cloud/feed/cases.ts): changes from
 * the moment the feed first starts, each once per reader, valid FeedMessages, resumed after a
 * restart from the durable cursor (nothing lost, nothing repeated).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryAlarmCaseStore } from '../../../cloud/alarms/store/memory.js';
import { startCaseFeed } from '../../../cloud/feed/cases.js';
import { MemoryFeedSink } from '../../../cloud/feed-sink.js';
import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import { FeedMessage } from '../../../protocol/index.js';
import { duty, lifecycle, seedRegistry, T0, transition } from '../alarms/helpers.js';

describe('tier feed: case messages from the case-event log', () => {
  it('publishes each change once, from its first start on, and resumes after a restart', async () => {
    const registry = new MemoryCloudStore();
    await seedRegistry(registry);
    const cases = new MemoryAlarmCaseStore();
    const clock = { now: T0 + 60_000 };
    const { service } = lifecycle(cases, registry, clock);
    // History before the feed ever ran is not replayed to the tiers.
    await service.applyTransitions([transition('old-1', 'raised', T0)]);
    const feed = new MemoryFeedSink();
    const start = () => startCaseFeed({ source: cases, feed, holder: 'feed-a', clock: () => clock.now });
    let reader = start();
    await reader.drain();
    await service.applyTransitions([transition('alarm-0001', 'raised', T0, { device: 'smoke-9' })]);
    await service.ack('alarm-0001', duty);
    await reader.drain();
    assert.deepEqual(
      feed.messages.map((m) => [m.kind, m.data['id'], m.data['event'], m.data['state']]),
      [
        ['case', 'alarm-0001', 'raised', 'UNACK'],
        ['case', 'alarm-0001', 'acked', 'ACKED'],
      ],
    );
    for (const m of feed.messages) assert.ok(FeedMessage.safeParse(m).success, JSON.stringify(m));
    assert.deepEqual(feed.messages[0]?.site, {
      district: 'pudong',
      town: 'zhangjiang',
      community: 'lane-100',
    });
    assert.equal(feed.messages[1]?.data['by'], duty.name);
    await reader.stop();
    // Changed while the feed was down: published after the restart, and only that.
    await service.applyTransitions([transition('alarm-0001', 'cleared', T0 + 1000, { device: 'smoke-9' })]);
    reader = start();
    await reader.drain();
    await reader.stop();
    assert.deepEqual(
      feed.messages.map((m) => m.data['event']),
      ['raised', 'acked', 'cleared'],
    );
  });
});
