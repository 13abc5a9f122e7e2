/**
 * The case store in process memory, for tests and `storage: {kind: memory}`. Each method runs to
 * completion without awaiting, so it is as atomic as the SQL adapters' transactions; everything
 * handed in or out is a copy.
 */
import type { AlarmTransition, DownlinkCommand } from '../../../protocol/index.js';
import { checkScope, pathInScope, sitePathString } from '../../store/common.js';
import type { AlarmCase } from '../contract.js';
import { type AuditEntry, type CaseChange, dedupKeyOf, isOpen } from '../model.js';
import {
  type AlarmCaseStore,
  type Board,
  type BoardFilter,
  boardOrder,
  byRaisedDesc,
  type CaseFilter,
  type CaseLogEntry,
  type CommandResult,
  type CursorLease,
  capBoard,
  commandAudit,
  DEFAULT_CASE_LIMIT,
  logEntriesOf,
  MAX_CASE_LIMIT,
  receivedAtOf,
  type TransitionPlanner,
} from './port.js';

const clone = <T>(v: T): T => structuredClone(v);

interface CommandRow {
  seq: number;
  gateway: string;
  command: DownlinkCommand;
  status: 'pending' | 'answered';
  result?: CommandResult;
}

export class MemoryAlarmCaseStore implements AlarmCaseStore {
  readonly #cases = new Map<string, AlarmCase>();
  readonly #claims = new Set<string>();
  readonly #occurrences = new Map<string, number>();
  /** `gateway\0alarm id` of an occurrence → its case. */
  readonly #aliases = new Map<string, string>();
  readonly #audit: AuditEntry[] = [];
  readonly #photos = new Map<string, string>();
  readonly #commands = new Map<string, CommandRow>();
  #seq = 0;
  readonly #events: CaseLogEntry[] = [];
  readonly #cursors = new Map<string, { seq: number; holder?: string; leaseUntil: number }>();

  async migrate(): Promise<void> {}

