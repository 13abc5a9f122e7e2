/**
 * What the SQLite and PostgreSQL case stores share: the migrations (one list per dialect, applied
 * in order, each once, recorded in `alarm_schema_migrations` — never edit a released one, add the
 * next) and the row mapping. A case is stored whole as JSON beside the columns the queries filter
 * on; the JSON is the record, the columns are its index.
 */
import type { DownlinkCommand } from '../../../protocol/index.js';
import { sitePathString } from '../../store/common.js';
import type { AlarmCase } from '../contract.js';
import type { AuditEntry } from '../model.js';
import { type Board, type CaseLogEntry, receivedAtOf } from './port.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_CASE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'cases, claims, dedup keys, audit, photos, commands',
    sql: `
      CREATE TABLE alarm_cases (
        id TEXT PRIMARY KEY,
        gateway TEXT NOT NULL,
        site_path TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        stage TEXT NOT NULL,
        open INTEGER NOT NULL,
        raised_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX alarm_cases_site ON alarm_cases (site_path, raised_at);
      CREATE INDEX alarm_cases_open_key ON alarm_cases (dedup_key, raised_at) WHERE open = 1;
      CREATE TABLE alarm_case_claims (
        gateway TEXT NOT NULL, alarm_id TEXT NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (gateway, alarm_id, state)
      );
      CREATE TABLE alarm_case_keys (dedup_key TEXT PRIMARY KEY, occurrences INTEGER NOT NULL);
      CREATE TABLE alarm_case_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id TEXT NOT NULL, at INTEGER NOT NULL, action TEXT NOT NULL,
        actor TEXT NOT NULL, before TEXT, after TEXT, detail TEXT
      );
      CREATE INDEX alarm_case_audit_case ON alarm_case_audit (case_id, seq);
      CREATE TABLE alarm_case_photos (case_id TEXT PRIMARY KEY, data_url TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE alarm_commands (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        gateway TEXT NOT NULL, id TEXT NOT NULL, case_id TEXT, command TEXT NOT NULL,
        enqueued_at INTEGER NOT NULL, status TEXT NOT NULL, answered_at INTEGER, result TEXT,
        UNIQUE (gateway, id)
      );
      CREATE INDEX alarm_commands_pending ON alarm_commands (gateway, status, seq);
    `,
  },
  {
    version: 2,
    name: 'board order: severity, walk test, cloud receive time',
    sql: `
      ALTER TABLE alarm_cases ADD COLUMN severity TEXT NOT NULL DEFAULT 'info';
      ALTER TABLE alarm_cases ADD COLUMN test INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE alarm_cases ADD COLUMN received_at INTEGER NOT NULL DEFAULT 0;
      UPDATE alarm_cases SET severity = coalesce(json_extract(data, '$.severity'), 'info'),
        test = CASE WHEN json_extract(data, '$.test') THEN 1 ELSE 0 END,
        received_at = coalesce(json_extract(data, '$.receivedAt'), min(raised_at, updated_at));
      CREATE INDEX alarm_cases_board ON alarm_cases (site_path) WHERE open = 1;
    `,
  },
  {
    version: 3,
    name: 'case-event log and consumer cursors',
    sql: `
      CREATE TABLE alarm_case_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL,
        by_person TEXT, site_path TEXT NOT NULL, data TEXT NOT NULL
      );
      CREATE TABLE alarm_case_cursors (
        consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL,
        holder TEXT, lease_until INTEGER NOT NULL, updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'occurrences: alarm ids of a case beyond its own; the newest case of a condition',
    sql: `
      CREATE TABLE alarm_case_occurrences (
        gateway TEXT NOT NULL, alarm_id TEXT NOT NULL, case_id TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (gateway, alarm_id)
      );
      CREATE INDEX alarm_cases_condition ON alarm_cases (dedup_key, test, received_at);
    `,
  },
];

export const POSTGRES_CASE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'cases, claims, dedup keys, audit, photos, commands',
    sql: `
      CREATE TABLE alarm_cases (
        id text PRIMARY KEY,
        gateway text NOT NULL,
        site_path text NOT NULL COLLATE "C",
        dedup_key text NOT NULL,
        stage text NOT NULL,
        open boolean NOT NULL,
        raised_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        data text NOT NULL
      );
      CREATE INDEX alarm_cases_site ON alarm_cases (site_path, raised_at);
      CREATE INDEX alarm_cases_open_key ON alarm_cases (dedup_key, raised_at) WHERE open;
      CREATE TABLE alarm_case_claims (
        gateway text NOT NULL, alarm_id text NOT NULL, state text NOT NULL, at bigint NOT NULL,
        PRIMARY KEY (gateway, alarm_id, state)
      );
      CREATE TABLE alarm_case_keys (dedup_key text PRIMARY KEY, occurrences integer NOT NULL);
      CREATE TABLE alarm_case_audit (
        seq bigserial PRIMARY KEY,
        case_id text NOT NULL, at bigint NOT NULL, action text NOT NULL,
        actor text NOT NULL, before text, after text, detail text
      );
      CREATE INDEX alarm_case_audit_case ON alarm_case_audit (case_id, seq);
      CREATE TABLE alarm_case_photos (case_id text PRIMARY KEY, data_url text NOT NULL, at bigint NOT NULL);
      CREATE TABLE alarm_commands (
        seq bigserial PRIMARY KEY,
        gateway text NOT NULL, id text NOT NULL, case_id text, command text NOT NULL,
        enqueued_at bigint NOT NULL, status text NOT NULL, answered_at bigint, result text,
        UNIQUE (gateway, id)
      );
      CREATE INDEX alarm_commands_pending ON alarm_commands (gateway, status, seq);
    `,
  },
  {
    version: 2,
    name: 'board order: severity, walk test, cloud receive time',
    sql: `
      ALTER TABLE alarm_cases ADD COLUMN severity text NOT NULL DEFAULT 'info',
        ADD COLUMN test boolean NOT NULL DEFAULT false,
        ADD COLUMN received_at bigint NOT NULL DEFAULT 0;
      UPDATE alarm_cases SET severity = coalesce(data::jsonb->>'severity', 'info'),
        test = coalesce((data::jsonb->>'test')::boolean, false),
        received_at = coalesce((data::jsonb->>'receivedAt')::bigint, LEAST(raised_at, updated_at));
      CREATE INDEX alarm_cases_board ON alarm_cases (site_path) WHERE open;
    `,
  },
  {
    version: 3,
    name: 'case-event log and consumer cursors',
    sql: `
      CREATE TABLE alarm_case_events (
        seq bigserial PRIMARY KEY,
        case_id text NOT NULL, kind text NOT NULL, at bigint NOT NULL,
        by_person text, site_path text NOT NULL COLLATE "C", data text NOT NULL
      );
      CREATE TABLE alarm_case_cursors (
        consumer text PRIMARY KEY, seq bigint NOT NULL,
        holder text, lease_until bigint NOT NULL, updated_at bigint NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'occurrences: alarm ids of a case beyond its own; the newest case of a condition',
    sql: `
      CREATE TABLE alarm_case_occurrences (
        gateway text NOT NULL, alarm_id text NOT NULL, case_id text NOT NULL, at bigint NOT NULL,
        PRIMARY KEY (gateway, alarm_id)
      );
      CREATE INDEX alarm_cases_condition ON alarm_cases (dedup_key, test, received_at);
    `,
  },
];

