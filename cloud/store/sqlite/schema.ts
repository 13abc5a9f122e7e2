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
  {
    version: 2,
    name: 'readings keyed by integers (gateway, site, series)',
    // Every reading row carried its gateway, site path, device, point and unit as text, and three
    // of its four B-trees were keyed by them; the per-row insert cost (and the pages dirtied per
    // batch, hence the WAL bytes to fsync) followed. Now the text lives once in small dictionary
    // tables and the reading row and its indexes carry integers: exactly once is still
    // UNIQUE (gateway, seq) — as (gw, seq), gw being the gateway's integer id — scoped queries are
    // served by (site, cloud_ts) and per-series queries and rollups by (series, cloud_ts).
    // Reading ids are kept, so the rollup watermark stays valid.
    sql: `
CREATE TABLE gateway_ids (id INTEGER PRIMARY KEY, gateway TEXT NOT NULL UNIQUE);
CREATE TABLE site_ids (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE series (
  id INTEGER PRIMARY KEY, gw INTEGER NOT NULL, device TEXT NOT NULL, point TEXT NOT NULL, unit TEXT NOT NULL,
  UNIQUE (gw, device, point, unit));

INSERT INTO gateway_ids (gateway) SELECT DISTINCT gateway FROM readings ORDER BY gateway;
INSERT INTO site_ids (path) SELECT DISTINCT site_path FROM readings ORDER BY site_path;
INSERT INTO series (gw, device, point, unit)
  SELECT DISTINCT g.id, r.device, r.point, r.unit FROM readings r JOIN gateway_ids g ON g.gateway = r.gateway
  ORDER BY 1, 2, 3, 4;

CREATE TABLE readings_v2 (
  id INTEGER PRIMARY KEY, gw INTEGER NOT NULL, seq INTEGER NOT NULL, site INTEGER NOT NULL,
  series INTEGER NOT NULL, quality TEXT NOT NULL, value_kind INTEGER NOT NULL, value_num REAL, value_text TEXT,
  ts INTEGER NOT NULL, offset_ms INTEGER NOT NULL, cloud_ts INTEGER NOT NULL,
  UNIQUE (gw, seq));
INSERT INTO readings_v2 (id, gw, seq, site, series, quality, value_kind, value_num, value_text, ts, offset_ms, cloud_ts)
  SELECT r.id, g.id, r.seq, k.id, s.id, r.quality, r.value_kind, r.value_num, r.value_text, r.ts, r.offset_ms, r.cloud_ts
  FROM readings r JOIN gateway_ids g ON g.gateway = r.gateway JOIN site_ids k ON k.path = r.site_path
  JOIN series s ON s.gw = g.id AND s.device = r.device AND s.point = r.point AND s.unit = r.unit;
DROP TABLE readings;
-- site_ids lists every site that has readings (retention walks it), replacing reading_sites.
DROP TABLE reading_sites;
ALTER TABLE readings_v2 RENAME TO readings;
CREATE INDEX readings_site_time ON readings (site, cloud_ts);
CREATE INDEX readings_series_time ON readings (series, cloud_ts);
`,
  },
  {
    version: 3,
    name: 'per-series index led by the minute',
    // (series, cloud_ts) puts every series' newest entries on a leaf page of their own once the
    // table holds a few hundred readings per series, so a batch of 5 000 readings across 1 000
    // sensors dirtied ~1 000 index pages — each written to the WAL, then checkpointed — and ingest
    // fell from ~290 000 to ~100 000 readings/s as the table grew (measured with 8 000 series and
    // 2 million readings). Led by the minute, a gateway's readings of one minute sit together
    // (its series ids are allocated together), so the same batch dirties a few dozen pages and the
    // rate no longer falls with the table's size. Per-series queries seek minute by minute
    // (sql-queries.ts, sqliteReadingsQuery).
    sql: `
DROP INDEX readings_series_time;
CREATE INDEX readings_series_minute ON readings (cloud_ts / 60000, series, cloud_ts);
`,
  },
  {
    version: 4,
    name: 'sign-in attempts per user name and source address',
    // The lock of a password sign-in is kept per (user name as typed, source address), not on the
    // user: a stranger failing for `admin` from one address locks only that address out, and
    // unknown names are counted like real ones (cloud/auth/README.md: lockout). The count is one
    // upsert (sql-shared.ts signInCountUpsert), so concurrent attempts each get their own number.
    sql: `
CREATE TABLE signin_attempts (
  username TEXT NOT NULL, source TEXT NOT NULL, attempts INTEGER NOT NULL, locks INTEGER NOT NULL,
  locked_until INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (username, source));
CREATE INDEX signin_attempts_updated ON signin_attempts (updated_at);
`,
  },
  {
    version: 5,
    name: 'account life cycle: token labels and last use, users by scope, account audit trail',
    // Number 6 belongs to another change; migrate() applies every listed version above the
    // database's, in order, so a gap in the numbering is harmless.
    sql: `
ALTER TABLE api_tokens ADD COLUMN label TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER;
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);
CREATE INDEX users_scope ON users (scope);
-- Who did what to which account (cloud/auth/accounts.ts), filed under the target user's scope.
CREATE TABLE account_audit (
  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor_id TEXT, actor TEXT NOT NULL, action TEXT NOT NULL,
  user_id TEXT NOT NULL, username TEXT NOT NULL, scope TEXT NOT NULL, ip TEXT, detail TEXT);
CREATE INDEX account_audit_scope ON account_audit (scope, at);
CREATE INDEX account_audit_user ON account_audit (user_id, at);
`,
  },
  {
    version: 6,
    name: 'device registry (one record per device code, its bindings, inventory state per gateway)',
    // cloud/store/README.md "The device registry". Versions 4 and 5 belong to other tables' work;
    // migrate() applies whatever is missing in order, so the gap is harmless.
    sql: `
CREATE TABLE registry_devices (
  code TEXT PRIMARY KEY, assigned TEXT NOT NULL, gateway TEXT NOT NULL, device TEXT NOT NULL,
  site_path TEXT NOT NULL, kind TEXT NOT NULL, use_ TEXT, profile TEXT NOT NULL, profile_version INTEGER NOT NULL,
  label TEXT NOT NULL, building TEXT, unit TEXT, floor TEXT, plan_x REAL, plan_y REAL, installed_on TEXT,
  generation INTEGER NOT NULL, first_seen INTEGER NOT NULL, updated_at INTEGER NOT NULL, removed_at INTEGER
) WITHOUT ROWID;
CREATE INDEX registry_devices_gateway ON registry_devices (gateway, device);
CREATE INDEX registry_devices_site ON registry_devices (site_path, code);
CREATE TABLE registry_bindings (
  id INTEGER PRIMARY KEY, code TEXT NOT NULL, gateway TEXT NOT NULL, device TEXT NOT NULL, site_path TEXT NOT NULL,
  since_at INTEGER NOT NULL, until_at INTEGER);
CREATE INDEX registry_bindings_code ON registry_bindings (code, id);
CREATE TABLE registry_inventory (
  gateway TEXT PRIMARY KEY, generation INTEGER NOT NULL, parts INTEGER NOT NULL, received TEXT NOT NULL,
  complete_at INTEGER, updated_at INTEGER NOT NULL);
`,
  },
];
