import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { map, Subject } from 'rxjs';
import { onDelayOperator } from '../../../../edge/rules/operators/delay.js';
import { staleAfter, staleOperator } from '../../../../edge/rules/operators/stale-after.js';
import { type Keyed, type KeyedStats, keyed, WakeQueue } from '../../../../edge/rules/operators/step.js';
import { isInWindow } from '../../../../edge/rules/schedule.js';
import { Clock } from '../harness.js';
import { bools, marbles } from './marbles.js';

describe('keyed operators: one stage, a map of plain states, one deadline queue', () => {
  it('each series keeps its own on-delay; the timers are deadlines on one queue', () => {
    const scheduler = marbles();
    scheduler.run(({ cold, expectObservable }) => {
      // a: true at 0 (raised at 4); b: true at 1, false at 3 (never raised); b again at 5 (raised at 9)
      const input = cold('a b - c - d', {
        a: { key: 'a', value: true },
        b: { key: 'b', value: true },
        c: { key: 'b', value: false },
        d: { key: 'b', value: true },
      });
      const out = input.pipe(
        keyed(onDelayOperator(4), { scheduler }),
        map((o: Keyed<boolean>) => `${o.key}${o.value ? 'T' : 'F'}`),
      );
      expectObservable(out).toBe('---ca----b', { a: 'aT', b: 'bT', c: 'bF' });
    });
  });

  it('unchanged: armed by the first value, stale when the value stops changing', () => {
    const scheduler = marbles();
    scheduler.run(({ hot, expectObservable }) => {
      const heartbeat = hot('--a-b-b-b------', { a: 0, b: 1 });
      const op = staleOperator({ afterMs: 5, onChange: true });
      const out = heartbeat.pipe(
        map((value) => ({ key: 'h', value })),
        keyed(op, { scheduler, seed: ['h'] }),
        map((o) => o.value),
      );
      // not armed before the first value (no alarm for a device without a heartbeat point);
      // last change at 4 → stale at 9
      expectObservable(out, '^ 14ms !').toBe('f--------t', bools);
    });
  });

  it('a series that disappears is evicted once idle and at rest; the map stays bounded', () => {
    const clock = new Clock(0);
    const input = new Subject<Keyed<unknown>>();
    const stats: KeyedStats = { series: 0 };
    const seen: string[] = [];
    input
      .pipe(keyed(staleOperator({ afterMs: 1000 }), { scheduler: clock, evictAfterMs: 10_000 }, stats))
      .subscribe((o) => seen.push(`${o.key}:${o.value}@${clock.now()}`));
    for (let i = 0; i < 100; i++) input.next({ key: `dev-${i}`, value: 1 });
    assert.equal(stats.series, 100);
    clock.advanceTo(1000); // every series went stale: an output each, then nothing pending
    assert.equal(seen.filter((s) => s.endsWith(':true@1000')).length, 100);
    clock.advanceTo(20_000);
    input.next({ key: 'dev-new', value: 1 }); // new series arrives: the idle ones are dropped
    assert.equal(stats.series, 1);
    // maxSeries bounds the map even before anything is idle
    const bounded: KeyedStats = { series: 0 };
    const second = new Subject<Keyed<boolean>>();
    second.pipe(keyed(onDelayOperator(0), { scheduler: clock, maxSeries: 10 }, bounded)).subscribe();
    for (let i = 0; i < 50; i++) second.next({ key: `k-${i}`, value: false });
    assert.ok(bounded.series <= 11, `bounded map, got ${bounded.series}`);
  });

  it('a series with a pending deadline is not evicted (its timer must still fire)', () => {
    const clock = new Clock(0);
    const input = new Subject<Keyed<boolean>>();
    const out: string[] = [];
    input
      .pipe(keyed(onDelayOperator(50_000), { scheduler: clock, evictAfterMs: 10_000 }))
      .subscribe((o) => out.push(`${o.key}:${o.value}@${clock.now()}`));
    input.next({ key: 'slow', value: true });
    clock.advanceTo(20_000);
    input.next({ key: 'other', value: false });
    clock.advanceTo(50_000);
    assert.deepEqual(out, ['other:false@20000', 'slow:true@50000']);
  });

  it('the wake queue runs one scheduler action for many deadlines, in time order', () => {
    const clock = new Clock(0);
    const wakes = new WakeQueue(clock);
    const order: number[] = [];
    for (const t of [50, 10, 40, 10, 30, 20]) wakes.at(t, () => order.push(t));
    assert.equal(clock.actions.length, 1, 'one scheduled action');
    clock.advanceTo(100);
    assert.deepEqual(order, [10, 10, 20, 30, 40, 50]);
    assert.equal(wakes.size, 0);
  });

  it('a deadline queued by a callback does not delay an earlier one already queued', () => {
    const clock = new Clock(0);
    const fired: number[] = [];
    const wakes = new WakeQueue(clock);
    wakes.at(10, () => wakes.at(50, () => fired.push(clock.now())));
    wakes.at(20, () => fired.push(clock.now()));
    clock.advanceTo(100);
    assert.deepEqual(fired, [20, 50]);
  });

  it('staleAfter through the keyed wrapper is the single-series operator', () => {
    const scheduler = marbles();
    scheduler.run(({ hot, expectObservable }) => {
      expectObservable(hot('-a').pipe(staleAfter(3, scheduler)), '^ 9ms !').toBe('f---t', bools);
    });
  });

  it('holidays: no window opens on a listed local date', () => {
    const HOUR = 3_600_000;
    const night = { from: '22:00', to: '06:00' };
    // 1970-01-01 (Thursday) 23:00 local = 15 h virtual
    assert.equal(isInWindow(night, 15 * HOUR), true);
    assert.equal(isInWindow(night, 15 * HOUR, ['1970-01-01']), false);
    assert.equal(isInWindow(night, 15 * HOUR, ['1970-01-02']), true);
    // Friday 03:00 belongs to the window that opened Thursday evening
    assert.equal(isInWindow(night, 19 * HOUR, ['1970-01-02']), true);
  });
});
