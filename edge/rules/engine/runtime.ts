/**
 * The engine's in-memory shape of one device and its rules, and the per-reading condition update.
 * Each condition that needs memory runs its operator's step function (operators/, the same code the
 * keyed RxJS stages wrap) over a plain state object kept in the slot and persisted with the rule.
 * This is the hot path: no allocation per reading, plain loops.
 */
import type { AlarmSource } from '../../../protocol/alarm.js';
import type { Reading, ReadingValue } from '../../../protocol/reading.js';
import { hysteresisOperator } from '../operators/hysteresis.js';
import { nOfMOperator } from '../operators/n-of-m.js';
import { rateOfChangeOperator } from '../operators/rate-of-change.js';
import type { ScheduleState } from '../operators/schedule-window.js';
import { staleOperator } from '../operators/stale-after.js';
import { NONE, type StepOperator, TICK as TICK_INPUT } from '../operators/step.js';
import type { Condition, RuleSpec } from '../spec.js';
import type { RuleState } from './state.js';

// biome-ignore lint/suspicious/noExplicitAny: each slot pairs one operator with its own state shape
export type SlotOperator = StepOperator<any, any, boolean>;

export interface ConditionSlot {
  /** Bit of this condition in RuleState.conditionBits. */
  bit: number;
  condition: Condition;
  /** The condition's operator (threshold, stale, rate, n-of-m); undefined for plain predicates. */
  op: SlotOperator | undefined;
  /** The operator's state (persisted in RuleState.conditions). */
  state: unknown;
  /** The operator has deadlines of its own (stale, unchanged, n-of-m within T). */
  timed: boolean;
  active: boolean;
}

/** Latest state of a point another device's rule uses as its confirming source. */
export interface PeerPoint {
  active: boolean;
  since: number;
}

export interface RuleRuntime {
  device: string;
  rule: RuleSpec;
  key: string;
  slots: ConditionSlot[];
  timeSlots: ConditionSlot[];
  state: RuleState;
  /** The last value any of the rule's points reported; sent with transitions. */
  value: ReadingValue | undefined;
  /** `value` came from the rule's first point (state.point), which then wins over the others. */
  primarySeen: boolean;
  /** Earliest time the rule must be looked at again without a reading (timers). */
  nextCheck: number;
  /** The deadline this rule has in the engine's wake queue (+Infinity: none). */
  queued: number;
  peers: PeerPoint[];
  /** The rule's schedule windows (operators/schedule-window.ts) and their state; none: always. */
  schedule: StepOperator<boolean, ScheduleState, boolean> | undefined;
  scheduleState: ScheduleState | undefined;
  /** The device's chattering monitor rather than a configured rule. */
  monitor: boolean;
}

export interface DeviceRuntime {
  id: string;
  rules: RuleRuntime[];
  byPoint: Map<string, { slot: ConditionSlot; rule: RuleRuntime }[]>;
  /** `stale` conditions without a point: any reading of the device refreshes them. */
  anyPointSlots: { slot: ConditionSlot; rule: RuleRuntime }[];
  linkSlots: { slot: ConditionSlot; rule: RuleRuntime }[];
  /** Points of this device other rules confirm with, and the rules to re-evaluate on change. */
  peerPoints: Map<string, { point: PeerPoint; dependents: RuleRuntime[] }>;
  monitor: RuleRuntime;
}

/** A stable fingerprint of a rule: equal keys mean the figures did not change. */
export function ruleKeyOf(rule: RuleSpec): string {
  return JSON.stringify(rule);
}

export function firstPointOf(rule: RuleSpec): string | undefined {
  for (const condition of rule.when)
    if ('point' in condition && condition.point !== undefined) return condition.point;
  return undefined;
}

/**
 * Operators are stateless (their state lives in the slot), so rules with the same condition — the
 * same pack on 500 devices — share one operator object instead of one set of closures each.
 */
const operators = new Map<string, SlotOperator | undefined>();
const MAX_SHARED_OPERATORS = 10_000;

/** The operator a condition runs; undefined for stateless predicates (equals, isTrue, …). */
export function operatorOf(condition: Condition): SlotOperator | undefined {
  const key = JSON.stringify(condition);
  if (operators.has(key)) return operators.get(key);
  if (operators.size >= MAX_SHARED_OPERATORS) operators.clear();
  const op = createOperator(condition);
  operators.set(key, op);
  return op;
}

function createOperator(condition: Condition): SlotOperator | undefined {
  switch (condition.kind) {
    case 'above':
    case 'below':
      return hysteresisOperator({
        threshold: condition.threshold,
        deadband: condition.deadband,
        inclusive: condition.inclusive,
        direction: condition.kind === 'above' ? 'rising' : 'falling',
      });
    case 'stale':
      return staleOperator({ afterMs: condition.staleAfterMs });
    case 'unchanged':
      return staleOperator({ afterMs: condition.staleAfterMs, onChange: true });
    case 'rateOfChange':
      return rateOfChangeOperator(condition);
    case 'nOfM': {
      const options: { n: number; m?: number; withinMs?: number } = { n: condition.n };
      if (condition.m !== undefined) options.m = condition.m;
      if (condition.withinMs !== undefined) options.withinMs = condition.withinMs;
      return nOfMOperator(options);
    }
    default:
      return undefined;
  }
}

