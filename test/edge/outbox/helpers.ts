import type { IntervalScheduler, OutboxEntry } from '../../../edge/outbox/types.js';
import type { AlarmState } from '../../../protocol/index.js';

/** A clock tests move by hand. */
export class VirtualClock {
  #now: number;
  constructor(start: number) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

/** An interval scheduler that fires only when the test calls tick(). */
export class ManualScheduler implements IntervalScheduler {
  readonly #timers = new Map<number, { callback: () => void; ms: number }>();
  #nextHandle = 1;
  setInterval(callback: () => void, ms: number): unknown {
    const handle = this.#nextHandle++;
    this.#timers.set(handle, { callback, ms });
    return handle;
  }
  clearInterval(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  active(): number {
    return this.#timers.size;
  }
  intervalMs(): number | undefined {
    return [...this.#timers.values()][0]?.ms;
  }
  tick(): void {
    for (const { callback } of [...this.#timers.values()]) callback();
  }
}

/** A telemetry entry shaped like a real Reading; `ts` doubles as the value so rows are told apart. */
export function reading(ts: number, point = 'gas', device = 'gas-1'): OutboxEntry {
  return {
    class: 'telemetry',
    ts,
    payload: { device, point, value: ts / 10, unit: point === 'gas' ? '%LEL' : '%', quality: 'good', ts },
  };
}

export function event(ts: number): OutboxEntry {
  return {
    class: 'event',
    ts,
    payload: {
      kind: 'device_state',
      state: { device: 'gas-1', state: 'online', since: ts, consecutiveFailures: 0 },
    },
  };
}

export function alarm(id: string, ts: number, state: AlarmState = 'raised'): OutboxEntry {
  return {
    class: 'alarm',
    ts,
    payload: {
      id: `alarm-${id}`.padEnd(8, '0'),
      gateway: 'gw-1',
      device: 'smoke-1',
      type: 'smoke',
      severity: 'critical',
      state,
      ts,
      test: false,
      latched: true,
    },
  };
}
