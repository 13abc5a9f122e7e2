/**
 * The case store: alarm cases, their audit trails, feedback photos and the downlink command queue,
 * in the same database as the CloudStore (`store.handle()`) but in tables of their own with their
 * own migrations table (`alarm_schema_migrations`). Three adapters — memory, SQLite, PostgreSQL —
 * keep one contract (test/cloud/alarms/store-contract.ts).
 *
 * Every write is one transaction that decides with the pure functions of model.ts on the row as it
 * is *inside* the transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: SELECT … FOR UPDATE and unique
 * claims), so two cloud instances acting on one case never lose an update, and a transition is
 * applied once per (alarm id, state) — docs/architecture.md invariants 5 and 7.
 */
import type { AlarmTransition, DownlinkCommand } from '../../../protocol/index.js';
import type { AlarmCase, CaseEventKind, Person, Stage } from '../contract.js';
import type { AuditEntry, CaseChange } from '../model.js';

export interface CaseFilter {
  stage?: Stage;
  /** true: not closed; false: closed only. */
  open?: boolean;
  /** raisedAt ≥ from (cloud time, ms). */
  from?: number;
  /** raisedAt < to. */
  to?: number;
  limit?: number;
}

/** The live board's read: open cases, at most `perCommunity` of each community, `limit` in all. */
export interface BoardFilter {
  perCommunity: number;
  limit: number;
}

/**
 * Open cases in board order (boardOrder) and, per community whose open cases were not all
 * returned, how many were left out — so that one community's flood is reported, never silent.
 */
export interface Board {
  items: AlarmCase[];
  /** Community path → open cases not in `items`. */
  truncated: Record<string, number>;
}

/**
 * One entry of the case-event log: something happened to a case, appended in the same transaction
 * as the change itself, numbered by a sequence that only grows and is committed in its order (a
 * reader that has seen `seq` never later finds a smaller one). Consumers — escalation, the console
 * push, the tier feed — read it after their own cursor (cloud/alarms/log-reader.ts).
 */
export interface CaseLogEntry {
  seq: number;
  kind: CaseEventKind;
  caseId: string;
  /** Cloud time of the change. */
  at: number;
  /** Who made it (a person or the system); absent for a gateway's transitions. */
  by?: Person;
  /** The case as the change left it. */
  case: AlarmCase;
}

/** A consumer's position in the log and whether this reader holds it now. */
export interface CursorLease {
  /** Entries up to and including `seq` are done. */
  seq: number;
}

/**
 * Decides what a transition does (model.ts): for a known alarm id (the case's own or one of its
 * occurrences), for a new alarm id of a condition whose case is open (one more occurrence of that
 * case), or for a new alarm id of a condition with no open case (a new case).
 */
export interface TransitionPlanner {
  existing(current: AlarmCase): CaseChange | undefined;
  /** `open`: the open case of the transition's condition (dedup key and walk-test flag). */
  reoccur(open: AlarmCase): CaseChange | undefined;
  /** `latest`: the newest earlier (closed) case of the condition, if any. */
  create(latest: AlarmCase | undefined): CaseChange;
}

/** A command's answer from the gateway (`command_result` event, protocol/sync.ts). */
export interface CommandResult {
  id: string;
  ok?: boolean;
  error?: string;
  command?: string;
}

export interface AlarmCaseStore {
  /** Creates or migrates this store's tables (idempotent; safe for two instances starting together). */
  migrate(): Promise<void>;

  /**
   * Applies one transition once per (alarm id, state): claims the pair, then plans with the case
   * as stored. Undefined when the pair was applied before (by this or another instance) or the
   * plan changed nothing. A new alarm id of a condition (dedup key, walk-test flag) whose case is
   * open becomes an occurrence of that case: its later transitions find the case by the alarm id,
   * and a condition never has two open cases, even with two instances racing (the dedup key's row
   * is locked while the new id is placed).
   */
  applyTransition(t: AlarmTransition, plan: TransitionPlanner): Promise<CaseChange | undefined>;
  /**
   * Changes one case atomically: `fn` sees the stored case and returns the change (or undefined:
   * nothing to do) or throws to refuse — then nothing is written. Undefined for an unknown id
   * is signalled by `fn` never being called and the result `'missing'`.
   */
  update(
    caseId: string,
    fn: (current: AlarmCase) => CaseChange | undefined,
  ): Promise<CaseChange | undefined | 'missing'>;

  get(caseId: string): Promise<AlarmCase | undefined>;
  /** Cases whose site lies inside `scope` (docs/architecture.md invariant 11), newest raise first. */
  list(scope: string, filter: CaseFilter): Promise<AlarmCase[]>;
  /**
   * The live board: open cases in scope, most severe first, real before walk tests, then by
   * stage (督办 first) and newest receipt, with at most `perCommunity` from each community, so
   * that no community can push another's fire off the board (test/cloud/alarms/store-contract.ts).
   */
  board(scope: string, filter: BoardFilter): Promise<Board>;
  /** The audit trail of a case, oldest first. */
  audit(caseId: string): Promise<AuditEntry[]>;
  /** The feedback photo (data URL) of a case, if one was given. */
  photo(caseId: string): Promise<string | undefined>;

