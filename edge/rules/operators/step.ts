/**
 * The shape every rule operator has (docs/architecture.md "Rules are data compiled to RxJS"): a
 * small state machine over a plain, JSON-serialisable state object. `step` is the only place an
 * operator's logic lives; the rule engine calls it directly per series, and `keyed`/`single` below
 * wrap the same function as RxJS operators (one pipeline stage per rule, a `Map` of plain states per
 * series inside it — never a subscriber or an RxJS timer per series), so marble tests test the code
 * that runs.
 *
 * `step` updates the state in place (no allocation per reading on the hot path) and returns the new
 * output, or `NONE` when the output did not change. Time is always passed in (`now`), never read
 * from a clock: an operator has no timers of its own. It says when it next needs to be looked at
 * without input through `wakeAt(state)`, and whoever drives it (the engine's single deadline timer,
 * or the `WakeQueue` of the RxJS wrapper) feeds it a `TICK` at that time.
 */
import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';

/** The input of a time tick (no data, only time passed). */
export const TICK: unique symbol = Symbol('tick');
export type Tick = typeof TICK;
/** The output did not change. */
export const NONE: unique symbol = Symbol('none');
export type None = typeof NONE;

export interface StepOperator<I, S, O> {
  /** State of a series first seen at `now`. Plain data only (it is persisted as JSON). */
  init(now: number): S;
  /** Applies one input (or a time tick) at `now`; the new output, or NONE when it did not change. */
  step(state: S, input: I | Tick, now: number): O | None;
  /** When the state needs a TICK without input; +Infinity: never. */
  wakeAt(state: S): number;
  /** Step a TICK when a series is created (staleness counts from the start, not the first datum). */
  tickAtStart?: boolean;
}

/** One value of one series (device × rule, or whatever the caller keys by). */
export interface Keyed<T> {
  key: string;
  value: T;
}

interface Entry<S> {
  key: string;
  state: S;
  touched: number;
  /** The wake this entry has in the queue (+Infinity: none). */
  queued: number;
}

/**
 * One deadline queue per engine or pipeline: a binary min-heap of (time, target) and ONE scheduler
 * action at the earliest deadline. A deadline that moved later (a stale timer refreshed by data) is
 * not removed: it fires, the target finds nothing due and queues its real deadline again — so each
 * series has at most one or two entries, and a reading never reschedules a timer.
 */
export class WakeQueue {
  readonly #scheduler: SchedulerLike;
  readonly #times: number[] = [];
  readonly #targets: (() => void)[] = [];
  #action: Subscription | undefined;
  #actionAt = Number.POSITIVE_INFINITY;

  readonly #afterFire: (() => void) | undefined;

  /** `afterFire`: called once after each pass over the due deadlines (the engine commits there). */
  constructor(scheduler: SchedulerLike = asyncScheduler, afterFire?: () => void) {
    this.#scheduler = scheduler;
    this.#afterFire = afterFire;
  }

  get size(): number {
    return this.#times.length;
  }

  now(): number {
    return this.#scheduler.now();
  }

  /** Calls `target` at `at` (or soon after). */
  at(at: number, target: () => void): void {
    if (!Number.isFinite(at)) return;
    const times = this.#times;
    const targets = this.#targets;
    let i = times.length;
    times.push(at);
    targets.push(target);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent]! <= at) break;
      times[i] = times[parent]!;
      targets[i] = targets[parent]!;
      i = parent;
    }
    times[i] = at;
    targets[i] = target;
    if (at < this.#actionAt) this.#arm(at);
  }

  cancelAll(): void {
    this.#times.length = 0;
    this.#targets.length = 0;
    this.#action?.unsubscribe();
    this.#action = undefined;
    this.#actionAt = Number.POSITIVE_INFINITY;
  }

  #arm(at: number): void {
    this.#action?.unsubscribe();
    this.#actionAt = at;
    this.#action = this.#scheduler.schedule(() => this.#fire(), Math.max(0, at - this.#scheduler.now()));
  }

  #pop(): () => void {
    const times = this.#times;
    const targets = this.#targets;
    const top = targets[0]!;
    const lastTime = times.pop()!;
    const lastTarget = targets.pop()!;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && times[r]! < times[l]! ? r : l;
        if (times[c]! >= lastTime) break;
        times[i] = times[c]!;
        targets[i] = targets[c]!;
        i = c;
      }
      times[i] = lastTime;
      targets[i] = lastTarget;
    }
    return top;
  }

  #fire(): void {
    this.#action = undefined;
    this.#actionAt = Number.POSITIVE_INFINITY;
    const now = this.#scheduler.now();
    while (this.#times.length > 0 && this.#times[0]! <= now) this.#pop()();
    // Deadlines queued by the callbacks may have armed a later action than the earliest left.
    if (this.#times.length > 0 && this.#times[0]! < this.#actionAt) this.#arm(this.#times[0]!);
    this.#afterFire?.();
  }
}

