/**
 * PostgreSQL schema, as versioned migrations (applied in order, each once, under an advisory lock
 * so two cloud instances starting together do not race). Never edit a released migration.
 *
 * Text keys are `COLLATE "C"`: byte order, so the scope range `site_path >= 's/' AND site_path <
 * 's0'` is exact and index-served whatever the database's default locale, and listings sort the
 * same as on SQLite.
 */
import type { Migration } from '../sqlite/schema.js';

const T = 'text COLLATE "C"';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE sites (path ${T} PRIMARY KEY, level text NOT NULL, name text NOT NULL);
CREATE TABLE gateways (
  id ${T} PRIMARY KEY, site_path ${T} NOT NULL, name text, status text NOT NULL, created_at bigint NOT NULL);
CREATE INDEX gateways_site ON gateways (site_path);
CREATE TABLE devices (
  gateway ${T} NOT NULL, id ${T} NOT NULL, site_path ${T} NOT NULL,
  kind text, profile text, location text, PRIMARY KEY (gateway, id));
CREATE INDEX devices_site ON devices (site_path);
CREATE TABLE enrollment_tokens (
  id ${T} PRIMARY KEY, secret_hash text NOT NULL UNIQUE, scope ${T} NOT NULL, created_by text NOT NULL,
  created_at bigint NOT NULL, expires_at bigint NOT NULL, uses_left integer NOT NULL);
CREATE TABLE gateway_credentials (
  id ${T} PRIMARY KEY, gateway ${T} NOT NULL, secret_hash text NOT NULL UNIQUE,
  created_at bigint NOT NULL, expires_at bigint, revoked_at bigint);
CREATE INDEX gateway_credentials_gateway ON gateway_credentials (gateway);
CREATE TABLE users (
  id ${T} PRIMARY KEY, username ${T} NOT NULL UNIQUE, password_hash text, scope ${T} NOT NULL, role text NOT NULL,
  display_name text, created_at bigint NOT NULL, disabled boolean NOT NULL, failed_logins integer NOT NULL,
  locked_until bigint);
CREATE TABLE api_tokens (
  id ${T} PRIMARY KEY, user_id ${T} NOT NULL, secret_hash text NOT NULL UNIQUE, scope ${T} NOT NULL,
  role text NOT NULL, created_at bigint NOT NULL, expires_at bigint, revoked_at bigint);

CREATE TABLE readings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, gateway ${T} NOT NULL, seq bigint NOT NULL,
  site_path ${T} NOT NULL, device ${T} NOT NULL, point ${T} NOT NULL, unit text NOT NULL, quality text NOT NULL,
  value_kind smallint NOT NULL, value_num double precision, value_text text,
  ts bigint NOT NULL, offset_ms bigint NOT NULL, cloud_ts bigint NOT NULL,
  UNIQUE (gateway, seq));
CREATE INDEX readings_site_time ON readings (site_path, cloud_ts);
CREATE INDEX readings_device_time ON readings (gateway, device, point, cloud_ts);
-- No index on cloud_ts alone (it cost a third of SQLite's ingest rate): retention walks the
-- (site_path, cloud_ts) index once per site listed in reading_sites.
CREATE TABLE reading_sites (site_path ${T} PRIMARY KEY);

CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, gateway ${T} NOT NULL, seq bigint NOT NULL,
  site_path ${T} NOT NULL, kind text NOT NULL, ts bigint NOT NULL, offset_ms bigint NOT NULL,
  cloud_ts bigint NOT NULL, received_at bigint NOT NULL, body jsonb NOT NULL, UNIQUE (gateway, seq));
CREATE INDEX events_site_time ON events (site_path, cloud_ts);

CREATE TABLE alarm_transitions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, gateway ${T} NOT NULL, seq bigint NOT NULL,
  alarm_id ${T} NOT NULL, state text NOT NULL, site_path ${T} NOT NULL, device ${T} NOT NULL, type ${T} NOT NULL,
  ts bigint NOT NULL, offset_ms bigint NOT NULL, cloud_ts bigint NOT NULL, received_at bigint NOT NULL,
  body jsonb NOT NULL, UNIQUE (gateway, seq), UNIQUE (alarm_id, state));
CREATE INDEX alarm_transitions_site_time ON alarm_transitions (site_path, cloud_ts);
CREATE INDEX alarm_transitions_device ON alarm_transitions (gateway, device, cloud_ts);