  // ── the case-event log (every write above appends its change's events in its own transaction) ──
  /** Entries with seq > `after`, oldest first, at most `limit`. */
  readEvents(after: number, limit: number): Promise<CaseLogEntry[]>;
  /** The newest entry's seq (0 when the log is empty). */
  lastEventSeq(): Promise<number>;
  /**
   * Takes or renews the lease of a consumer's cursor for `holder` until `now + leaseMs`: one
   * reader per consumer among all instances, a dead one replaced when its lease lapses. Returns
   * the cursor when held, undefined when another live holder has it. A new consumer starts at
   * `startAt` (0: the whole log).
   */
  leaseCursor(
    consumer: string,
    holder: string,
    now: number,
    leaseMs: number,
    startAt?: number,
  ): Promise<CursorLease | undefined>;
  /**
   * Moves the cursor forward to `seq` (never back) if `holder` still holds it; false when the
   * lease was lost (another reader took over; it starts from the cursor as stored).
   */
  advanceCursor(consumer: string, holder: string, seq: number, now: number): Promise<boolean>;
  /** Gives up the lease (a clean stop): another instance takes over at once. */
  releaseCursor(consumer: string, holder: string): Promise<void>;

  // ── downlink commands (cloud/ingest/command-queue.ts StoreCommandQueue) ─────────────────────
  /** Queues a command; a second enqueue of the same (gateway, id) is ignored. */
  enqueueCommand(gateway: string, command: DownlinkCommand, at: number): Promise<void>;
  /** Unanswered commands of a gateway, oldest first. */
  pendingCommands(gateway: string, limit: number): Promise<DownlinkCommand[]>;
  /**
   * Settles answered commands of `gateway` (never another gateway's) and, for those about a case,
   * appends the result to the case's audit trail — in one transaction, once per command. Returns
   * the commands that were pending.
   */
  settleCommands(
    gateway: string,
    results: readonly CommandResult[],
    at: number,
  ): Promise<Array<{ id: string; caseId?: string }>>;
}

/** The audit entry a settled command leaves on its case. */
export function commandAudit(
  caseId: string,
  gateway: string,
  command: DownlinkCommand,
  result: CommandResult,
  at: number,
): AuditEntry {
  return {
    caseId,
    at,
    action: 'command_result',
    actor: { kind: 'gateway', id: gateway, name: gateway },
    detail: {
      command: command.id,
      kind: command.kind,
      ...(result.ok !== undefined ? { ok: result.ok } : {}),
      ...(result.error !== undefined ? { error: String(result.error).slice(0, 500) } : {}),
    },
  };
}

/** The order of `list`: newest raise first, id as tie-breaker (the same in every adapter). */
export function byRaisedDesc(a: AlarmCase, b: AlarmCase): number {
  return b.raisedAt - a.raisedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export const DEFAULT_CASE_LIMIT = 200;
export const MAX_CASE_LIMIT = 1000;
/** Open cases of one community on the board: a screenful and more; the rest is counted. */
export const BOARD_PER_COMMUNITY = 100;

export const SEVERITY_RANK: Record<AlarmCase['severity'], number> = {
  critical: 0,
  major: 1,
  minor: 2,
  info: 3,
};
/** Board order of open stages: escalated to 督办 first, then reminded, new, awaiting close. */
export const BOARD_STAGE_RANK: Record<Stage, number> = {
  supervise: 0,
  remind: 1,
  warn: 2,
  feedback: 3,
  closed: 4,
};

/** When a case was received, for cases stored before `receivedAt` existed too. */
export const receivedAtOf = (c: AlarmCase) => c.receivedAt ?? Math.min(c.raisedAt, c.updatedAt);

/** The board's order (the same in every adapter; SQL: boardSql in sql.ts). */
export function boardOrder(a: AlarmCase, b: AlarmCase): number {
  return (
    SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
    Number(a.test) - Number(b.test) ||
    BOARD_STAGE_RANK[a.stage] - BOARD_STAGE_RANK[b.stage] ||
    receivedAtOf(b) - receivedAtOf(a) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** Applies the per-community cap to cases already in board order. */
export function capBoard(
  sorted: readonly AlarmCase[],
  filter: BoardFilter,
  site: (c: AlarmCase) => string,
): Board {
  const shown = new Map<string, number>();
  const total = new Map<string, number>();
  const items: AlarmCase[] = [];
  for (const c of sorted) {
    const path = site(c);
    total.set(path, (total.get(path) ?? 0) + 1);
    const n = shown.get(path) ?? 0;
    if (n < filter.perCommunity && items.length < filter.limit) {
      items.push(c);
      shown.set(path, n + 1);
    }
  }
  const truncated: Record<string, number> = {};
  for (const [path, n] of total) if (n > (shown.get(path) ?? 0)) truncated[path] = n - (shown.get(path) ?? 0);
  return { items, truncated };
}

/** The log entries of one change (its events in order), before the store numbers them. */
export function logEntriesOf(change: CaseChange): Omit<CaseLogEntry, 'seq'>[] {
  const c = change.case;
  const actor = change.audit.find((a) => a.actor.kind !== 'gateway')?.actor;
  const at = change.audit[0]?.at ?? c.updatedAt;
  return change.events.map((kind) => ({
    kind,
    caseId: c.id,
    at,
    ...(actor ? { by: { id: actor.id, name: actor.name } } : {}),
    case: c,
  }));
}
