import Database from 'better-sqlite3';
import { DoorstepError } from '../../../protocol/errors.js';
import type { RuleState, RuleStateStore } from './state.js';

/**
 * Rule state in one small SQLite table keyed by (device, type), WAL journal. synchronous=FULL:
 * state changes are rare (raise, clear, reset), and a latch lost on power failure would raise a
 * second occurrence (standards pitfall: WAL + NORMAL can lose the last commits).
 */
export class SqliteRuleStateStore implements RuleStateStore {
  readonly #file: string;
  #db: Database.Database | undefined;
  #upsert: Database.Statement | undefined;
  #delete: Database.Statement | undefined;

  constructor(file: string) {
    this.#file = file;
  }

  open(): void {
    if (this.#db) return;
    try {
      const db = new Database(this.#file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(`CREATE TABLE IF NOT EXISTS rule_state (
        device TEXT NOT NULL,
        type TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (device, type)
      ) WITHOUT ROWID`);
      this.#upsert = db.prepare(
        'INSERT INTO rule_state (device, type, state) VALUES (?, ?, ?) ON CONFLICT (device, type) DO UPDATE SET state = excluded.state',
      );
      this.#delete = db.prepare('DELETE FROM rule_state WHERE device = ? AND type = ?');
      this.#db = db;
    } catch (error) {
      throw new DoorstepError(
        'EDGE_ERR_RULE_STATE',
        { file: this.#file, reason: (error as Error).message },
        { cause: error },
      );
    }
  }

  #require(): Database.Database {
    if (!this.#db)
      throw new DoorstepError('EDGE_ERR_RULE_STATE', { file: this.#file, reason: 'store is not open' });
    return this.#db;
  }

  loadAll(): RuleState[] {
    const rows = this.#require().prepare('SELECT state FROM rule_state').all() as { state: string }[];
    return rows.map((row) => JSON.parse(row.state) as RuleState);
  }

  write(upserts: readonly RuleState[], deletions: readonly { device: string; type: string }[]): void {
    const db = this.#require();
    db.transaction(() => {
      for (const { device, type } of deletions) this.#delete!.run(device, type);
      for (const state of upserts) this.#upsert!.run(state.device, state.type, JSON.stringify(state));
    })();
  }

  close(): void {
    this.#db?.close();
    this.#db = undefined;
  }
}
