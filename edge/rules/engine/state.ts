import type { AlarmSeverity, AlarmSource, AlarmTransition } from '../../../protocol/alarm.js';
import type { DelayState } from '../operators/delay.js';

/**
 * What the engine keeps per (device, alarm type), and the port that persists it so on-delays,
 * chattering counters and latches survive a restart.
 */

/**
 * normal: no occurrence. pending: condition active, waiting out the on-delay (`on`).
 * active: raised. clearing: raised, condition gone, waiting out the off-delay (`off`).
 * latched: cleared but not yet reset (latched rules only); the occurrence keeps its id.
 */
export type AlarmPhase = 'normal' | 'pending' | 'active' | 'clearing' | 'latched';

export interface RuleState {
  device: string;
  type: string;
  /** Fingerprint of the rule this state was built under; a changed rule keeps only the occurrence. */
  ruleKey: string;
  /** Copied from the rule, so an occurrence can be closed even after its rule was removed. */
  severity: AlarmSeverity;
  latched: boolean;
  point?: string;
  phase: AlarmPhase;
  /** Id of the current occurrence (pending → none yet; active, clearing, latched → set). */
  id?: string;
  /** The occurrence was raised in walk-test mode; its cleared/reset carry `test: true` too. */
  test: boolean;
  /** The rule's raw condition (any of its conditions) and since when it has been so. */
  raw: boolean;
  rawSince: number;
  /** The on-delay operator's state (operators/delay.ts): pending since `on.since`. */
  on: DelayState;
  /** The off-delay operator's state: clearing since `off.since`. */
  off: DelayState;
  /** One bit per condition: whether it is active. */
  conditionBits: number;
  /**
   * Each condition's operator state (hysteresis, stale/unchanged timers, rate window, n-of-m
   * samples), null for stateless predicates: what a restart resumes from.
   */
  conditions: unknown[];
  /**
   * Sources that saw the condition during the current occurrence (raised → reset or normal): the
   * device's own output, doorstep's threshold, or its watchdog. Sent with the transitions.
   */
  sources?: AlarmSource[];
  /** Times of the most recent raises (at most the chattering count). */
  raises: number[];
  chattering: boolean;
}

export function stateKey(device: string, type: string): string {
  return `${device}\u0000${type}`;
}

/**
 * Persists rule state. Synchronous: better-sqlite3 is, and the engine writes once per batch.
 * The gateway's store (OutboxRuleStateStore) also stores the transitions in the outbox, in the same
 * transaction: a decision is committed whole or not at all.
 */
export interface RuleStateStore {
  open(): void;
  loadAll(): RuleState[];
  /**
   * Applies upserts and deletions, and records the transitions they decided, atomically (one
   * transaction). Throws if nothing could be written; the engine then retries the same decision.
   */
  write(
    upserts: readonly RuleState[],
    deletions: readonly { device: string; type: string }[],
    transitions?: readonly AlarmTransition[],
  ): void;
  close(): void;
}

/** In-memory store: tests, and gateways that accept losing state on restart (transitions are not kept). */
export class MemoryRuleStateStore implements RuleStateStore {
  readonly #rows = new Map<string, string>();
  open(): void {}
  loadAll(): RuleState[] {
    return [...this.#rows.values()].map((json) => JSON.parse(json) as RuleState);
  }
  write(upserts: readonly RuleState[], deletions: readonly { device: string; type: string }[]): void {
    for (const { device, type } of deletions) this.#rows.delete(stateKey(device, type));
    // Serialised so later mutation by the engine cannot leak into "stored" state.
    for (const state of upserts) this.#rows.set(stateKey(state.device, state.type), JSON.stringify(state));
  }
  close(): void {}
  get size(): number {
    return this.#rows.size;
  }
}
