/**
 * The case store on the CloudStore's SQLite database (better-sqlite3, shared connection). Every
 * write is one synchronous `BEGIN IMMEDIATE` transaction: the decision (model.ts) runs on the row
 * as stored, nothing else runs on the connection in between (the callbacks are synchronous), and a
 * refusal thrown by the decision rolls everything back.
 */
import type Database from 'better-sqlite3';
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
  type Row,
  SQLITE_CASE_MIGRATIONS,
} from './sql.js';

export class SqliteAlarmCaseStore implements AlarmCaseStore {
  constructor(private readonly db: Database.Database) {}

  async migrate(): Promise<void> {
    const db = this.db;
    db.exec(`CREATE TABLE IF NOT EXISTS alarm_schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    db.transaction(() => {
      const current = (
        db.prepare('SELECT coalesce(max(version), 0) AS v FROM alarm_schema_migrations').get() as {
          v: number;
        }
      ).v;
      const latest = SQLITE_CASE_MIGRATIONS.at(-1)?.version ?? 0;
      if (current > latest)
        throw new DoorstepError('CLOUD_ERR_STORE_SCHEMA', { found: current, supported: latest });
      for (const m of SQLITE_CASE_MIGRATIONS) {
        if (m.version <= current) continue;
        db.exec(m.sql);
        db.prepare('INSERT INTO alarm_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          m.version,
          m.name,
          Date.now(),
        );
      }
    }).immediate();
  }

  #case(id: string): AlarmCase | undefined {
    const row = this.db.prepare('SELECT data FROM alarm_cases WHERE id = ?').get(id) as Row | undefined;
    return row ? caseFromRow(row) : undefined;
  }

  #write(change: CaseChange, insert: boolean): void {
    const c = change.case;
    const values = caseValues(c, (open) => (open ? 1 : 0));
    if (insert)
      this.db
        .prepare(
          `INSERT INTO alarm_cases (${CASE_COLUMNS.join(', ')}) VALUES (${CASE_COLUMNS.map(() => '?').join(', ')})`,
        )
        .run(...values);
    else
      this.db
        .prepare(
          `UPDATE alarm_cases SET ${CASE_COLUMNS.slice(1)
            .map((col) => `${col} = ?`)
            .join(', ')} WHERE id = ?`,
        )
        .run(...values.slice(1), c.id);
    for (const entry of change.audit) this.#audit(entry);
    if (change.photo !== undefined)
      this.db
        .prepare(
          `INSERT INTO alarm_case_photos (case_id, data_url, at) VALUES (?, ?, ?)
           ON CONFLICT (case_id) DO UPDATE SET data_url = excluded.data_url, at = excluded.at`,
        )
        .run(c.id, change.photo, c.updatedAt);
    for (const q of change.commands ?? []) this.#enqueue(q.gateway, q.command, c.updatedAt);
    // The case-event log, in this same transaction: no change without its entry, no entry without it.
    for (const e of logEntriesOf(change))
      this.db
        .prepare(
          'INSERT INTO alarm_case_events (case_id, kind, at, by_person, site_path, data) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(...eventValues(e));
  }

  #audit(entry: AuditEntry): void {
    this.db
      .prepare(
        'INSERT INTO alarm_case_audit (case_id, at, action, actor, before, after, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(...auditValues(entry));
  }

  #enqueue(gateway: string, command: DownlinkCommand, at: number): void {
    this.db
      .prepare(
        `INSERT INTO alarm_commands (gateway, id, case_id, command, enqueued_at, status)
         VALUES (?, ?, ?, ?, ?, 'pending') ON CONFLICT (gateway, id) DO NOTHING`,
      )
      .run(gateway, command.id, command.alarm ?? null, JSON.stringify(command), at);
  }

  async applyTransition(t: AlarmTransition, plan: TransitionPlanner): Promise<CaseChange | undefined> {
    const db = this.db;
    return db
      .transaction((): CaseChange | undefined => {
        const claimed = db
          .prepare(
            'INSERT INTO alarm_case_claims (gateway, alarm_id, state, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
          )
          .run(t.gateway, t.id, t.state, t.ts);
        if (claimed.changes === 0) return undefined;
        const existing = this.#case(t.id) ?? this.#occurrenceCase(t.gateway, t.id);
        if (existing) {
          const change = plan.existing(existing);
          if (change) this.#write(change, false);
          return change;
        }
        // One writer for the whole transaction (BEGIN IMMEDIATE): the condition's newest case
        // cannot change between this read and the write. The key's counter counts every occurrence.
        db.prepare(
          `INSERT INTO alarm_case_keys (dedup_key, occurrences) VALUES (?, 1)
           ON CONFLICT (dedup_key) DO UPDATE SET occurrences = occurrences + 1`,
        ).run(dedupKeyOf(t));
        const row = db.prepare(conditionCaseSql('sqlite')).get(dedupKeyOf(t), t.test ? 1 : 0) as
          | Row
          | undefined;
        const found = row ? caseFromRow(row) : undefined;
        if (found && row?.['open']) {
          const change = plan.reoccur(found);
          if (!change) return undefined;
          this.#write(change, false);
          db.prepare(
            'INSERT INTO alarm_case_occurrences (gateway, alarm_id, case_id, at) VALUES (?, ?, ?, ?)',
          ).run(t.gateway, t.id, found.id, change.case.updatedAt);
          return change;
        }
        const change = plan.create(found);
        this.#write(change, true);
        return change;
      })
      .immediate();
  }

  #occurrenceCase(gateway: string, alarmId: string): AlarmCase | undefined {
    const row = this.db
      .prepare('SELECT case_id FROM alarm_case_occurrences WHERE gateway = ? AND alarm_id = ?')
      .get(gateway, alarmId) as Row | undefined;
    return row ? this.#case(String(row['case_id'])) : undefined;
  }

  async update(
    caseId: string,
    fn: (current: AlarmCase) => CaseChange | undefined,
  ): Promise<CaseChange | undefined | 'missing'> {
    return this.db
      .transaction((): CaseChange | undefined | 'missing' => {
        const current = this.#case(caseId);
        if (!current) return 'missing';
        const change = fn(current);
        if (change) this.#write(change, false);
        return change;
      })
      .immediate();
  }

  async get(caseId: string): Promise<AlarmCase | undefined> {
    return this.#case(caseId);
  }

  async list(scope: string, f: CaseFilter): Promise<AlarmCase[]> {
    const [lo, hi] = scopeRange(checkScope(scope));
    const where = ['(site_path = ? OR (site_path >= ? AND site_path < ?))'];
    const params: unknown[] = [scope, lo, hi];
    const add = (sql: string, value: unknown) => {
      where.push(sql);
      params.push(value);
    };
    if (f.stage !== undefined) add('stage = ?', f.stage);
    if (f.open !== undefined) add('open = ?', f.open ? 1 : 0);
    if (f.from !== undefined) add('raised_at >= ?', f.from);
    if (f.to !== undefined) add('raised_at < ?', f.to);
    params.push(Math.min(f.limit ?? DEFAULT_CASE_LIMIT, MAX_CASE_LIMIT));
    const rows = this.db
      .prepare(
        `SELECT data FROM alarm_cases WHERE ${where.join(' AND ')} ORDER BY raised_at DESC, id LIMIT ?`,
      )
      .all(...params) as Row[];
    return rows.map(caseFromRow);
  }

  async board(scope: string, f: BoardFilter): Promise<Board> {
    const [lo, hi] = scopeRange(checkScope(scope));
    const sql = boardSql('sqlite');
    const cases = this.db.prepare(sql.cases).all(scope, lo, hi, f.perCommunity, f.limit) as Row[];
    const counts = this.db.prepare(sql.counts).all(scope, lo, hi) as Row[];
    return boardFromRows(cases, counts);
  }

  async audit(caseId: string): Promise<AuditEntry[]> {
    const rows = this.db
      .prepare('SELECT * FROM alarm_case_audit WHERE case_id = ? ORDER BY seq')
      .all(caseId) as Row[];
    return rows.map(auditFromRow);
  }

  async photo(caseId: string): Promise<string | undefined> {
    const row = this.db.prepare('SELECT data_url FROM alarm_case_photos WHERE case_id = ?').get(caseId) as
      | Row
      | undefined;
    return row ? String(row['data_url']) : undefined;
  }

  async readEvents(after: number, limit: number): Promise<CaseLogEntry[]> {
    const rows = this.db
      .prepare('SELECT * FROM alarm_case_events WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(after, limit) as Row[];
    return rows.map(eventFromRow);
  }

  async lastEventSeq(): Promise<number> {
    const row = this.db.prepare('SELECT coalesce(max(seq), 0) AS s FROM alarm_case_events').get() as Row;
    return Number(row['s']);
  }

  async leaseCursor(
    consumer: string,
    holder: string,
    now: number,
    leaseMs: number,
    startAt = 0,
  ): Promise<CursorLease | undefined> {
    const db = this.db;
    return db
      .transaction((): CursorLease | undefined => {
        db.prepare(
          `INSERT INTO alarm_case_cursors (consumer, seq, holder, lease_until, updated_at)
           VALUES (?, ?, NULL, 0, ?) ON CONFLICT (consumer) DO NOTHING`,
        ).run(consumer, startAt, now);
        const row = db
          .prepare(
            `UPDATE alarm_case_cursors SET holder = ?, lease_until = ?, updated_at = ?
             WHERE consumer = ? AND (holder IS NULL OR holder = ? OR lease_until < ?) RETURNING seq`,
          )
          .get(holder, now + leaseMs, now, consumer, holder, now) as Row | undefined;
        return row ? { seq: Number(row['seq']) } : undefined;
      })
      .immediate();
  }

  async advanceCursor(consumer: string, holder: string, seq: number, now: number): Promise<boolean> {
    const r = this.db
      .prepare(
        'UPDATE alarm_case_cursors SET seq = max(seq, ?), updated_at = ? WHERE consumer = ? AND holder = ?',
      )
      .run(seq, now, consumer, holder);
    return r.changes > 0;
  }

  async releaseCursor(consumer: string, holder: string): Promise<void> {
    this.db
      .prepare(
        'UPDATE alarm_case_cursors SET holder = NULL, lease_until = 0 WHERE consumer = ? AND holder = ?',
      )
      .run(consumer, holder);
  }

  async enqueueCommand(gateway: string, command: DownlinkCommand, at: number): Promise<void> {
    this.#enqueue(gateway, command, at);
  }

  async pendingCommands(gateway: string, limit: number): Promise<DownlinkCommand[]> {
    const rows = this.db
      .prepare(
        "SELECT command FROM alarm_commands WHERE gateway = ? AND status = 'pending' ORDER BY seq LIMIT ?",
      )
      .all(gateway, limit) as Row[];
    return rows.map(commandFromRow);
  }

  async settleCommands(
    gateway: string,
    results: readonly CommandResult[],
    at: number,
  ): Promise<Array<{ id: string; caseId?: string }>> {
    const db = this.db;
    return db
      .transaction(() => {
        const settled: Array<{ id: string; caseId?: string }> = [];
        for (const result of results) {
          const row = db
            .prepare(
              "SELECT case_id, command FROM alarm_commands WHERE gateway = ? AND id = ? AND status = 'pending'",
            )
            .get(gateway, result.id) as Row | undefined;
          if (!row) continue;
          db.prepare(
            "UPDATE alarm_commands SET status = 'answered', answered_at = ?, result = ? WHERE gateway = ? AND id = ?",
          ).run(at, JSON.stringify(result), gateway, result.id);
          const caseId = row['case_id'] === null ? undefined : String(row['case_id']);
          if (caseId) this.#audit(commandAudit(caseId, gateway, commandFromRow(row), result, at));
          settled.push({ id: result.id, ...(caseId ? { caseId } : {}) });
        }
        return settled;
      })
      .immediate();
  }
}