export interface KeyedOptions {
  scheduler?: SchedulerLike;
  /** Share one deadline queue among the stages of an engine (default: one per subscription). */
  wakes?: WakeQueue;
  /**
   * Evict a series that has had no input for this long and has no pending deadline (a device that
   * was removed or renamed): the map stays bounded by the live series. Default 24 h.
   */
  evictAfterMs?: number;
  /** Hard bound on series held; the least recently fed at-rest series goes first. Default 100 000. */
  maxSeries?: number;
  /** Series to create (and tick, for `tickAtStart` operators) at subscription. */
  seed?: readonly string[];
}

/** Live series count of each subscribed keyed stage, for tests and health. */
export interface KeyedStats {
  series: number;
}

/**
 * A keyed RxJS stage: one subscription for every series, a `Map<key, state>` of plain objects, and
 * deadlines on a shared `WakeQueue`. With a single key it is the single-series operator (`single`).
 */
export function keyed<I, S, O>(
  operator: StepOperator<I, S, O>,
  options: KeyedOptions = {},
  stats?: KeyedStats,
): OperatorFunction<Keyed<I>, Keyed<O>> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const evictAfterMs = options.evictAfterMs ?? 86_400_000;
  const maxSeries = options.maxSeries ?? 100_000;
  return (source) =>
    new Observable<Keyed<O>>((subscriber) => {
      const wakes = options.wakes ?? new WakeQueue(scheduler);
      const clock = (): number => wakes.now();
      // Insertion order is feeding order: each input moves its series to the end, so the first
      // entries are the longest idle and eviction looks only at the front.
      const series = new Map<string, Entry<S>>();
      let closed = false;
      const count = (): void => {
        if (stats) stats.series = series.size;
      };

      const plan = (entry: Entry<S>): void => {
        const at = operator.wakeAt(entry.state);
        if (at < entry.queued) {
          entry.queued = at;
          wakes.at(at, () => wake(entry));
        }
      };
      const wake = (entry: Entry<S>): void => {
        entry.queued = Number.POSITIVE_INFINITY;
        if (closed || series.get(entry.key) !== entry) return;
        const now = clock();
        if (operator.wakeAt(entry.state) <= now) {
          const out = operator.step(entry.state, TICK, now);
          if (out !== NONE) subscriber.next({ key: entry.key, value: out });
        }
        plan(entry);
      };
      const evict = (now: number): void => {
        for (const entry of series.values()) {
          const idle = now - entry.touched >= evictAfterMs;
          if (!idle && series.size <= maxSeries) break;
          if (!Number.isFinite(operator.wakeAt(entry.state))) series.delete(entry.key);
          else if (series.size <= maxSeries) break;
          else {
            // Not at rest but over the bound: keep it, look at the next one.
            series.delete(entry.key);
            series.set(entry.key, entry);
            break;
          }
        }
      };
      const create = (key: string, now: number): Entry<S> => {
        const entry: Entry<S> = {
          key,
          state: operator.init(now),
          touched: now,
          queued: Number.POSITIVE_INFINITY,
        };
        series.set(key, entry);
        if (operator.tickAtStart) {
          const out = operator.step(entry.state, TICK, now);
          if (out !== NONE) subscriber.next({ key, value: out });
        }
        return entry;
      };

      for (const key of options.seed ?? []) plan(create(key, clock()));
      count();
      const subscription = source.subscribe({
        next({ key, value }) {
          const now = clock();
          let entry = series.get(key);
          if (entry === undefined) {
            evict(now);
            entry = create(key, now);
          } else if (entry.touched !== now) {
            series.delete(key);
            series.set(key, entry);
          }
          entry.touched = now;
          const out = operator.step(entry.state, value, now);
          if (out !== NONE) subscriber.next({ key, value: out });
          plan(entry);
          count();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        closed = true;
        subscription.unsubscribe();
        if (options.wakes === undefined) wakes.cancelAll();
      };
    });
}

/** The single-series operator: `keyed` with one key. */
export function single<I, S, O>(
  operator: StepOperator<I, S, O>,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<I, O> {
  return (source) =>
    new Observable<O>((subscriber) => {
      const input = new Observable<Keyed<I>>((inner) =>
        source.subscribe({
          next: (value) => inner.next({ key: '', value }),
          error: (error: unknown) => inner.error(error),
          complete: () => inner.complete(),
        }),
      );
      return input.pipe(keyed(operator, { scheduler, seed: operator.tickAtStart ? [''] : [] })).subscribe({
        next: (out) => subscriber.next(out.value),
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
    });
}