/** Column values of a case row, in the order of CASE_COLUMNS. */
export const CASE_COLUMNS = [
  'id',
  'gateway',
  'site_path',
  'dedup_key',
  'stage',
  'open',
  'raised_at',
  'updated_at',
  'data',
  'severity',
  'test',
  'received_at',
] as const;

/** `bool` renders a boolean for the dialect (SQLite 1/0, PostgreSQL boolean). */
export function caseValues(c: AlarmCase, bool: (value: boolean) => unknown): unknown[] {
  return [
    c.id,
    c.gateway,
    sitePathString(c.site),
    c.dedupKey,
    c.stage,
    bool(c.stage !== 'closed'),
    c.raisedAt,
    c.updatedAt,
    JSON.stringify(c),
    c.severity,
    bool(c.test),
    receivedAtOf(c),
  ];
}

/**
 * The board's two reads (port.ts `board`): open cases in scope ranked within their community in
 * boardOrder, at most `perCommunity` each, `limit` in all; and the open count per community, for
 * what was left out. Placeholders: scope, lo, hi, perCommunity, limit (the counts: the first three).
 * Window functions: SQLite ≥ 3.25, PostgreSQL ≥ 8.4.
 */
export function boardSql(dialect: 'sqlite' | 'postgres'): { cases: string; counts: string } {
  const pg = dialect === 'postgres';
  const p = (n: number) => (pg ? `$${n}` : '?');
  const where = `${pg ? 'open' : 'open = 1'} AND (site_path = ${p(1)} OR (site_path >= ${p(2)} AND site_path < ${p(3)}))`;
  const sev = `CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 ELSE 3 END`;
  const stage = `CASE stage WHEN 'supervise' THEN 0 WHEN 'remind' THEN 1 WHEN 'warn' THEN 2 WHEN 'feedback' THEN 3 ELSE 4 END`;
  // Ids compare by bytes like the memory store's `<` (PostgreSQL: COLLATE "C").
  const order = `sev, test, stg, received_at DESC, id${pg ? ' COLLATE "C"' : ''}`;
  return {
    cases: `WITH ranked AS (
        SELECT data, ${sev} AS sev, ${stage} AS stg, test, received_at, id,
          ROW_NUMBER() OVER (PARTITION BY site_path ORDER BY ${sev}, test, ${stage}, received_at DESC, id${pg ? ' COLLATE "C"' : ''}) AS rn
        FROM alarm_cases WHERE ${where})
      SELECT data FROM ranked WHERE rn <= ${p(4)} ORDER BY ${order} LIMIT ${p(5)}`,
    counts: `SELECT site_path, count(*) AS n FROM alarm_cases WHERE ${where} GROUP BY site_path`,
  };
}

