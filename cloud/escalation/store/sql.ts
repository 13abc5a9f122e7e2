/**
 * Schema and row mapping shared by the SQLite and PostgreSQL adapters. Times are epoch ms in
 * BIGINT columns (pg returns them as strings: `num()` converts). Table names start with `esc_` so
 * they sit beside the cloud store's own tables in one database (one backup covers both).
 */
import type { Policy } from '../policy.js';
import type { CaseState, PlanRow, RecipientLogEntry, RowKind } from './port.js';

export const DDL = [
  `CREATE TABLE IF NOT EXISTS esc_policy (
     id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL,
     PRIMARY KEY (id, version))`,
  `CREATE TABLE IF NOT EXISTS esc_case (
     case_id TEXT PRIMARY KEY, snapshot TEXT NOT NULL, snapshot_updated_at BIGINT NOT NULL,
     policy_id TEXT, policy_version INTEGER, run INTEGER NOT NULL, triggered_at BIGINT NOT NULL,
     failed_sends INTEGER NOT NULL, updated_at BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS esc_plan (
     id TEXT PRIMARY KEY, case_id TEXT NOT NULL, policy_id TEXT NOT NULL, policy_version INTEGER NOT NULL,
     kind TEXT NOT NULL, step INTEGER NOT NULL, rep INTEGER NOT NULL, run INTEGER NOT NULL,
     due_at BIGINT NOT NULL, recipient TEXT, fold_key TEXT, payload TEXT,
     claimed_by TEXT, claimed_at BIGINT, done_at BIGINT, outcome TEXT)`,
  `CREATE INDEX IF NOT EXISTS esc_plan_due ON esc_plan (due_at) WHERE done_at IS NULL`,
  `CREATE INDEX IF NOT EXISTS esc_plan_case ON esc_plan (case_id)`,
  // At most one open fold per (recipient, fold): concurrent appends meet on this index.
  `CREATE UNIQUE INDEX IF NOT EXISTS esc_plan_open_fold ON esc_plan (recipient, fold_key)
     WHERE kind = 'fold' AND claimed_by IS NULL AND done_at IS NULL`,
  `CREATE TABLE IF NOT EXISTS esc_recipient_log (
     recipient TEXT NOT NULL, kind TEXT NOT NULL, case_id TEXT NOT NULL, community TEXT NOT NULL,
     at BIGINT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS esc_recipient_log_at ON esc_recipient_log (recipient, at)`,
];

export const PLAN_COLUMNS =
  'id, case_id, policy_id, policy_version, kind, step, rep, run, due_at, recipient, fold_key, payload';

export function planValues(r: PlanRow): unknown[] {
  return [
    r.id,
    r.caseId,
    r.policyId,
    r.policyVersion,
    r.kind,
    r.step,
    r.repeat,
    r.run,
    r.dueAt,
    r.recipient ?? null,
    r.foldKey ?? null,
    r.payload ?? null,
  ];
}

const num = (v: unknown): number => (typeof v === 'string' ? Number(v) : (v as number));
const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

export function toPlanRow(r: Record<string, unknown>): PlanRow {
  const row: PlanRow = {
    id: r.id as string,
    caseId: r.case_id as string,
    policyId: r.policy_id as string,
    policyVersion: num(r.policy_version),
    kind: r.kind as RowKind,
    step: num(r.step),
    repeat: num(r.rep),
    run: num(r.run),
    dueAt: num(r.due_at),
  };
  const optional: [keyof PlanRow, unknown][] = [
    ['recipient', opt(r.recipient)],
    ['foldKey', opt(r.fold_key)],
    ['payload', opt(r.payload)],
    ['claimedBy', opt(r.claimed_by)],
    ['claimedAt', r.claimed_at == null ? undefined : num(r.claimed_at)],
    ['doneAt', r.done_at == null ? undefined : num(r.done_at)],
    ['outcome', opt(r.outcome)],
  ];
  for (const [k, v] of optional) if (v !== undefined) (row as unknown as Record<string, unknown>)[k] = v;
  return row;
}

export function toCaseState(r: Record<string, unknown>): CaseState {
  return {
    caseId: r.case_id as string,
    snapshot: JSON.parse(r.snapshot as string),
    ...(r.policy_id != null ? { policyId: r.policy_id as string, policyVersion: num(r.policy_version) } : {}),
    run: num(r.run),
    triggeredAt: num(r.triggered_at),
    failedSends: num(r.failed_sends),
    updatedAt: num(r.updated_at),
  };
}

export function caseValues(s: CaseState): unknown[] {
  return [
    s.caseId,
    JSON.stringify(s.snapshot),
    s.snapshot.updatedAt,
    s.policyId ?? null,
    s.policyVersion ?? null,
    s.run,
    s.triggeredAt,
    s.failedSends,
    s.updatedAt,
  ];
}

export const CASE_COLUMNS =
  'case_id, snapshot, snapshot_updated_at, policy_id, policy_version, run, triggered_at, failed_sends, updated_at';

export function toLogEntry(r: Record<string, unknown>): RecipientLogEntry {
  return {
    recipient: r.recipient as string,
    kind: r.kind as RecipientLogEntry['kind'],
    caseId: r.case_id as string,
    community: r.community as string,
    at: num(r.at),
  };
}

export function parsePolicy(body: string): Policy {
  return JSON.parse(body) as Policy;
}

/**
 * Claim order: first notices (预警: step 0, first repeat) before every other due row, then by due
 * time — a burst of overdue reminders never makes a new case's first notice wait behind it
 * (GB 26875.1-2011 §4.1.2.1: alarms reach the centre within 10 s; reminders are not alarms).
 */
export const FIRST_NOTICE_FIRST = "CASE WHEN kind = 'step' AND step = 0 AND rep = 0 THEN 0 ELSE 1 END";
