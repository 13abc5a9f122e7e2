/**
 * Where escalation state lives: the plan (one row per step, repeat, ack timeout, re-alarm,
 * fallback and folded notification, each with its due time), the case snapshot the engine last
 * saw, the policy versions cases started with, and a per-recipient log for noise control. Adapters:
 * memory (tests), SQLite and PostgreSQL on the cloud store's own database (`store.handle()`), one
 * contract suite (test/cloud/escalation/store-contract.ts). docs/architecture.md invariant 10: escalation timers
 * survive restarts; two cloud instances never notify twice — because a row is only ever worked by
 * the instance that claimed it (`claimDue`), and a row's id is the notification's idempotency id.
 */
import type { AlarmCase, Stage } from '../../alarms/contract.js';
import type { Policy } from '../policy.js';

/**
 * `again`: the condition occurred again while its case was open (n = the occurrence); `lapse`:
 * shelving or out of service ends (n = its end time) — announced again if still active.
 */
export type RowKind = 'step' | 'ack_timeout' | 'realarm' | 'fallback' | 'fold' | 'again' | 'lapse';

export interface PlanRow {
  /** `${caseId}:${policyVersion}:${step}:${repeat}` (+ `:r${run}` after a re-trigger); also the notification id. */
  id: string;
  caseId: string;
  policyId: string;
  policyVersion: number;
  kind: RowKind;
  /** Step index (steps), or the n-th ack timeout / re-alarm. */
  step: number;
  repeat: number;
  /** 1 for the first trigger of the case, +1 for each re-trigger (the policy restarts). */
  run: number;
  dueAt: number;
  /** Fold rows: whose notification, and which fold (`group:<community>`, `rate`, `flood:<site>`, `digest`). */
  recipient?: string;
  foldKey?: string;
  /** Fold rows: JSON of FoldEntry[]. */
  payload?: string;
  claimedBy?: string;
  claimedAt?: number;
  doneAt?: number;
  /** sent, skipped: acked, cancelled: closed, folded: fold:…, grouped: <row> … (the audit trail). */
  outcome?: string;
}

/** One case folded into a later notification to one recipient. */
export interface FoldEntry {
  rowId: string;
  caseId: string;
  stage: Exclude<Stage, 'feedback' | 'closed'>;
  condition: 'always' | 'not_acked' | 'not_closed';
  reason: { zh: string; en: string };
}

export interface CaseState {
  caseId: string;
  /** The newest case the lifecycle told us about (by `updatedAt`). */
  snapshot: AlarmCase;
  /** Unset when no policy matched (test alarms, info). */
  policyId?: string;
  policyVersion?: number;
  run: number;
  triggeredAt: number;
  /** Recipients whose every channel failed, this run (EdgeX: escalate on delivery failure). */
  failedSends: number;
  updatedAt: number;
}

export interface RecipientLogEntry {
  recipient: string;
  /** arrival: a new alarm reached this recipient's gate; send: a notification went out. */
  kind: 'arrival' | 'send';
  caseId: string;
  community: string;
  at: number;
}

export interface EscalationStore {
  /** Creates the tables if needed (idempotent); safe for several instances at once. */
  migrate(): Promise<void>;

  /** Stores a policy version; a different body under an existing (id, version) is a conflict. */
  savePolicy(policy: Policy, at: number): Promise<'inserted' | 'unchanged' | 'conflict'>;
  getPolicy(id: string, version: number): Promise<Policy | undefined>;

  getCase(caseId: string): Promise<CaseState | undefined>;
  /** Stores the snapshot if it is not older than the stored one (events may arrive out of order). */
  saveSnapshot(snapshot: AlarmCase, at: number): Promise<void>;
  /**
   * One transaction: mark the case's open, unclaimed rows done with `cancelOutcome` (when given),
   * upsert the state, insert the rows (an existing id is left alone: each step fires once).
   */
  plan(state: CaseState, rows: readonly PlanRow[], cancelOutcome?: string): Promise<void>;
  /** Marks open, unclaimed rows of the case done; returns how many. */
  cancel(caseId: string, outcome: string, at: number, kinds?: readonly RowKind[]): Promise<number>;
  /** Inserts rows, leaving existing ids alone; returns the ids actually inserted. */
  insert(rows: readonly PlanRow[]): Promise<string[]>;

  /**
   * Atomically claims up to `limit` rows due at `now` that nobody holds (or whose claim is older
   * than `now - leaseMs`: its claimer died mid-row). No row is returned to two callers.
   */
  claimDue(worker: string, now: number, leaseMs: number, limit: number): Promise<PlanRow[]>;
  /** Marks a row done if `worker` still holds it, and inserts follow-up rows, in one transaction. */
  complete(
    id: string,
    worker: string,
    outcome: string,
    at: number,
    followUps?: readonly PlanRow[],
  ): Promise<boolean>;

  /**
   * Keeps claims alive while their work runs (a delivery to a slow channel): sets `claimed_at` of
   * the rows `worker` still holds. Leases stay short, so a dead instance's rows are retaken within
   * seconds, while a live one keeps its own for as long as it needs.
   */
  renew(ids: readonly string[], worker: string, now: number): Promise<void>;
  /** Gives a held, open row back, due again at `dueAt` (work that must wait); false if not held. */
  release(id: string, worker: string, dueAt: number): Promise<boolean>;
  /** Moves open, unclaimed rows to new due times (later steps restart from the first notice). */
  retime(updates: readonly { id: string; dueAt: number }[]): Promise<void>;

  /** Adds to the case's failed-send count of its current run; returns the new total. */
  addFailedSends(caseId: string, n: number): Promise<number>;

  /**
   * Appends an entry to the open (unclaimed) fold row of (recipient, foldKey), or opens one due at
   * `dueAt` with id `fold:<recipient>:<foldKey>:<dueAt>`. Returns the fold row's id.
   */
  fold(
    recipient: string,
    foldKey: string,
    dueAt: number,
    entry: FoldEntry,
    policy: { id: string; version: number },
  ): Promise<string>;

  logRecipient(entries: readonly RecipientLogEntry[]): Promise<void>;
  recipientLog(recipient: string, since: number): Promise<RecipientLogEntry[]>;

  /** Every row (of one case), by due time: for the audit view and tests. */
  rows(caseId?: string): Promise<PlanRow[]>;
  /** Deletes done rows and log entries older than `before`. */
  prune(before: number): Promise<void>;
}

export function foldRowId(recipient: string, foldKey: string, dueAt: number): string {
  return `fold:${recipient}:${foldKey}:${dueAt}`;
}

/** A new fold row (a recipient's digest) holding its first entry; every adapter stores this shape. */
export function newFoldRow(
  entry: FoldEntry,
  policy: Pick<Policy, 'id' | 'version'>,
  recipient: string,
  foldKey: string,
  dueAt: number,
): PlanRow {
  return {
    id: foldRowId(recipient, foldKey, dueAt),
    caseId: entry.caseId,
    policyId: policy.id,
    policyVersion: policy.version,
    kind: 'fold',
    step: 0,
    repeat: 0,
    run: 0,
    dueAt,
    recipient,
    foldKey,
    payload: JSON.stringify([entry]),
  };
}

/** Stored policies compare by their canonical JSON (keys in schema order after parsing). */
export function policyBody(policy: Policy): string {
  return JSON.stringify(policy);
}
