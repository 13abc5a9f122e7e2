/**
 * The alarm state machine of one (device, type): normal → pending (on-delay) → active (raised) →
 * clearing (off-delay) → normal, or → latched until reset (ISA-18.2 §11.4 delays, latched alarms).
 * The delays are the on-delay and off-delay operators (operators/delay.ts) over the rule's state:
 * the on-delay is fed while no occurrence is open, the off-delay while one is, so a condition
 * returning during the off-delay keeps the alarm without a second on-delay. It is the only code that
 * creates occurrence ids and emits raised/cleared, which is what makes it the single writer
 * (docs/architecture.md invariant 7): a burst of readings can only move the phase forward once.
 */
import type { AlarmTransition } from '../../../protocol/alarm.js';
import { recordActivation } from '../operators/chattering.js';
import { delayInit, delayStep } from '../operators/delay.js';
import { NONE, TICK } from '../operators/step.js';
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
      case 'pending': {
        const on = state.on;
        const before = on.input;
        let out = delayStep(on, condition, ts, onDelayMs, true);
        if (out === NONE) out = delayStep(on, TICK, now, onDelayMs, true);
        if (out === true) {
          this.raise(rule, on.since + onDelayMs);
          return;
        }
        const phase = on.input === true ? 'pending' : 'normal';
        if (phase !== state.phase || before !== on.input) {
          state.phase = phase;
          this.#context.changed(rule);
        }
        return;
      }
      case 'active':
      case 'clearing': {
        const off = state.off;
        const before = off.input;
        let out = delayStep(off, condition, ts, offDelayMs, false);
        if (out === NONE) out = delayStep(off, TICK, now, offDelayMs, false);
        if (out === false) {
          this.clear(rule, off.since + offDelayMs);
          return;
        }
        const phase = off.input === false ? 'clearing' : 'active';
        if (phase !== state.phase || before !== off.input) {
          state.phase = phase;
          this.#context.changed(rule);
        }
        return;
      }
      case 'latched':
        return; // one occurrence until reset; re-activation meanwhile is part of it
    }
  }

  raise(rule: RuleRuntime, ts: number): void {
    const state = rule.state;
    state.phase = 'active';
    // The off-delay starts from "raised, condition present".
    state.off = { input: true, since: ts, out: true };
    state.id = this.#context.newId(rule.device, rule.rule.type, ts);
    state.test = this.#context.isWalkTest(rule.device);
    // The sources that see the condition now; more may join while it lasts (engine #evaluate).
    const sources = withActiveSources(rule.slots, undefined);
    state.sources = sources === undefined ? undefined : [...sources];
    this.#context.changed(rule);
    const message = rule.monitor ? this.#context.chatteringMessage(rule.device) : undefined;
    this.#context.emit(rule, 'raised', ts, message);
    if (rule.monitor) return;
    const { count, windowMs } = this.#context.chattering;
    const flagged = recordActivation(state.raises, ts, count, windowMs);
    if (flagged && !state.chattering) {
      state.chattering = true;
      this.#context.chatteringChanged(rule);
    }
  }

  clear(rule: RuleRuntime, ts: number): void {
    this.#context.emit(rule, 'cleared', ts);
    if (rule.rule.latched) {
      rule.state.phase = 'latched';
      rule.state.on = delayInit(ts);
      this.#context.changed(rule);
    } else this.toNormal(rule, ts);
  }

  toNormal(rule: RuleRuntime, ts: number): void {
    const state = rule.state;
    state.phase = 'normal';
    state.id = undefined;
    state.test = false;
    state.sources = undefined;
    state.on = delayInit(ts);
    state.off = delayInit(ts);
    this.#context.changed(rule);
  }
}
