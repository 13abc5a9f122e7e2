/**
 * Builds the engine's runtime for a configuration, reusing the runtime (and so every timer, latch
 * and counter) of each (device, type) whose rule did not change, and restoring persisted state.
 */
import { delayInit } from '../operators/delay.js';
import type { HysteresisState } from '../operators/hysteresis.js';
import { scheduleOperator } from '../operators/schedule-window.js';
import { resumeStale, type StaleState } from '../operators/stale-after.js';
import type { DeviceRules } from '../resolve.js';
import type { RuleSpec } from '../spec.js';
import {
  type ConditionSlot,
  createSlots,
  type DeviceRuntime,
  firstPointOf,
  type RuleRuntime,
  ruleKeyOf,
} from './runtime.js';
import { type RuleState, stateKey } from './state.js';

/** The per-device chattering monitor, raised while any rule of the device chatters. */
export const CHATTERING_RULE: RuleSpec = {
  type: 'chattering',
  severity: 'minor',
  kind: 'any',
  when: [{ kind: 'isTrue', point: 'chattering' }],
  onDelayMs: 0,
  offDelayMs: 0,
  latched: false,
  enabled: true,
  source: 'ISA-18.2 / EEMUA 191 practice: ≥ 3 activations within 1 min',
};

export function freshState(rule: RuleRuntime, now: number): RuleState {
  const state: RuleState = {
    device: rule.device,
    type: rule.rule.type,
    ruleKey: rule.key,
    severity: rule.rule.severity,
    latched: rule.rule.latched,
    phase: 'normal',
    test: false,
    raw: false,
    rawSince: now,
    on: delayInit(now),
    off: delayInit(now),
    conditionBits: 0,
    conditions: rule.slots.map((slot) => slot.state ?? null),
    raises: [],
    chattering: false,
  };
  const point = rule.monitor ? undefined : firstPointOf(rule.rule);
  if (point !== undefined) state.point = point;
  return state;
}

/**
 * Puts the stored operator states back into the slots (the same rule after a restart or reload).
 * `timeToo` false (a changed rule): only the active bits of value conditions are carried, and a
 * threshold keeps its side of the deadband, so a value inside it does not clear the carried alarm.
 */
function restoreSlots(
  slots: readonly ConditionSlot[],
  state: RuleState,
  now: number,
  timeToo: boolean,
): void {
  for (const slot of slots) {
    const active = (state.conditionBits & (1 << slot.bit)) !== 0;
    if (slot.timed && !timeToo) continue;
    slot.active = active;
    const stored = timeToo ? state.conditions?.[slot.bit] : undefined;
    if (stored !== undefined && stored !== null && slot.op !== undefined) slot.state = stored;
    else if (slot.condition.kind === 'above' || slot.condition.kind === 'below')
      slot.state = { active, seen: true } satisfies HysteresisState;
    // The time the gateway was down is not silence of the device: the clock starts again now.
    if (slot.condition.kind === 'stale' || slot.condition.kind === 'unchanged')
      resumeStale(slot.state as StaleState, now);
  }
  state.conditions = slots.map((slot) => slot.state ?? null);
}

/**
 * State for a rule from what was stored (restart) or held (reload). The same rule gets everything
 * back — a pending on-delay resumes from its original start. A changed rule keeps only the
 * occurrence (id, raised or latched, walk-test flag, chattering counter) so the alarm is neither
 * raised twice nor orphaned.
 */
export function adoptState(rule: RuleRuntime, before: RuleState, now: number): RuleState {
  if (before.ruleKey === rule.key && Array.isArray(before.conditions) && before.on !== undefined) {
    const state: RuleState = { ...before, raises: [...before.raises] };
    restoreSlots(rule.slots, state, now, true);
    return state;
  }
  const state = freshState(rule, now);
  if (before.phase === 'active' || before.phase === 'clearing' || before.phase === 'latched') {
    state.phase = before.phase === 'latched' ? 'latched' : 'active';
    if (state.phase === 'active') {
      // Carried as raised: both delays have passed; the off-delay starts when the condition goes.
      state.on = { input: true, since: now, out: true };
      state.off = { input: true, since: now, out: true };
    }
    if (before.id !== undefined) state.id = before.id;
    state.test = before.test;
    if (before.sources !== undefined) state.sources = [...before.sources];
  }
  state.raises = [...before.raises];
  state.chattering = before.chattering;
  if (before.conditionBits >> rule.rule.when.length === 0) {
    // Value conditions keep their hysteresis state until the next reading (a value inside the
    // deadband must not clear the carried alarm); the evaluation after install recomputes the rest.
    state.conditionBits = before.conditionBits;
    restoreSlots(rule.slots, state, now, false);
  }
  return state;
}