/** The board from its two reads: cases in order, and what each community had open. */
export function boardFromRows(cases: Row[], counts: Row[]): Board {
  const items = cases.map(caseFromRow);
  const shown = new Map<string, number>();
  for (const c of items) {
    const path = sitePathString(c.site);
    shown.set(path, (shown.get(path) ?? 0) + 1);
  }
  const truncated: Record<string, number> = {};
  for (const row of counts) {
    const path = String(row['site_path']);
    const left = Number(row['n']) - (shown.get(path) ?? 0);
    if (left > 0) truncated[path] = left;
  }
  return { items, truncated };
}

export type Row = Record<string, unknown>;

export const caseFromRow = (row: Row): AlarmCase => JSON.parse(String(row['data'])) as AlarmCase;

/**
 * The case a new alarm id of a condition joins or follows: the open one if any (an occurrence of
 * it), else the newest (closed) one. Placeholders: dedup key, walk-test flag.
 */
export function conditionCaseSql(dialect: 'sqlite' | 'postgres'): string {
  const pg = dialect === 'postgres';
  return `SELECT data, open FROM alarm_cases WHERE dedup_key = ${pg ? '$1' : '?'} AND test = ${pg ? '$2' : '?'}
    ORDER BY open DESC, received_at DESC, id LIMIT 1${pg ? ' FOR UPDATE' : ''}`;
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = (v: unknown) => (v === null || v === undefined ? undefined : JSON.parse(String(v)));

export function auditValues(e: AuditEntry): unknown[] {
  return [e.caseId, e.at, e.action, JSON.stringify(e.actor), json(e.before), json(e.after), json(e.detail)];
}

export function auditFromRow(row: Row): AuditEntry {
  const before = parse(row['before']);
  const after = parse(row['after']);
  const detail = parse(row['detail']);
  return {
    seq: Number(row['seq']),
    caseId: String(row['case_id']),
    at: Number(row['at']),
    action: row['action'] as AuditEntry['action'],
    actor: JSON.parse(String(row['actor'])) as AuditEntry['actor'],
    ...(before ? { before } : {}),
    ...(after ? { after } : {}),
    ...(detail ? { detail } : {}),
  };
}

/** Column values of a log entry: case_id, kind, at, by_person, site_path, data. */
export function eventValues(e: Omit<CaseLogEntry, 'seq'>): unknown[] {
  return [e.caseId, e.kind, e.at, json(e.by), sitePathString(e.case.site), JSON.stringify(e.case)];
}

export function eventFromRow(row: Row): CaseLogEntry {
  const by = parse(row['by_person']) as CaseLogEntry['by'];
  return {
    seq: Number(row['seq']),
    kind: row['kind'] as CaseLogEntry['kind'],
    caseId: String(row['case_id']),
    at: Number(row['at']),
    ...(by ? { by } : {}),
    case: JSON.parse(String(row['data'])) as AlarmCase,
  };
}

export const commandFromRow = (row: Row): DownlinkCommand =>
  JSON.parse(String(row['command'])) as DownlinkCommand;
