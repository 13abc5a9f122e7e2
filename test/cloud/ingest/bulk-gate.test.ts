import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BulkGate } from '../../../cloud/ingest/bulk-gate.js';
import { inSlices } from '../../../cloud/store/common.js';

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('BulkGate', () => {
  it('lets one bulk batch through at a time, first come first served', async () => {
    const gate = new BulkGate();
    const a = {};
    const b = {};
    const order: string[] = [];
    await gate.enter(a);
    const second = gate.enter(b).then(() => order.push('b'));
    await tick();
    assert.deepEqual(order, [], 'b waits while a holds the gate');
    assert.equal(gate.queued, 1);
    gate.leave(a);
    await second;
    assert.deepEqual(order, ['b']);
    gate.leave(b);
    gate.leave(b); // idempotent
    assert.equal(gate.queued, 0);
  });

  it('whenIdle resolves when the last bulk batch leaves, or after its limit', async () => {
    const gate = new BulkGate();
    await gate.whenIdle(60_000); // idle: at once
    const a = {};
    const b = {};
    await gate.enter(a);
    const bEntered = gate.enter(b);
    let idle = false;
    const waiting = gate.whenIdle(60_000).then(() => {
      idle = true;
    });
    gate.leave(a);
    await bEntered;
    await tick();
    assert.equal(idle, false, 'b took the gate over: still busy');
    gate.leave(b);
    await waiting;
    assert.equal(idle, true);

    await gate.enter(a);
    const started = performance.now();
    await gate.whenIdle(30); // a never leaves: the limit ends the wait
    assert.ok(performance.now() - started >= 25);
    gate.leave(a);

    // Quiet period: a batch that comes back within it keeps maintenance waiting.
    let quietOver = false;
    const quiet = gate.whenIdle(60_000, 60).then(() => {
      quietOver = true;
    });
    await tick();
    await gate.enter(b); // the next batch, 10 ms after the last one left
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(quietOver, false, 'busy again within the quiet period');
    gate.leave(b);
    const left = performance.now();
    await quiet;
    assert.ok(performance.now() - left >= 55, 'waited a full quiet period after the last batch left');
  });

  it('holds maintenance slices back while bulk ingest is in progress', async () => {
    const gate = new BulkGate();
    const batch = {};
    await gate.enter(batch);
    let steps = 0;
    let left = 1;
    const bounds = { sliceMs: 10, start: 10, min: 1, max: 100 };
    const run = inSlices(
      () => {
        steps++;
        return left-- > 0 ? 1 : -1;
      },
      bounds,
      { whenBulkIdle: (ms, quietMs) => gate.whenIdle(ms, quietMs) },
    );
    await tick();
    assert.equal(steps, 0, 'no slice while a bulk batch is being ingested');
    gate.leave(batch);
    assert.equal(await run, 1);
    assert.equal(steps, 2);
  });
});