function createRuntime(device: string, rule: RuleSpec, now: number, monitor: boolean): RuleRuntime {
  const slots = createSlots(rule, now);
  const runtime: RuleRuntime = {
    device,
    rule,
    key: ruleKeyOf(rule),
    slots: monitor ? [] : slots,
    timeSlots: monitor ? [] : slots.filter((slot) => slot.timed),
    state: undefined as unknown as RuleState,
    value: undefined,
    primarySeen: false,
    nextCheck: Number.POSITIVE_INFINITY,
    queued: Number.POSITIVE_INFINITY,
    peers: [],
    schedule: undefined,
    scheduleState: undefined,
    monitor,
  };
  if (rule.schedule !== undefined && rule.schedule.length > 0) {
    runtime.schedule = scheduleOperator(rule.schedule, rule.holidays ?? []);
    runtime.scheduleState = runtime.schedule.init(now);
  }
  runtime.state = freshState(runtime, now);
  return runtime;
}

/** One device's runtime; `reusable` holds the previous runtimes by stateKey. */
export function buildDevice(
  entry: DeviceRules,
  now: number,
  reusable: ReadonlyMap<string, RuleRuntime>,
): DeviceRuntime {
  const rules: RuleRuntime[] = [];
  for (const rule of entry.rules) {
    if (rule.type === CHATTERING_RULE.type) continue; // reserved for the monitor
    const previous = reusable.get(stateKey(entry.device, rule.type));
    rules.push(
      previous !== undefined && previous.key === ruleKeyOf(rule)
        ? previous
        : createRuntime(entry.device, rule, now, false),
    );
  }
  const previousMonitor = reusable.get(stateKey(entry.device, CHATTERING_RULE.type));
  const monitor = previousMonitor ?? createRuntime(entry.device, CHATTERING_RULE, now, true);
  const device: DeviceRuntime = {
    id: entry.device,
    rules,
    byPoint: new Map(),
    anyPointSlots: [],
    linkSlots: [],
    peerPoints: new Map(),
    monitor,
  };
  for (const rule of rules) {
    for (const slot of rule.slots) {
      const condition = slot.condition;
      if (condition.kind === 'linkOffline') device.linkSlots.push({ slot, rule });
      else if (condition.kind === 'stale' && condition.point === undefined)
        device.anyPointSlots.push({ slot, rule });
      else {
        const entries = device.byPoint.get(condition.point!) ?? [];
        entries.push({ slot, rule });
        device.byPoint.set(condition.point!, entries);
      }
    }
  }
  return device;
}

/**
 * Indexes each confirming source (peer device, point) on the device that reports it, so a reading
 * of the peer re-evaluates the rules it confirms. Peer state survives a reload.
 */
export function wirePeers(
  devices: ReadonlyMap<string, DeviceRuntime>,
  previous: ReadonlyMap<string, DeviceRuntime>,
): void {
  for (const device of devices.values()) {
    for (const rule of device.rules) {
      const confirm = rule.rule.confirmWith;
      if (confirm === undefined) continue;
      rule.peers = [];
      for (const peerId of confirm.devices ?? []) {
        const peer = devices.get(peerId);
        if (peer === undefined) continue;
        let tracked = peer.peerPoints.get(confirm.point);
        if (tracked === undefined) {
          const old = previous.get(peerId)?.peerPoints.get(confirm.point)?.point;
          tracked = { point: old ?? { active: false, since: 0 }, dependents: [] };
          peer.peerPoints.set(confirm.point, tracked);
        }
        tracked.dependents.push(rule);
        rule.peers.push(tracked.point);
      }
    }
  }
}
