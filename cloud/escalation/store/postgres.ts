/**
 * PostgreSQL adapter on the cloud store's pg Pool. Several cloud instances share the database, so
 * claims use `SELECT … FOR UPDATE SKIP LOCKED` inside a guarded `UPDATE … RETURNING`: a row locked
 * by another instance is skipped, and one that another instance claimed and committed meanwhile
 * fails the re-checked WHERE (READ COMMITTED re-evaluates it on the new row version, PostgreSQL docs
 * §13.2.1) — no row is ever returned to two instances. DDL runs under an advisory lock because
 * concurrent `CREATE TABLE IF NOT EXISTS` can still collide in the catalogue.
 */
import type { Pool, PoolClient } from 'pg';
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
const params = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${i + from}`).join(', ');
const MIGRATE_LOCK = 0x0e5ca1a7;

export class PostgresEscalationStore implements EscalationStore {
  constructor(private readonly pool: Pool) {}

  async #tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async migrate(): Promise<void> {
    await this.#tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK]);
      for (const sql of DDL) await c.query(sql);
    });
  }

  async savePolicy(policy: Policy, at: number): Promise<'inserted' | 'unchanged' | 'conflict'> {
    const body = policyBody(policy);
    const ins = await this.pool.query(
      'INSERT INTO esc_policy (id, version, body, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [policy.id, policy.version, body, at],
    );
    if (ins.rowCount === 1) return 'inserted';
    const { rows } = await this.pool.query('SELECT body FROM esc_policy WHERE id = $1 AND version = $2', [
      policy.id,
      policy.version,
    ]);
    return rows[0]?.body === body ? 'unchanged' : 'conflict';
  }

  async getPolicy(id: string, version: number): Promise<Policy | undefined> {
    const { rows } = await this.pool.query('SELECT body FROM esc_policy WHERE id = $1 AND version = $2', [
      id,
      version,
    ]);
    return rows[0] ? parsePolicy(rows[0].body as string) : undefined;
  }

  async getCase(caseId: string): Promise<CaseState | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM esc_case WHERE case_id = $1', [caseId]);
    return rows[0] ? toCaseState(rows[0] as Row) : undefined;
  }

  async saveSnapshot(snapshot: AlarmCase, at: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO esc_case (${CASE_COLUMNS}) VALUES (${params(9)})
       ON CONFLICT (case_id) DO UPDATE SET snapshot = excluded.snapshot,
         snapshot_updated_at = excluded.snapshot_updated_at, updated_at = excluded.updated_at
       WHERE excluded.snapshot_updated_at >= esc_case.snapshot_updated_at`,
      caseValues({ caseId: snapshot.id, snapshot, run: 0, triggeredAt: at, failedSends: 0, updatedAt: at }),
    );
  }

  async plan(state: CaseState, rows: readonly PlanRow[], cancelOutcome?: string): Promise<void> {
    await this.#tx(async (c) => {
      if (cancelOutcome !== undefined) await this.#cancel(c, state.caseId, cancelOutcome, state.updatedAt);
      await c.query(
        `INSERT INTO esc_case (${CASE_COLUMNS}) VALUES (${params(9)})
         ON CONFLICT (case_id) DO UPDATE SET snapshot = excluded.snapshot,
           snapshot_updated_at = excluded.snapshot_updated_at, policy_id = excluded.policy_id,
           policy_version = excluded.policy_version, run = excluded.run,
           triggered_at = excluded.triggered_at, failed_sends = excluded.failed_sends,
           updated_at = excluded.updated_at`,
        caseValues(state),
      );
      await this.#insert(c, rows);
    });
  }

  async cancel(caseId: string, outcome: string, at: number, kinds?: readonly RowKind[]): Promise<number> {
    return this.#tx((c) => this.#cancel(c, caseId, outcome, at, kinds));
  }

  async insert(rows: readonly PlanRow[]): Promise<string[]> {
    return this.#tx((c) => this.#insert(c, rows));
  }

  async claimDue(worker: string, now: number, leaseMs: number, limit: number): Promise<PlanRow[]> {
    const stale = now - leaseMs;
    const { rows } = await this.pool.query(
      // The due rows are chosen once, in a materialised CTE: as an `IN (subquery)` the planner may
      // run the LIMITed SKIP LOCKED subquery more than once and claim more than `limit` rows.
      `WITH due AS MATERIALIZED (
         SELECT id FROM esc_plan WHERE done_at IS NULL AND due_at <= $2
           AND (claimed_by IS NULL OR claimed_at < $3)
           ORDER BY ${FIRST_NOTICE_FIRST}, due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
       UPDATE esc_plan SET claimed_by = $1, claimed_at = $2
         FROM due WHERE esc_plan.id = due.id
           AND esc_plan.done_at IS NULL AND (esc_plan.claimed_by IS NULL OR esc_plan.claimed_at < $3)
         RETURNING esc_plan.*`,
      [worker, now, stale, limit],
    );
    // In claim order (FIRST_NOTICE_FIRST): RETURNING keeps none.
    const first = (r: PlanRow) => (r.kind === 'step' && r.step === 0 && r.repeat === 0 ? 0 : 1);
    return (rows as Row[])
      .map(toPlanRow)
      .sort((a, b) => first(a) - first(b) || a.dueAt - b.dueAt || a.id.localeCompare(b.id));
  }

  async complete(
    id: string,
    worker: string,
    outcome: string,
    at: number,
    followUps: readonly PlanRow[] = [],
  ) {
    return this.#tx(async (c) => {
      const done = await c.query(
        'UPDATE esc_plan SET done_at = $1, outcome = $2 WHERE id = $3 AND claimed_by = $4 AND done_at IS NULL',
        [at, outcome, id, worker],
      );
      if (done.rowCount !== 1) return false;
      await this.#insert(c, followUps);
      return true;
    });
  }

  async renew(ids: readonly string[], worker: string, now: number): Promise<void> {
    if (ids.length === 0) return;
    await this.pool.query(
      `UPDATE esc_plan SET claimed_at = $1 WHERE id = ANY($2::text[]) AND claimed_by = $3 AND done_at IS NULL`,
      [now, [...ids], worker],
    );
  }

  async release(id: string, worker: string, dueAt: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE esc_plan SET claimed_by = NULL, claimed_at = NULL, due_at = $1
         WHERE id = $2 AND claimed_by = $3 AND done_at IS NULL AND kind <> 'fold'`,
      [dueAt, id, worker],
    );
    return r.rowCount === 1;
  }

  async retime(updates: readonly { id: string; dueAt: number }[]): Promise<void> {
    if (updates.length === 0) return;
    await this.pool.query(
      `UPDATE esc_plan p SET due_at = u.due_at
         FROM unnest($1::text[], $2::bigint[]) AS u(id, due_at)
         WHERE p.id = u.id AND p.done_at IS NULL AND p.claimed_by IS NULL`,
      [updates.map((u) => u.id), updates.map((u) => u.dueAt)],
    );
  }

  async addFailedSends(caseId: string, n: number): Promise<number> {
    const { rows } = await this.pool.query(
      'UPDATE esc_case SET failed_sends = failed_sends + $1 WHERE case_id = $2 RETURNING failed_sends',
      [n, caseId],
    );
    return rows[0] ? Number(rows[0].failed_sends) : n;
  }

  async fold(
    recipient: string,
    foldKey: string,
    dueAt: number,
    entry: FoldEntry,
    policy: { id: string; version: number },
  ) {
    // Two attempts: a concurrent instance may open the same fold between our SELECT and INSERT;
    // the partial unique index turns that into a conflict, and the retry then appends to it.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#tx(async (c) => {
          const { rows } = await c.query(
            `SELECT id, payload FROM esc_plan WHERE kind = 'fold' AND recipient = $1 AND fold_key = $2
               AND claimed_by IS NULL AND done_at IS NULL FOR UPDATE`,
            [recipient, foldKey],
          );
          const existing = rows[0] as Row | undefined;
          if (existing) {
            const entries = [...(JSON.parse(existing.payload as string) as FoldEntry[]), entry];
            await c.query('UPDATE esc_plan SET payload = $1 WHERE id = $2', [
              JSON.stringify(entries),
              existing.id,
            ]);
            return existing.id as string;
          }
          const row = newFoldRow(entry, policy, recipient, foldKey, dueAt);
          await c.query(`INSERT INTO esc_plan (${PLAN_COLUMNS}) VALUES (${params(12)})`, planValues(row));
          return row.id;
        });
      } catch (error) {
        if (attempt >= 2 || (error as { code?: string }).code !== '23505') throw error;
      }
    }
  }

  async logRecipient(entries: readonly RecipientLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const values = entries.map((_, i) => `(${params(5, i * 5 + 1)})`).join(', ');
    await this.pool.query(
      `INSERT INTO esc_recipient_log (recipient, kind, case_id, community, at) VALUES ${values}`,
      entries.flatMap((e) => [e.recipient, e.kind, e.caseId, e.community, e.at]),
    );
  }

  async recipientLog(recipient: string, since: number): Promise<RecipientLogEntry[]> {
    const { rows } = await this.pool.query(
      'SELECT * FROM esc_recipient_log WHERE recipient = $1 AND at >= $2 ORDER BY at',
      [recipient, since],
    );
    return (rows as Row[]).map(toLogEntry);
  }

  async rows(caseId?: string): Promise<PlanRow[]> {
    const { rows } =
      caseId === undefined
        ? await this.pool.query('SELECT * FROM esc_plan ORDER BY due_at, id')
        : await this.pool.query('SELECT * FROM esc_plan WHERE case_id = $1 ORDER BY due_at, id', [caseId]);
    return (rows as Row[]).map(toPlanRow);
  }

  async prune(before: number): Promise<void> {
    await this.#tx(async (c) => {
      await c.query('DELETE FROM esc_plan WHERE done_at IS NOT NULL AND done_at < $1', [before]);
      await c.query('DELETE FROM esc_recipient_log WHERE at < $1', [before]);
    });
  }

  async #cancel(c: PoolClient, caseId: string, outcome: string, at: number, kinds?: readonly RowKind[]) {
    const kindFilter = kinds ? ` AND kind = ANY($4::text[])` : '';
    const res = await c.query(
      `UPDATE esc_plan SET done_at = $1, outcome = $2 WHERE case_id = $3 AND kind <> 'fold'
         AND claimed_by IS NULL AND done_at IS NULL${kindFilter}`,
      kinds ? [at, outcome, caseId, [...kinds]] : [at, outcome, caseId],
    );
    return res.rowCount ?? 0;
  }

  async #insert(c: PoolClient, rows: readonly PlanRow[]): Promise<string[]> {
    const inserted: string[] = [];
    for (const r of rows) {
      const res = await c.query(
        `INSERT INTO esc_plan (${PLAN_COLUMNS}) VALUES (${params(12)}) ON CONFLICT DO NOTHING`,
        planValues(r),
      );
      if (res.rowCount === 1) inserted.push(r.id);
    }
    return inserted;
  }
}