export function createSlots(rule: RuleSpec, now: number): ConditionSlot[] {
  return rule.when.map((condition, bit) => {
    const op = operatorOf(condition);
    return {
      bit,
      condition,
      op,
      state: op?.init(now),
      timed: isTimeCondition(condition),
      active: false,
    };
  });
}

/**
 * Who a condition stands for: a set point on a measured value is doorstep's threshold; a flag or
 * state the device reports is the device's own alarm output; the rest is doorstep's watchdog.
 */
export function sourceOf(condition: Condition): AlarmSource {
  switch (condition.kind) {
    case 'above':
    case 'below':
      return 'threshold';
    case 'equals':
    case 'isTrue':
    case 'isFalse':
      return 'device';
    default:
      return 'watchdog';
  }
}

const SOURCE_ORDER: readonly AlarmSource[] = ['device', 'threshold', 'watchdog'];

/**
 * `known` plus the sources of the rule's active conditions, in one fixed order; `known` itself
 * when nothing is new (no allocation on the hot path).
 */
export function withActiveSources(
  slots: readonly ConditionSlot[],
  known: readonly AlarmSource[] | undefined,
): readonly AlarmSource[] | undefined {
  let added = false;
  for (const slot of slots) {
    if (slot.active && !(known ?? []).includes(sourceOf(slot.condition))) added = true;
  }
  if (!added) return known;
  const active = new Set<AlarmSource>(known);
  for (const slot of slots) if (slot.active) active.add(sourceOf(slot.condition));
  return SOURCE_ORDER.filter((source) => active.has(source));
}

/** Conditions whose operator can change by time alone (they get time ticks). */
export function isTimeCondition(condition: Condition): boolean {
  return (
    condition.kind === 'stale' ||
    condition.kind === 'unchanged' ||
    (condition.kind === 'nOfM' && condition.withinMs !== undefined)
  );
}

/** When a time condition changes if nothing arrives (+Infinity: never). */
export function timeSlotDue(slot: ConditionSlot): number {
  return slot.op === undefined ? Number.POSITIVE_INFINITY : slot.op.wakeAt(slot.state);
}

/**
 * Steps a time condition to `now`. Returns the time it became active when it just did (its
 * deadline, which may lie before `now`), or undefined.
 */
export function tickSlot(slot: ConditionSlot, now: number): number | undefined {
  const due = timeSlotDue(slot);
  if (due > now) return undefined;
  const out = slot.op!.step(slot.state, TICK_INPUT, now);
  if (out === NONE) return undefined;
  slot.active = out;
  return out ? due : undefined;
}

function truthy(value: ReadingValue): boolean {
  return value === true || value === 1;
}

function falsy(value: ReadingValue): boolean {
  return value === false || value === 0;
}

/** An n-of-m sample: above/below its figure, or the point's truth when neither is given. */
function nOfMSample(
  condition: Extract<Condition, { kind: 'nOfM' }>,
  value: ReadingValue,
): boolean | undefined {
  if (condition.above !== undefined || condition.below !== undefined) {
    if (typeof value !== 'number') return undefined;
    return (
      (condition.above !== undefined && value > condition.above) ||
      (condition.below !== undefined && value < condition.below)
    );
  }
  return truthy(value);
}

/**
 * Applies one reading to one condition. Returns true when the rule must be evaluated (the
 * condition's output changed; the first output of an operator counts, so its deadline is planned).
 * Bad-quality readings count as data for `stale` but never drive a value condition (the fault rule
 * covers them).
 */
export function applyReading(slot: ConditionSlot, reading: Reading): boolean {
  const condition = slot.condition;
  if (condition.kind !== 'stale' && reading.quality === 'bad') return false;
  const value = reading.value;
  let next: boolean;
  switch (condition.kind) {
    case 'equals':
      next = value === condition.value;
      break;
    case 'isTrue':
      next = truthy(value);
      break;
    case 'isFalse':
      next = falsy(value);
      break;
    case 'linkOffline':
      return false;
    case 'nOfM': {
      const sample = nOfMSample(condition, value);
      if (sample === undefined) return false;
      const out = slot.op!.step(slot.state, sample, reading.ts);
      if (out === NONE) return false;
      slot.active = out;
      return true;
    }
    default: {
      const out = slot.op!.step(slot.state, value, reading.ts);
      if (out === NONE) return false;
      slot.active = out;
      return true;
    }
  }
  if (next === slot.active) return false;
  slot.active = next;
  return true;
}

export function isPeerActive(value: ReadingValue): boolean {
  return truthy(value);
}
