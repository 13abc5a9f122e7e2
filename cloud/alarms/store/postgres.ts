/**
 * The case store on the CloudStore's PostgreSQL pool. READ COMMITTED transactions; concurrency
 * between cloud instances is settled by the database, not by luck:
 * - a transition is claimed by inserting (gateway, alarm id, state) — a concurrent claimer waits on
 *   the unique index and then sees the conflict, so each transition is applied once;
 * - a new alarm id takes the dedup key's row lock (an upsert) and then looks its alarm id up again
 *   (another transition of the same id may have committed its case while it waited) before it looks
 *   for the condition's open case, so it joins that case as an occurrence or creates the one case —
 *   one at a time per key, and an alarm id is never counted twice;
 * - a case is changed only under SELECT … FOR UPDATE, so concurrent actions serialise;
 * - a unique violation (two transitions of one new alarm id racing to create it), a deadlock or a
 *   serialization failure rolls back and retries the whole transaction.
 */
import type pg from 'pg';
import { type AlarmTransition, DoorstepError, type DownlinkCommand } from '../../../protocol/index.js';
import { checkScope, scopeRange } from '../../store/common.js';
import type { AlarmCase } from '../contract.js';
import { type AuditEntry, type CaseChange, dedupKeyOf } from '../model.js';
import {
  type AlarmCaseStore,
  type Board,
  type BoardFilter,
  type CaseFilter,
  type CaseLogEntry,
  type CommandResult,
  type CursorLease,
  commandAudit,
  DEFAULT_CASE_LIMIT,
  logEntriesOf,
  MAX_CASE_LIMIT,
  type TransitionPlanner,
} from './port.js';
import {
  auditFromRow,
  auditValues,
  boardFromRows,
  boardSql,
  CASE_COLUMNS,
  caseFromRow,
  caseValues,
  commandFromRow,
  conditionCaseSql,
  eventFromRow,
  eventValues,
  POSTGRES_CASE_MIGRATIONS,
  type Row,
} from './sql.js';

/** Advisory lock key of this store's migrations ('do' 'a1'; the CloudStore uses 0x646f_000x). */
const MIGRATE_LOCK = 0x646f_a101;
/** Advisory lock that orders appends to the case-event log (held by one transaction to its commit). */
const EVENT_LOCK = 0x646f_a102;
/** unique_violation, serialization_failure, deadlock_detected. */
const RETRYABLE = new Set(['23505', '40001', '40P01']);
const ATTEMPTS = 5;

