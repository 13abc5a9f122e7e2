/**
 * SQLite adapter on the cloud store's better-sqlite3 connection. SQLite has one writer: every
 * read-modify-write runs in a `BEGIN IMMEDIATE` transaction, which takes the write lock up front,
 * so two processes on one file (or a restarted one) serialise on it. A claim is the guarded
 * `UPDATE … SET claimed_by = ?, claimed_at = ? WHERE id = ? AND (claimed_by IS NULL OR lease
 * expired)`; only rows whose update changed a row are returned.
 */
import type { Database } from 'better-sqlite3';
import type { AlarmCase } from '../../alarms/contract.js';
import type { Policy } from '../policy.js';
import {
  type CaseState,
  type EscalationStore,
  type FoldEntry,
  newFoldRow,
  type PlanRow,
  policyBody,
  type RecipientLogEntry,
  type RowKind,
} from './port.js';
import {
  CASE_COLUMNS,
  caseValues,
  DDL,
  FIRST_NOTICE_FIRST,
  PLAN_COLUMNS,
  parsePolicy,
  planValues,
  toCaseState,
  toLogEntry,
  toPlanRow,
} from './sql.js';

type Row = Record<string, unknown>;
const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');

export class SqliteEscalationStore implements EscalationStore {
  constructor(private readonly db: Database) {}

