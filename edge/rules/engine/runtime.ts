/**
 * The engine's in-memory shape of one device and its rules, and the per-reading condition update.
 * This is the hot path: no allocation per reading, plain loops, preallocated options objects.
 */
import type { AlarmSource } from '../../../protocol/alarm.js';
import type { Reading, ReadingValue } from '../../../protocol/reading.js';
import { type HysteresisOptions, hysteresisStep } from '../operators/hysteresis.js';
import type { Condition, RuleSpec } from '../spec.js';
import type { RuleState } from './state.js';

export interface ConditionSlot {
  /** Bit of this condition in RuleState.conditionBits / armedBits. */
  bit: number;
  condition: Condition;
  hysteresis: HysteresisOptions | undefined;
  active: boolean;
  /** `stale`: time of the last reading. `unchanged`: time the value last changed. */
  lastSeen: number;
  lastValue: ReadingValue | undefined;
  armed: boolean;
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
  peers: PeerPoint[];
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

export function createSlots(rule: RuleSpec, now: number): ConditionSlot[] {
  return rule.when.map((condition, bit) => ({
    bit,
    condition,
    hysteresis:
      condition.kind === 'above' || condition.kind === 'below'
        ? {
            threshold: condition.threshold,
            deadband: condition.deadband,
            inclusive: condition.inclusive,
            direction: condition.kind === 'above' ? 'rising' : 'falling',
          }
        : undefined,
    active: false,
    lastSeen: now,
    lastValue: undefined,
    armed: false,
  }));
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

export function isTimeCondition(condition: Condition): boolean {
  return condition.kind === 'stale' || condition.kind === 'unchanged';
}

/** When a time condition becomes active if nothing arrives (Infinity: never, not armed yet). */
export function timeSlotDue(slot: ConditionSlot): number {
  const condition = slot.condition;
  if (condition.kind === 'stale') return slot.lastSeen + condition.staleAfterMs;
  if (condition.kind === 'unchanged')
    return slot.armed ? slot.lastSeen + condition.staleAfterMs : Number.POSITIVE_INFINITY;
  return Number.POSITIVE_INFINITY;
}

function truthy(value: ReadingValue): boolean {
  return value === true || value === 1;
}

function falsy(value: ReadingValue): boolean {
  return value === false || value === 0;
}

/**
 * Applies one reading to one condition. Returns true when the rule must be evaluated (the
 * condition changed, or an `unchanged` condition was armed and needs its timer). Bad-quality
 * readings count as data for `stale` but never drive a value condition (the fault rule covers them).
 */
export function applyReading(slot: ConditionSlot, reading: Reading): boolean {
  const condition = slot.condition;
  if (condition.kind === 'stale') {
    slot.lastSeen = reading.ts;
    if (!slot.active) return false;
    slot.active = false;
    return true;
  }
  if (reading.quality === 'bad') return false;
  const value = reading.value;
  if (condition.kind === 'unchanged') {
    if (!slot.armed) {
      slot.armed = true;
      slot.lastValue = value;
      slot.lastSeen = reading.ts;
      return true;
    }
    if (value === slot.lastValue) return false;
    slot.lastValue = value;
    slot.lastSeen = reading.ts;
    if (!slot.active) return false;
    slot.active = false;
    return true;
  }
  let next: boolean;
  switch (condition.kind) {
    case 'above':
    case 'below':
      if (typeof value !== 'number') return false;
      next = hysteresisStep(slot.active, value, slot.hysteresis!);
      break;
    case 'equals':
      next = value === condition.value;
      break;
    case 'isTrue':
      next = truthy(value);
      break;
    case 'isFalse':
      next = falsy(value);
      break;
    default:
      return false;
  }
  if (next === slot.active) return false;
  slot.active = next;
  return true;
}

export function isPeerActive(value: ReadingValue): boolean {
  return truthy(value);
}