const ph = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${i + from}`).join(', ');

export class PostgresAlarmCaseStore implements AlarmCaseStore {
  constructor(private readonly pool: pg.Pool) {}

  async #tx<T>(fn: (c: pg.PoolClient) => Promise<T>, retry = true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        const value = await fn(client);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        const code = (error as { code?: string })?.code ?? '';
        if (!retry || !RETRYABLE.has(code) || attempt >= ATTEMPTS) throw error;
        await new Promise((r) => setTimeout(r, 3 * attempt + Math.random() * 5 * attempt));
      } finally {
        client.release();
      }
    }
  }

  async migrate(): Promise<void> {
    await this.#tx(async (c) => {
      // Two instances starting together: one migrates, the other waits and finds it done.
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK]);
      await c.query(`CREATE TABLE IF NOT EXISTS alarm_schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
      const current = Number(
        (await c.query('SELECT coalesce(max(version), 0) AS v FROM alarm_schema_migrations')).rows[0]?.v ?? 0,
      );
      const latest = POSTGRES_CASE_MIGRATIONS.at(-1)?.version ?? 0;
      if (current > latest)
        throw new DoorstepError('CLOUD_ERR_STORE_SCHEMA', { found: current, supported: latest });
      for (const m of POSTGRES_CASE_MIGRATIONS) {
        if (m.version <= current) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO alarm_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
    }, false);
  }

  async #case(c: pg.PoolClient | pg.Pool, id: string, lock: boolean): Promise<AlarmCase | undefined> {
    const r = await c.query(`SELECT data FROM alarm_cases WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    const row = r.rows[0] as Row | undefined;
    return row ? caseFromRow(row) : undefined;
  }

  async #write(c: pg.PoolClient, change: CaseChange, insert: boolean): Promise<void> {
    const k = change.case;
    const values = caseValues(k, (open) => open);
    if (insert)
      await c.query(
        `INSERT INTO alarm_cases (${CASE_COLUMNS.join(', ')}) VALUES (${ph(CASE_COLUMNS.length)})`,
        values,
      );
    else
      await c.query(
        `UPDATE alarm_cases SET ${CASE_COLUMNS.slice(1)
          .map((col, i) => `${col} = $${i + 2}`)
          .join(', ')} WHERE id = $1`,
        values,
      );
    for (const entry of change.audit) await this.#audit(c, entry);
    if (change.photo !== undefined)
      await c.query(
        `INSERT INTO alarm_case_photos (case_id, data_url, at) VALUES ($1, $2, $3)
         ON CONFLICT (case_id) DO UPDATE SET data_url = excluded.data_url, at = excluded.at`,
        [k.id, change.photo, k.updatedAt],
      );
    for (const q of change.commands ?? []) await this.#enqueue(c, q.gateway, q.command, k.updatedAt);
    const entries = logEntriesOf(change);
    if (entries.length === 0) return;
    // The case-event log, in this same transaction. Appends are serialised (a transaction-scoped
    // lock held to its commit, taken last so that no other lock is awaited while holding it): a
    // sequence number is drawn when its row is inserted, and without the lock a later number could
    // commit first, a reader past it would then never see the earlier one (a skipped event).
    await c.query('SELECT pg_advisory_xact_lock($1)', [EVENT_LOCK]);
    for (const e of entries)
      await c.query(
        `INSERT INTO alarm_case_events (case_id, kind, at, by_person, site_path, data) VALUES (${ph(6)})`,
        eventValues(e),
      );
  }

  async #audit(c: pg.PoolClient, entry: AuditEntry): Promise<void> {
    await c.query(
      `INSERT INTO alarm_case_audit (case_id, at, action, actor, before, after, detail) VALUES (${ph(7)})`,
      auditValues(entry),
    );
  }

  async #enqueue(c: pg.PoolClient | pg.Pool, gateway: string, command: DownlinkCommand, at: number) {
    await c.query(
      `INSERT INTO alarm_commands (gateway, id, case_id, command, enqueued_at, status)
       VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT (gateway, id) DO NOTHING`,
      [gateway, command.id, command.alarm ?? null, JSON.stringify(command), at],
    );
  }

  async applyTransition(t: AlarmTransition, plan: TransitionPlanner): Promise<CaseChange | undefined> {
    return this.#tx(async (c) => {
      const claimed = await c.query(
        'INSERT INTO alarm_case_claims (gateway, alarm_id, state, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
        [t.gateway, t.id, t.state, t.ts],
      );
      if (claimed.rowCount === 0) return undefined;
      const known = async () =>
        (await this.#case(c, t.id, true)) ?? (await this.#occurrenceCase(c, t.gateway, t.id));
      let existing = await known();
      if (!existing) {
        // The key's row lock: one new alarm id of a condition at a time, so a condition never gets
        // two open cases; the one that waited sees the other's case (READ COMMITTED, next statement).
        // Locked without counting (a no-op update still locks the row): what it finds decides.
        const key = dedupKeyOf(t);
        await c.query(
          `INSERT INTO alarm_case_keys (dedup_key, occurrences) VALUES ($1, 0)
           ON CONFLICT (dedup_key) DO UPDATE SET occurrences = alarm_case_keys.occurrences`,
          [key],
        );
        // Looked up again under the lock: another transition of this same alarm id (its clear
        // racing its raise, a duplicated delivery on another instance) may have created its case or
        // placed it as an occurrence and committed while this one waited. Seen only as the
        // condition's open case, it would be counted as occurring again (occurrence + 1 for an
        // alarm the case already holds).
        existing = await known();
        if (!existing)
          await c.query('UPDATE alarm_case_keys SET occurrences = occurrences + 1 WHERE dedup_key = $1', [
            key,
          ]);
      }
      if (existing) {
        const change = plan.existing(existing);
        if (change) await this.#write(c, change, false);
        return change;
      }
      const row = (await c.query(conditionCaseSql('postgres'), [dedupKeyOf(t), t.test])).rows[0] as
        | Row
        | undefined;
      const found = row ? caseFromRow(row) : undefined;
      if (found && row?.['open']) {
        const change = plan.reoccur(found);
        if (!change) return undefined;
        // Under the key's lock no other transition of this alarm id can place it now; a unique
        // violation here is still retried from the claim. Before the write: the write takes the
        // case-event log's append lock last, and no other lock may be awaited while it is held.
        await c.query(
          'INSERT INTO alarm_case_occurrences (gateway, alarm_id, case_id, at) VALUES ($1, $2, $3, $4)',
          [t.gateway, t.id, found.id, change.case.updatedAt],
        );
        await this.#write(c, change, false);
        return change;
      }
      const change = plan.create(found);
      // Under the key's lock no other transition of this alarm id can create it now; a unique
      // violation here is still retried from the claim, then found as existing.
      await this.#write(c, change, true);
      return change;
    });
  }

  async #occurrenceCase(c: pg.PoolClient, gateway: string, alarmId: string): Promise<AlarmCase | undefined> {
    const r = await c.query(
      'SELECT case_id FROM alarm_case_occurrences WHERE gateway = $1 AND alarm_id = $2',
      [gateway, alarmId],
    );
    const row = r.rows[0] as Row | undefined;
    return row ? this.#case(c, String(row['case_id']), true) : undefined;
  }

  async update(
    caseId: string,
    fn: (current: AlarmCase) => CaseChange | undefined,
  ): Promise<CaseChange | undefined | 'missing'> {
    return this.#tx(async (c): Promise<CaseChange | undefined | 'missing'> => {
      const current = await this.#case(c, caseId, true);
      if (!current) return 'missing';
      const change = fn(current);
      if (change) await this.#write(c, change, false);
      return change;
    });
  }

  async get(caseId: string): Promise<AlarmCase | undefined> {
    return this.#case(this.pool, caseId, false);
  }

  async list(scope: string, f: CaseFilter): Promise<AlarmCase[]> {
    const [lo, hi] = scopeRange(checkScope(scope));
    const params: unknown[] = [scope, lo, hi];
    const where = ['(site_path = $1 OR (site_path >= $2 AND site_path < $3))'];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(`${sql} $${params.length}`);
    };
    if (f.stage !== undefined) add('stage =', f.stage);
    if (f.open !== undefined) add('open =', f.open);
    if (f.from !== undefined) add('raised_at >=', f.from);
    if (f.to !== undefined) add('raised_at <', f.to);
    params.push(Math.min(f.limit ?? DEFAULT_CASE_LIMIT, MAX_CASE_LIMIT));
    const r = await this.pool.query(
      `SELECT data FROM alarm_cases WHERE ${where.join(' AND ')} ORDER BY raised_at DESC, id LIMIT $${params.length}`,
      params,
    );
    return (r.rows as Row[]).map(caseFromRow);
  }

  async board(scope: string, f: BoardFilter): Promise<Board> {
    const [lo, hi] = scopeRange(checkScope(scope));
    const sql = boardSql('postgres');
    const [cases, counts] = await Promise.all([
      this.pool.query(sql.cases, [scope, lo, hi, f.perCommunity, f.limit]),
      this.pool.query(sql.counts, [scope, lo, hi]),
    ]);
    return boardFromRows(cases.rows as Row[], counts.rows as Row[]);
  }

  async audit(caseId: string): Promise<AuditEntry[]> {
    const r = await this.pool.query('SELECT * FROM alarm_case_audit WHERE case_id = $1 ORDER BY seq', [
      caseId,
    ]);
    return (r.rows as Row[]).map(auditFromRow);
  }

  async photo(caseId: string): Promise<string | undefined> {
    const r = await this.pool.query('SELECT data_url FROM alarm_case_photos WHERE case_id = $1', [caseId]);
    const row = r.rows[0] as Row | undefined;
    return row ? String(row['data_url']) : undefined;
  }

  async readEvents(after: number, limit: number): Promise<CaseLogEntry[]> {
    const r = await this.pool.query('SELECT * FROM alarm_case_events WHERE seq > $1 ORDER BY seq LIMIT $2', [
      after,
      limit,
    ]);
    return (r.rows as Row[]).map(eventFromRow);
  }

  async lastEventSeq(): Promise<number> {
    const r = await this.pool.query('SELECT coalesce(max(seq), 0) AS s FROM alarm_case_events');
    return Number((r.rows[0] as Row | undefined)?.['s'] ?? 0);
  }

  async leaseCursor(
    consumer: string,
    holder: string,
    now: number,
    leaseMs: number,
    startAt = 0,
  ): Promise<CursorLease | undefined> {
    return this.#tx(async (c) => {
      await c.query(
        `INSERT INTO alarm_case_cursors (consumer, seq, holder, lease_until, updated_at)
         VALUES ($1, $2, NULL, 0, $3) ON CONFLICT (consumer) DO NOTHING`,
        [consumer, startAt, now],
      );
      const r = await c.query(
        `UPDATE alarm_case_cursors SET holder = $2, lease_until = $3, updated_at = $4
         WHERE consumer = $1 AND (holder IS NULL OR holder = $2 OR lease_until < $4) RETURNING seq`,
        [consumer, holder, now + leaseMs, now],
      );
      const row = r.rows[0] as Row | undefined;
      return row ? { seq: Number(row['seq']) } : undefined;
    });
  }

  async advanceCursor(consumer: string, holder: string, seq: number, now: number): Promise<boolean> {
    const r = await this.pool.query(
      'UPDATE alarm_case_cursors SET seq = GREATEST(seq, $3), updated_at = $4 WHERE consumer = $1 AND holder = $2',
      [consumer, holder, seq, now],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async releaseCursor(consumer: string, holder: string): Promise<void> {
    await this.pool.query(
      'UPDATE alarm_case_cursors SET holder = NULL, lease_until = 0 WHERE consumer = $1 AND holder = $2',
      [consumer, holder],
    );
  }

  async enqueueCommand(gateway: string, command: DownlinkCommand, at: number): Promise<void> {
    await this.#enqueue(this.pool, gateway, command, at);
  }

  async pendingCommands(gateway: string, limit: number): Promise<DownlinkCommand[]> {
    const r = await this.pool.query(
      "SELECT command FROM alarm_commands WHERE gateway = $1 AND status = 'pending' ORDER BY seq LIMIT $2",
      [gateway, limit],
    );
    return (r.rows as Row[]).map(commandFromRow);
  }

  async settleCommands(
    gateway: string,
    results: readonly CommandResult[],
    at: number,
  ): Promise<Array<{ id: string; caseId?: string }>> {
    if (results.length === 0) return [];
    return this.#tx(async (c) => {
      const settled: Array<{ id: string; caseId?: string }> = [];
      for (const result of results) {
        // UPDATE … WHERE pending RETURNING: of two instances settling the same answer, one wins.
        const r = await c.query(
          `UPDATE alarm_commands SET status = 'answered', answered_at = $3, result = $4
           WHERE gateway = $1 AND id = $2 AND status = 'pending' RETURNING case_id, command`,
          [gateway, result.id, at, JSON.stringify(result)],
        );
        const row = r.rows[0] as Row | undefined;
        if (!row) continue;
        const caseId = row['case_id'] === null ? undefined : String(row['case_id']);
        if (caseId) await this.#audit(c, commandAudit(caseId, gateway, commandFromRow(row), result, at));
        settled.push({ id: result.id, ...(caseId ? { caseId } : {}) });
      }
      return settled;
    });
  }
}