  #tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  async migrate(): Promise<void> {
    this.#tx(() => {
      for (const sql of DDL) this.db.exec(sql);
    });
  }

  async savePolicy(policy: Policy, at: number): Promise<'inserted' | 'unchanged' | 'conflict'> {
    const body = policyBody(policy);
    return this.#tx(() => {
      const row = this.db
        .prepare('SELECT body FROM esc_policy WHERE id = ? AND version = ?')
        .get(policy.id, policy.version) as Row | undefined;
      if (row) return row.body === body ? 'unchanged' : 'conflict';
      this.db
        .prepare('INSERT INTO esc_policy (id, version, body, created_at) VALUES (?, ?, ?, ?)')
        .run(policy.id, policy.version, body, at);
      return 'inserted';
    });
  }

  async getPolicy(id: string, version: number): Promise<Policy | undefined> {
    const row = this.db
      .prepare('SELECT body FROM esc_policy WHERE id = ? AND version = ?')
      .get(id, version) as Row | undefined;
    return row ? parsePolicy(row.body as string) : undefined;
  }

  async getCase(caseId: string): Promise<CaseState | undefined> {
    const row = this.db.prepare('SELECT * FROM esc_case WHERE case_id = ?').get(caseId) as Row | undefined;
    return row ? toCaseState(row) : undefined;
  }

  async saveSnapshot(snapshot: AlarmCase, at: number): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO esc_case (${CASE_COLUMNS}) VALUES (${marks(9)})
         ON CONFLICT (case_id) DO UPDATE SET snapshot = excluded.snapshot,
           snapshot_updated_at = excluded.snapshot_updated_at, updated_at = excluded.updated_at
         WHERE excluded.snapshot_updated_at >= esc_case.snapshot_updated_at`,
      )
      .run(
        caseValues({ caseId: snapshot.id, snapshot, run: 0, triggeredAt: at, failedSends: 0, updatedAt: at }),
      );
  }

  async plan(state: CaseState, rows: readonly PlanRow[], cancelOutcome?: string): Promise<void> {
    this.#tx(() => {
      if (cancelOutcome !== undefined) this.#cancel(state.caseId, cancelOutcome, state.updatedAt);
      this.db
        .prepare(
          `INSERT INTO esc_case (${CASE_COLUMNS}) VALUES (${marks(9)})
           ON CONFLICT (case_id) DO UPDATE SET snapshot = excluded.snapshot,
             snapshot_updated_at = excluded.snapshot_updated_at, policy_id = excluded.policy_id,
             policy_version = excluded.policy_version, run = excluded.run,
             triggered_at = excluded.triggered_at, failed_sends = excluded.failed_sends,
             updated_at = excluded.updated_at`,
        )
        .run(caseValues(state));
      this.#insert(rows);
    });
  }

  async cancel(caseId: string, outcome: string, at: number, kinds?: readonly RowKind[]): Promise<number> {
    return this.#tx(() => this.#cancel(caseId, outcome, at, kinds));
  }

  async insert(rows: readonly PlanRow[]): Promise<string[]> {
    return this.#tx(() => this.#insert(rows));
  }

  async claimDue(worker: string, now: number, leaseMs: number, limit: number): Promise<PlanRow[]> {
    const stale = now - leaseMs;
    return this.#tx(() => {
      const due = this.db
        .prepare(
          `SELECT id FROM esc_plan WHERE done_at IS NULL AND due_at <= ?
             AND (claimed_by IS NULL OR claimed_at < ?) ORDER BY ${FIRST_NOTICE_FIRST}, due_at, id LIMIT ?`,
        )
        .all(now, stale, limit) as Row[];
      const claim = this.db.prepare(
        `UPDATE esc_plan SET claimed_by = ?, claimed_at = ?
           WHERE id = ? AND done_at IS NULL AND (claimed_by IS NULL OR claimed_at < ?)`,
      );
      const get = this.db.prepare('SELECT * FROM esc_plan WHERE id = ?');
      const out: PlanRow[] = [];
      for (const { id } of due)
        if (claim.run(worker, now, id, stale).changes === 1) out.push(toPlanRow(get.get(id) as Row));
      return out;
    });
  }

  async complete(
    id: string,
    worker: string,
    outcome: string,
    at: number,
    followUps: readonly PlanRow[] = [],
  ) {
    return this.#tx(() => {
      const done = this.db
        .prepare(
          'UPDATE esc_plan SET done_at = ?, outcome = ? WHERE id = ? AND claimed_by = ? AND done_at IS NULL',
        )
        .run(at, outcome, id, worker);
      if (done.changes !== 1) return false;
      this.#insert(followUps);
      return true;
    });
  }

  async renew(ids: readonly string[], worker: string, now: number): Promise<void> {
    if (ids.length === 0) return;
    this.db
      .prepare(
        `UPDATE esc_plan SET claimed_at = ? WHERE id IN (${marks(ids.length)})
           AND claimed_by = ? AND done_at IS NULL`,
      )
      .run(now, ...ids, worker);
  }

  async release(id: string, worker: string, dueAt: number): Promise<boolean> {
    return (
      this.db
        .prepare(
          `UPDATE esc_plan SET claimed_by = NULL, claimed_at = NULL, due_at = ?
             WHERE id = ? AND claimed_by = ? AND done_at IS NULL AND kind <> 'fold'`,
        )
        .run(dueAt, id, worker).changes === 1
    );
  }

  async retime(updates: readonly { id: string; dueAt: number }[]): Promise<void> {
    const put = this.db.prepare(
      'UPDATE esc_plan SET due_at = ? WHERE id = ? AND done_at IS NULL AND claimed_by IS NULL',
    );
    this.#tx(() => {
      for (const u of updates) put.run(u.dueAt, u.id);
    });
  }

  async addFailedSends(caseId: string, n: number): Promise<number> {
    const row = this.db
      .prepare('UPDATE esc_case SET failed_sends = failed_sends + ? WHERE case_id = ? RETURNING failed_sends')
      .get(n, caseId) as Row | undefined;
    return row ? Number(row.failed_sends) : n;
  }

  async fold(
    recipient: string,
    foldKey: string,
    dueAt: number,
    entry: FoldEntry,
    policy: { id: string; version: number },
  ) {
    return this.#tx(() => {
      const existing = this.db
        .prepare(
          `SELECT id, payload FROM esc_plan WHERE kind = 'fold' AND recipient = ? AND fold_key = ?
             AND claimed_by IS NULL AND done_at IS NULL`,
        )
        .get(recipient, foldKey) as Row | undefined;
      if (existing) {
        const entries = [...(JSON.parse(existing.payload as string) as FoldEntry[]), entry];
        this.db
          .prepare('UPDATE esc_plan SET payload = ? WHERE id = ?')
          .run(JSON.stringify(entries), existing.id);
        return existing.id as string;
      }
      const row = newFoldRow(entry, policy, recipient, foldKey, dueAt);
      this.#insert([row]);
      return row.id;
    });
  }

  async logRecipient(entries: readonly RecipientLogEntry[]): Promise<void> {
    const put = this.db.prepare(
      'INSERT INTO esc_recipient_log (recipient, kind, case_id, community, at) VALUES (?, ?, ?, ?, ?)',
    );
    this.#tx(() => {
      for (const e of entries) put.run(e.recipient, e.kind, e.caseId, e.community, e.at);
    });
  }

  async recipientLog(recipient: string, since: number): Promise<RecipientLogEntry[]> {
    return (
      this.db
        .prepare('SELECT * FROM esc_recipient_log WHERE recipient = ? AND at >= ? ORDER BY at')
        .all(recipient, since) as Row[]
    ).map(toLogEntry);
  }

  async rows(caseId?: string): Promise<PlanRow[]> {
    const rows = (
      caseId === undefined
        ? this.db.prepare('SELECT * FROM esc_plan ORDER BY due_at, id').all()
        : this.db.prepare('SELECT * FROM esc_plan WHERE case_id = ? ORDER BY due_at, id').all(caseId)
    ) as Row[];
    return rows.map(toPlanRow);
  }

  async prune(before: number): Promise<void> {
    this.#tx(() => {
      this.db.prepare('DELETE FROM esc_plan WHERE done_at IS NOT NULL AND done_at < ?').run(before);
      this.db.prepare('DELETE FROM esc_recipient_log WHERE at < ?').run(before);
    });
  }

  #cancel(caseId: string, outcome: string, at: number, kinds?: readonly RowKind[]): number {
    const kindFilter = kinds ? ` AND kind IN (${marks(kinds.length)})` : '';
    return this.db
      .prepare(
        `UPDATE esc_plan SET done_at = ?, outcome = ? WHERE case_id = ? AND kind <> 'fold'
           AND claimed_by IS NULL AND done_at IS NULL${kindFilter}`,
      )
      .run(at, outcome, caseId, ...(kinds ?? [])).changes;
  }

  #insert(rows: readonly PlanRow[]): string[] {
    const put = this.db.prepare(
      `INSERT INTO esc_plan (${PLAN_COLUMNS}) VALUES (${marks(12)}) ON CONFLICT DO NOTHING`,
    );
    return rows.filter((r) => put.run(planValues(r)).changes === 1).map((r) => r.id);
  }
}