  #write(change: CaseChange): void {
    this.#cases.set(change.case.id, clone(change.case));
    for (const entry of change.audit) this.#audit.push({ ...clone(entry), seq: ++this.#seq });
    if (change.photo !== undefined) this.#photos.set(change.case.id, change.photo);
    for (const q of change.commands ?? []) this.#enqueue(q.gateway, q.command);
    for (const e of logEntriesOf(change)) this.#events.push(clone({ ...e, seq: this.#events.length + 1 }));
  }

  #enqueue(gateway: string, command: DownlinkCommand): void {
    const key = `${gateway}\u0000${command.id}`;
    if (!this.#commands.has(key))
      this.#commands.set(key, { seq: ++this.#seq, gateway, command: clone(command), status: 'pending' });
  }

  async applyTransition(t: AlarmTransition, plan: TransitionPlanner): Promise<CaseChange | undefined> {
    const claim = `${t.gateway}\u0000${t.id}\u0000${t.state}`;
    if (this.#claims.has(claim)) return undefined;
    const alias = this.#aliases.get(`${t.gateway}\u0000${t.id}`);
    const existing = this.#cases.get(t.id) ?? (alias ? this.#cases.get(alias) : undefined);
    let change: CaseChange | undefined;
    // Planned before anything is recorded: a throwing planner leaves no trace (like a rollback).
    if (existing) change = plan.existing(clone(existing));
    else {
      const key = dedupKeyOf(t);
      const found = [...this.#cases.values()]
        .filter((c) => c.dedupKey === key && c.test === t.test)
        .sort(
          (a, b) =>
            Number(isOpen(b)) - Number(isOpen(a)) ||
            receivedAtOf(b) - receivedAtOf(a) ||
            (a.id < b.id ? -1 : 1),
        )[0];
      if (found && isOpen(found)) {
        change = plan.reoccur(clone(found));
        if (change) this.#aliases.set(`${t.gateway}\u0000${t.id}`, found.id);
      } else change = plan.create(found && clone(found));
      this.#occurrences.set(key, (this.#occurrences.get(key) ?? 0) + 1);
    }
    this.#claims.add(claim);
    if (change) this.#write(change);
    return change && clone(change);
  }

  async update(
    caseId: string,
    fn: (current: AlarmCase) => CaseChange | undefined,
  ): Promise<CaseChange | undefined | 'missing'> {
    const current = this.#cases.get(caseId);
    if (!current) return 'missing';
    const change = fn(clone(current));
    if (change) this.#write(change);
    return change && clone(change);
  }

  async get(caseId: string): Promise<AlarmCase | undefined> {
    const c = this.#cases.get(caseId);
    return c && clone(c);
  }

  async list(scope: string, f: CaseFilter): Promise<AlarmCase[]> {
    checkScope(scope);
    return [...this.#cases.values()]
      .filter(
        (c) =>
          pathInScope(scope, sitePathString(c.site)) &&
          (f.stage === undefined || c.stage === f.stage) &&
          (f.open === undefined || (c.stage !== 'closed') === f.open) &&
          (f.from === undefined || c.raisedAt >= f.from) &&
          (f.to === undefined || c.raisedAt < f.to),
      )
      .sort(byRaisedDesc)
      .slice(0, Math.min(f.limit ?? DEFAULT_CASE_LIMIT, MAX_CASE_LIMIT))
      .map(clone);
  }

  async board(scope: string, f: BoardFilter): Promise<Board> {
    checkScope(scope);
    const open = [...this.#cases.values()]
      .filter((c) => c.stage !== 'closed' && pathInScope(scope, sitePathString(c.site)))
      .sort(boardOrder);
    const board = capBoard(open, f, (c) => sitePathString(c.site));
    return { items: board.items.map(clone), truncated: board.truncated };
  }

  async audit(caseId: string): Promise<AuditEntry[]> {
    return this.#audit.filter((e) => e.caseId === caseId).map(clone);
  }

  async photo(caseId: string): Promise<string | undefined> {
    return this.#photos.get(caseId);
  }

  async readEvents(after: number, limit: number): Promise<CaseLogEntry[]> {
    // Entries are numbered 1, 2, 3 … in this store: seq n sits at index n - 1.
    return this.#events.slice(Math.max(0, after), Math.max(0, after) + limit).map(clone);
  }

  async lastEventSeq(): Promise<number> {
    return this.#events.length;
  }

  async leaseCursor(
    consumer: string,
    holder: string,
    now: number,
    leaseMs: number,
    startAt = 0,
  ): Promise<CursorLease | undefined> {
    let cursor = this.#cursors.get(consumer);
    if (!cursor) {
      cursor = { seq: startAt, leaseUntil: 0 };
      this.#cursors.set(consumer, cursor);
    }
    if (cursor.holder !== undefined && cursor.holder !== holder && cursor.leaseUntil >= now) return undefined;
    cursor.holder = holder;
    cursor.leaseUntil = now + leaseMs;
    return { seq: cursor.seq };
  }

  async advanceCursor(consumer: string, holder: string, seq: number): Promise<boolean> {
    const cursor = this.#cursors.get(consumer);
    if (cursor?.holder !== holder) return false;
    cursor.seq = Math.max(cursor.seq, seq);
    return true;
  }

  async releaseCursor(consumer: string, holder: string): Promise<void> {
    const cursor = this.#cursors.get(consumer);
    if (cursor?.holder === holder) {
      delete cursor.holder;
      cursor.leaseUntil = 0;
    }
  }

  async enqueueCommand(gateway: string, command: DownlinkCommand): Promise<void> {
    this.#enqueue(gateway, command);
  }

  async pendingCommands(gateway: string, limit: number): Promise<DownlinkCommand[]> {
    return [...this.#commands.values()]
      .filter((r) => r.gateway === gateway && r.status === 'pending')
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit)
      .map((r) => clone(r.command));
  }

  async settleCommands(
    gateway: string,
    results: readonly CommandResult[],
    at: number,
  ): Promise<Array<{ id: string; caseId?: string }>> {
    const settled: Array<{ id: string; caseId?: string }> = [];
    for (const result of results) {
      const row = this.#commands.get(`${gateway}\u0000${result.id}`);
      if (row?.status !== 'pending') continue;
      row.status = 'answered';
      row.result = clone(result);
      const caseId = row.command.alarm;
      if (caseId)
        this.#audit.push({ ...commandAudit(caseId, gateway, row.command, result, at), seq: ++this.#seq });
      settled.push({ id: result.id, ...(caseId ? { caseId } : {}) });
    }
    return settled;
  }
}
