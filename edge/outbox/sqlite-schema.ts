import type Database from 'better-sqlite3';
import { DoorstepError } from '../../protocol/index.js';

/**
 * Versioned schema: PRAGMA user_version holds the number of migrations applied. Each migration runs
 * in its own transaction with the version bump, so a crash mid-upgrade leaves the old version intact.
 * Append new migrations; never edit a shipped one.
 */
const MIGRATIONS: readonly string[] = [
  // 1: pending rows, quarantine, persisted seq and counters.
  `
  CREATE TABLE entries (
    seq         INTEGER PRIMARY KEY,  -- rowid alias; assigned by the engine, never reused
    class       INTEGER NOT NULL,     -- 0 alarm, 1 event, 2 telemetry (backend.ts CLASS_CODES)
    ts          INTEGER NOT NULL,     -- producer time, ms
    enqueued_at INTEGER NOT NULL,     -- outbox clock at put, ms; TTL counts from here
    key         TEXT,
    bytes       INTEGER NOT NULL,     -- UTF-8 length of payload
    payload     TEXT NOT NULL         -- JSON
  );
  -- (class, seq): the index carries the rowid, so "class = ? ORDER BY seq" is an index walk.
  CREATE INDEX entries_by_class ON entries (class);
  CREATE UNIQUE INDEX entries_by_key ON entries (key) WHERE key IS NOT NULL;
  CREATE TABLE quarantine (
    seq            INTEGER PRIMARY KEY,
    class          INTEGER NOT NULL,
    ts             INTEGER NOT NULL,
    enqueued_at    INTEGER NOT NULL,
    key            TEXT,
    bytes          INTEGER NOT NULL,
    payload        TEXT NOT NULL,
    reason         TEXT NOT NULL,
    quarantined_at INTEGER NOT NULL
  );
  CREATE INDEX quarantine_by_key ON quarantine (key) WHERE key IS NOT NULL;
  CREATE TABLE outbox_state (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq INTEGER NOT NULL,
    counters TEXT                     -- JSON OutboxCounters; NULL until the first write
  );
  INSERT INTO outbox_state (id, next_seq, counters) VALUES (1, 1, NULL);
  `,
  // 2: state committed with the entries it decided (rule state beside its alarms: one transaction
  // per decision, so kill -9 can never keep one without the other).
  `
  CREATE TABLE side_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL               -- JSON, owned by the writer of the key's prefix
  ) WITHOUT ROWID;
  `,
];

export const OUTBOX_SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the database to OUTBOX_SCHEMA_VERSION; refuses a file from a newer build. */
export function migrate(db: Database.Database, name: string): void {
  const found = db.pragma('user_version', { simple: true }) as number;
  if (found > OUTBOX_SCHEMA_VERSION) {
    throw new DoorstepError('EDGE_ERR_OUTBOX_SCHEMA', {
      outbox: name,
      found,
      supported: OUTBOX_SCHEMA_VERSION,
    });
  }
  for (let version = found; version < OUTBOX_SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}
