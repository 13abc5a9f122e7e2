/** Test harness: a rule engine on virtual time with collected transitions. */
import { VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { RuleEngine } from '../../../edge/rules/engine/engine.js';
import { createAlarmIdFactory } from '../../../edge/rules/engine/ids.js';
import type { RuleStateStore } from '../../../edge/rules/engine/state.js';
import { type DeviceRuleEntry, type RuleOverrideSet, resolveSiteRules } from '../../../edge/rules/resolve.js';
import type { AlarmTransition } from '../../../protocol/alarm.js';
import type { Reading, ReadingValue } from '../../../protocol/reading.js';

export const GATEWAY = 'gw-test';

/** A scheduler whose flush stops at `horizonMs`, so periodic timers cannot loop forever. */
export class Clock extends VirtualTimeScheduler {
  constructor(startMs = 0) {
    super(VirtualAction, Number.POSITIVE_INFINITY);
    this.frame = startMs;
  }
  /** Runs every timer due up to and including `atMs`, then sets the clock to `atMs`. */
  advanceTo(atMs: number): void {
    this.maxFrames = atMs;
    this.flush();
    this.frame = atMs;
  }
  advanceBy(ms: number): void {
    this.advanceTo(this.frame + ms);
  }
}

export interface Harness {
  clock: Clock;
  engine: RuleEngine;
  transitions: AlarmTransition[];
  /** Advances the clock to `atMs` (running timers) and ingests one reading per [point, value]. */
  read(
    atMs: number,
    device: string,
    values: Record<string, ReadingValue>,
    quality?: Reading['quality'],
  ): void;
  /** Transitions as compact strings: `device type state @ts`. */
  log(): string[];
  stop(): void;
}

export function harness(
  devices: readonly DeviceRuleEntry[],
  options: { overrides?: RuleOverrideSet; store?: RuleStateStore; startMs?: number; clock?: Clock } = {},
): Harness {
  const resolved = resolveSiteRules(devices, options.overrides);
  if (resolved.problems.length > 0) throw new Error(JSON.stringify(resolved.problems));
  const clock = options.clock ?? new Clock(options.startMs ?? 0);
  const engine = new RuleEngine({
    gateway: GATEWAY,
    devices: resolved.devices,
    scheduler: clock,
    newId: createAlarmIdFactory(GATEWAY),
    ...(options.store ? { store: options.store } : {}),
  });
  const transitions: AlarmTransition[] = [];
  const subscription = engine.transitions.subscribe((transition) => transitions.push(transition));
  engine.start();
  return {
    clock,
    engine,
    transitions,
    read(atMs, device, values, quality = 'good') {
      clock.advanceTo(atMs);
      engine.ingest(
        Object.entries(values).map(([point, value]) => ({
          device,
          point,
          value,
          unit: '',
          quality,
          ts: atMs,
        })),
      );
    },
    log: () => transitions.map((t) => `${t.device} ${t.type} ${t.state} @${t.ts}`),
    stop() {
      subscription.unsubscribe();
      engine.stop();
    },
  };
}
