/**
 * SQLite schema, as versioned migrations (applied in order, each once, recorded in
 * schema_migrations). Never edit a released migration: add the next one.
 *
 * Site paths are stored as `district/town/community` text; the default BINARY collation compares
 * bytes, so the scope range `path >= 'scope/' AND path < 'scope0'` is exact and index-served.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE sites (path TEXT PRIMARY KEY, level TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE gateways (
  id TEXT PRIMARY KEY, site_path TEXT NOT NULL, name TEXT, status TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE INDEX gateways_site ON gateways (site_path);
CREATE TABLE devices (
  gateway TEXT NOT NULL, id TEXT NOT NULL, site_path TEXT NOT NULL,
  kind TEXT, profile TEXT, location TEXT, PRIMARY KEY (gateway, id)) WITHOUT ROWID;
CREATE INDEX devices_site ON devices (site_path);
CREATE TABLE enrollment_tokens (
  id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL UNIQUE, scope TEXT NOT NULL, created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, uses_left INTEGER NOT NULL);
CREATE TABLE gateway_credentials (
  id TEXT PRIMARY KEY, gateway TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER);
CREATE INDEX gateway_credentials_gateway ON gateway_credentials (gateway);
CREATE TABLE users (
  id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT, scope TEXT NOT NULL, role TEXT NOT NULL,
  display_name TEXT, created_at INTEGER NOT NULL, disabled INTEGER NOT NULL, failed_logins INTEGER NOT NULL,
  locked_until INTEGER);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE, scope TEXT NOT NULL,
  role TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER);

-- Raw readings. id orders inserts (the rollup watermark); (gateway, seq) makes them exactly-once.
CREATE TABLE readings (
  id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, seq INTEGER NOT NULL, site_path TEXT NOT NULL,
  device TEXT NOT NULL, point TEXT NOT NULL, unit TEXT NOT NULL, quality TEXT NOT NULL,
  value_kind INTEGER NOT NULL, value_num REAL, value_text TEXT,
  ts INTEGER NOT NULL, offset_ms INTEGER NOT NULL, cloud_ts INTEGER NOT NULL,
  UNIQUE (gateway, seq));
CREATE INDEX readings_site_time ON readings (site_path, cloud_ts);
CREATE INDEX readings_device_time ON readings (gateway, device, point, cloud_ts);
-- No index on cloud_ts alone (it cost a third of SQLite's ingest rate): retention walks the
-- (site_path, cloud_ts) index once per site listed in reading_sites.
CREATE TABLE reading_sites (site_path TEXT PRIMARY KEY);

CREATE TABLE events (
  id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, seq INTEGER NOT NULL, site_path TEXT NOT NULL,
  kind TEXT NOT NULL, ts INTEGER NOT NULL, offset_ms INTEGER NOT NULL, cloud_ts INTEGER NOT NULL,
  received_at INTEGER NOT NULL, body TEXT NOT NULL, UNIQUE (gateway, seq));
CREATE INDEX events_site_time ON events (site_path, cloud_ts);

-- Alarm transitions: exactly once by (gateway, seq) and by (alarm id, state). Retention never touches them.
CREATE TABLE alarm_transitions (
  id INTEGER PRIMARY KEY, gateway TEXT NOT NULL, seq INTEGER NOT NULL, alarm_id TEXT NOT NULL,
  state TEXT NOT NULL, site_path TEXT NOT NULL, device TEXT NOT NULL, type TEXT NOT NULL,
  ts INTEGER NOT NULL, offset_ms INTEGER NOT NULL, cloud_ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
  body TEXT NOT NULL, UNIQUE (gateway, seq), UNIQUE (alarm_id, state));
CREATE INDEX alarm_transitions_site_time ON alarm_transitions (site_path, cloud_ts);
CREATE INDEX alarm_transitions_device ON alarm_transitions (gateway, device, cloud_ts);

CREATE TABLE device_health (
  gateway TEXT NOT NULL, device TEXT NOT NULL, state TEXT NOT NULL, reason TEXT, state_since INTEGER,
  last_seen INTEGER, battery REAL, battery_ts INTEGER, battery_low INTEGER, battery_low_ts INTEGER,
  signal REAL, signal_ts INTEGER, fault INTEGER, fault_ts INTEGER, updated_at INTEGER NOT NULL,
  PRIMARY KEY (gateway, device)) WITHOUT ROWID;
CREATE TABLE gateway_health (
  gateway TEXT PRIMARY KEY, last_sync_at INTEGER, last_batch_seq INTEGER, report TEXT, report_batch_seq INTEGER,
  rejected_batches INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL);

CREATE TABLE rollup_1m (
  gateway TEXT NOT NULL, device TEXT NOT NULL, point TEXT NOT NULL, bucket INTEGER NOT NULL,
  site_path TEXT NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL,
  last REAL NOT NULL, last_ts INTEGER NOT NULL, last_seq INTEGER NOT NULL,
  PRIMARY KEY (gateway, device, point, bucket)) WITHOUT ROWID;
CREATE INDEX rollup_1m_site ON rollup_1m (site_path, bucket);
CREATE INDEX rollup_1m_bucket ON rollup_1m (bucket);
CREATE TABLE rollup_1h (
  gateway TEXT NOT NULL, device TEXT NOT NULL, point TEXT NOT NULL, bucket INTEGER NOT NULL,
  site_path TEXT NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL,
  last REAL NOT NULL, last_ts INTEGER NOT NULL, last_seq INTEGER NOT NULL,
  PRIMARY KEY (gateway, device, point, bucket)) WITHOUT ROWID;
CREATE INDEX rollup_1h_site ON rollup_1h (site_path, bucket);

-- Small state: the rollup watermark (highest readings.id folded).
CREATE TABLE store_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO store_state (key, value) VALUES ('rollup_watermark', 0);
`,
  },
];
