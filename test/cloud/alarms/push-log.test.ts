/**
 * The console push follows the case-event log (cloud/console/push.ts): a change committed by this
 * instance reaches the board at once (the lifecycle's doorbell), one committed by another instance
 * at the next look; a scope that saw no change is not read again; heartbeats stop when the log
 * cannot be read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { MemoryAlarmCaseStore } from '../../../cloud/alarms/store/memory.js';
import type { BoardFilter } from '../../../cloud/alarms/store/port.js';
import { CasePush, type PushMessage } from '../../../cloud/console/push.js';
import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import { duty, GARDEN, lifecycle, seedRegistry, T0, transition } from './helpers.js';

const until = async (what: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.ok(what(), 'condition reached in time');
};

describe('console push reads the case-event log', () => {
  it('pushes a change as soon as it is committed, reads only the boards it touches, beats only while the log is read', async () => {
    const registry = new MemoryCloudStore();
    await seedRegistry(registry);
    const cases = new MemoryAlarmCaseStore();
    const clock = { now: T0 + 60_000 };
    const { service } = lifecycle(cases, registry, clock);
    // Counts board reads per scope, and can make the log unreadable.
    const reads = new Map<string, number>();
    let logDown = false;
    const lister = {
      board: (scope: string, f: BoardFilter) => {
        reads.set(scope, (reads.get(scope) ?? 0) + 1);
        return service.board(scope, f);
      },
      readEvents: (after: number, limit: number) =>
        logDown ? Promise.reject(new Error('log unreadable')) : service.readEvents(after, limit),
      lastEventSeq: () => service.lastEventSeq(),
    };
    // A look every 10 minutes: only the doorbell (or pollNow) can deliver within this test.
    const push = new CasePush(lister, () => clock.now, pino({ level: 'silent' }), 600_000, 5_000);
    const unring = service.onAppend(() => push.wake());
    const lane: PushMessage[] = [];
    const garden: PushMessage[] = [];
    try {
      const offLane = await push.subscribe('pudong/zhangjiang', (m) => lane.push(m));
      await push.subscribe('pudong/huamu', (m) => garden.push(m));
      assert.deepEqual([lane[0]?.type, garden[0]?.type], ['snapshot', 'snapshot']);
      const gardenReads = reads.get('pudong/huamu');
      await service.applyTransitions([transition('alarm-0001', 'raised', T0)]);
      await until(() => lane.some((m) => m.type === 'changes'));
      const change = lane.find((m) => m.type === 'changes');
      assert.deepEqual(change?.type === 'changes' ? change.upserts.map((v) => v.id) : [], ['alarm-0001']);
      assert.equal(reads.get('pudong/huamu'), gardenReads, "the other town's board was not read again");
      assert.equal(garden.length, 1);
      // An acknowledgement is a change too.
      await service.ack('alarm-0001', duty);
      await until(() => lane.filter((m) => m.type === 'changes').length === 2);
      // A change in the other town reaches only its own listeners.
      await service.applyTransitions([transition('alarm-0002', 'raised', T0, { gateway: 'gw-2' })], {
        site: GARDEN,
      });
      await until(() => garden.some((m) => m.type === 'changes'));
      assert.equal(lane.filter((m) => m.type === 'changes').length, 2);
      offLane();
      // Heartbeats come only after a successful read of the log.
      const push2 = new CasePush(lister, () => clock.now, pino({ level: 'silent' }), 20, 100);
      const beats: PushMessage[] = [];
      const off2 = await push2.subscribe('pudong/huamu', (m) => beats.push(m));
      await until(() => beats.some((m) => m.type === 'heartbeat'));
      logDown = true;
      await new Promise((r) => setTimeout(r, 100));
      const before = beats.length;
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(beats.length, before, 'no heartbeat while the log cannot be read');
      logDown = false;
      await until(() => beats.length > before);
      off2();
      push2.close();
    } finally {
      unring();
      push.close();
    }
  });
});
