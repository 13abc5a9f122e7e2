/**
 * The alarm state machine of one (device, type): normal → pending (on-delay) → active (raised) →
 * clearing (off-delay) → normal, or → latched until reset. It is the only code that creates
 * occurrence ids and emits raised/cleared, which is what makes it the single writer (docs/architecture.md
 * invariant 7): a burst of readings can only move the phase forward once.
 */
import type { AlarmTransition } from '../../../protocol/alarm.js';
import { isChattering } from '../operators/chattering.js';
import type { AlarmIdFactory } from './ids.js';
import { type RuleRuntime, withActiveSources } from './runtime.js';

export interface OccurrenceContext {
  newId: AlarmIdFactory;
  /** ISA-18.2 practice: ≥ 3 activations within 1 min is chattering. */
  chattering: { count: number; windowMs: number };
  isWalkTest(device: string): boolean;
  emit(rule: RuleRuntime, state: AlarmTransition['state'], ts: number, message?: string): void;
  /** The rule's state changed and must be persisted. */
  changed(rule: RuleRuntime): void;
  chatteringChanged(rule: RuleRuntime): void;
  chatteringMessage(device: string): string;
}

export class OccurrenceMachine {
  readonly #context: OccurrenceContext;

  constructor(context: OccurrenceContext) {
    this.#context = context;
  }

  /** Moves the phase given the (scheduled, confirmed) condition at `ts`; `now` decides delays. */
  step(rule: RuleRuntime, condition: boolean, ts: number, now: number): void {
    const state = rule.state;
    const { onDelayMs, offDelayMs } = rule.rule;
    switch (state.phase) {
      case 'normal':
        if (!condition) return;
        if (onDelayMs === 0) {
          this.raise(rule, ts);
          return;
        }
        state.phase = 'pending';
        state.pendingSince = ts;
        this.#context.changed(rule);
        if (now >= ts + onDelayMs) this.raise(rule, ts + onDelayMs);
        return;
      case 'pending':
        if (!condition) {
          this.toNormal(rule);
          return;
        }
        if (now >= state.pendingSince! + onDelayMs) this.raise(rule, state.pendingSince! + onDelayMs);
        return;
      case 'active':
        if (condition) return;
        if (offDelayMs === 0) {
          this.clear(rule, ts);
          return;
        }
        state.phase = 'clearing';
        state.clearingSince = ts;
        this.#context.changed(rule);
        if (now >= ts + offDelayMs) this.clear(rule, ts + offDelayMs);
        return;
      case 'clearing':
        if (condition) {
          state.phase = 'active';
          state.clearingSince = undefined;
          this.#context.changed(rule);
        } else if (now >= state.clearingSince! + offDelayMs)
          this.clear(rule, state.clearingSince! + offDelayMs);
        return;
      case 'latched':
        return; // one occurrence until reset; re-activation meanwhile is part of it
    }
  }

  raise(rule: RuleRuntime, ts: number): void {
    const state = rule.state;
    state.phase = 'active';
    state.pendingSince = undefined;
    state.id = this.#context.newId(rule.device, rule.rule.type, ts);
    state.test = this.#context.isWalkTest(rule.device);
    // The sources that see the condition now; more may join while it lasts (engine #evaluate).
    const sources = withActiveSources(rule.slots, undefined);
    state.sources = sources === undefined ? undefined : [...sources];
    this.#context.changed(rule);
    const message = rule.monitor ? this.#context.chatteringMessage(rule.device) : undefined;
    this.#context.emit(rule, 'raised', ts, message);
    if (rule.monitor) return;
    state.raises.push(ts);
    if (state.raises.length > this.#context.chattering.count) state.raises.shift();
    const flagged = isChattering(
      state.raises[state.raises.length - this.#context.chattering.count],
      ts,
      this.#context.chattering.windowMs,
    );
    if (flagged && !state.chattering) {
      state.chattering = true;
      this.#context.chatteringChanged(rule);
    }
  }

  clear(rule: RuleRuntime, ts: number): void {
    this.#context.emit(rule, 'cleared', ts);
    if (rule.rule.latched) {
      rule.state.phase = 'latched';
      rule.state.clearingSince = undefined;
      this.#context.changed(rule);
    } else this.toNormal(rule);
  }

  toNormal(rule: RuleRuntime): void {
    const state = rule.state;
    state.phase = 'normal';
    state.id = undefined;
    state.test = false;
    state.sources = undefined;
    state.pendingSince = undefined;
    state.clearingSince = undefined;
    this.#context.changed(rule);
  }
}