CREATE TABLE device_health (
  gateway ${T} NOT NULL, device ${T} NOT NULL, state text NOT NULL, reason text, state_since bigint,
  last_seen bigint, battery double precision, battery_ts bigint, battery_low boolean, battery_low_ts bigint,
  signal double precision, signal_ts bigint, fault boolean, fault_ts bigint, updated_at bigint NOT NULL,
  PRIMARY KEY (gateway, device));
CREATE TABLE gateway_health (
  gateway ${T} PRIMARY KEY, last_sync_at bigint, last_batch_seq bigint, report jsonb, report_batch_seq bigint,
  rejected_batches integer NOT NULL DEFAULT 0, updated_at bigint NOT NULL);

CREATE TABLE rollup_1m (
  gateway ${T} NOT NULL, device ${T} NOT NULL, point ${T} NOT NULL, bucket bigint NOT NULL,
  site_path ${T} NOT NULL, count bigint NOT NULL, min double precision NOT NULL, max double precision NOT NULL,
  sum double precision NOT NULL, last double precision NOT NULL, last_ts bigint NOT NULL, last_seq bigint NOT NULL,
  PRIMARY KEY (gateway, device, point, bucket));
CREATE INDEX rollup_1m_site ON rollup_1m (site_path, bucket);
CREATE INDEX rollup_1m_bucket ON rollup_1m (bucket);
CREATE TABLE rollup_1h (LIKE rollup_1m INCLUDING ALL);

CREATE TABLE store_state (key text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO store_state (key, value) VALUES ('rollup_watermark', 0);
`,
  },
  {
    // Versions 2 and 3 are SQLite-only (reading layout); the number is shared so that both
    // databases name the same change the same way.
    version: 4,
    name: 'sign-in attempts per user name and source address',
    // See cloud/store/sqlite/schema.ts version 4.
    sql: `
CREATE TABLE signin_attempts (
  username text NOT NULL, source text NOT NULL, attempts integer NOT NULL, locks integer NOT NULL,
  locked_until bigint NOT NULL, updated_at bigint NOT NULL,
  PRIMARY KEY (username, source));
CREATE INDEX signin_attempts_updated ON signin_attempts (updated_at);
`,
  },
  {
    version: 5,
    name: 'account life cycle: token labels and last use, users by scope, account audit trail',
    // migrate() applies every listed version above the database's, in order, so a gap in the
    // numbering is harmless.
    sql: `
ALTER TABLE api_tokens ADD COLUMN label text;
ALTER TABLE api_tokens ADD COLUMN last_used_at bigint;
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);
CREATE INDEX users_scope ON users (scope);
-- Who did what to which account (cloud/auth/accounts.ts), filed under the target user's scope.
CREATE TABLE account_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at bigint NOT NULL, actor_id ${T}, actor text NOT NULL,
  action text NOT NULL, user_id ${T} NOT NULL, username ${T} NOT NULL, scope ${T} NOT NULL, ip text, detail jsonb);
CREATE INDEX account_audit_scope ON account_audit (scope, at);
CREATE INDEX account_audit_user ON account_audit (user_id, at);
`,
  },
  {
    version: 6,
    name: 'device registry (one record per device code, its bindings, inventory state per gateway)',
    // cloud/store/README.md "The device registry". Versions 2–5 are other tables' work (or
    // SQLite-only); migrate() applies whatever is missing in order, so the gap is harmless.
    sql: `
CREATE TABLE registry_devices (
  code ${T} PRIMARY KEY, assigned text NOT NULL, gateway ${T} NOT NULL, device ${T} NOT NULL,
  site_path ${T} NOT NULL, kind text NOT NULL, use_ text, profile text NOT NULL, profile_version integer NOT NULL,
  label text NOT NULL, building text, unit text, floor text, plan_x double precision, plan_y double precision,
  installed_on text, generation bigint NOT NULL, first_seen bigint NOT NULL, updated_at bigint NOT NULL,
  removed_at bigint);
CREATE INDEX registry_devices_gateway ON registry_devices (gateway, device);
CREATE INDEX registry_devices_site ON registry_devices (site_path, code);
CREATE TABLE registry_bindings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, code ${T} NOT NULL, gateway ${T} NOT NULL,
  device ${T} NOT NULL, site_path ${T} NOT NULL, since_at bigint NOT NULL, until_at bigint);
CREATE INDEX registry_bindings_code ON registry_bindings (code, id);
CREATE TABLE registry_inventory (
  gateway ${T} PRIMARY KEY, generation bigint NOT NULL, parts integer NOT NULL, received text NOT NULL,
  complete_at bigint, updated_at bigint NOT NULL);
`,
  },
];
