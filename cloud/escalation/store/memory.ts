import type { AlarmCase } from '../../alarms/contract.js';
import type { Policy } from '../policy.js';
import {
  type CaseState,
  type EscalationStore,
  type FoldEntry,
  newFoldRow,
  type PlanRow,
  policyBody,
  type RecipientLogEntry,
  type RowKind,
} from './port.js';

const byDue = (a: PlanRow, b: PlanRow) => a.dueAt - b.dueAt || a.id.localeCompare(b.id);
/** Claim order (sql.ts FIRST_NOTICE_FIRST): first notices first, then by due time. */
const firstNotice = (r: PlanRow) => (r.kind === 'step' && r.step === 0 && r.repeat === 0 ? 0 : 1);
const byClaimOrder = (a: PlanRow, b: PlanRow) => firstNotice(a) - firstNotice(b) || byDue(a, b);
const open = (r: PlanRow) => r.doneAt === undefined && r.claimedBy === undefined;

/**
 * In-memory adapter for unit tests: every method runs synchronously inside one call, so two
 * engines sharing one instance see the same atomic claims as they would on a database.
 */
export class MemoryEscalationStore implements EscalationStore {
  readonly #policies = new Map<string, string>();
  readonly #cases = new Map<string, CaseState>();
  readonly #rows = new Map<string, PlanRow>();
  #log: RecipientLogEntry[] = [];

  async migrate(): Promise<void> {}

  async savePolicy(policy: Policy): Promise<'inserted' | 'unchanged' | 'conflict'> {
    const key = `${policy.id}@${policy.version}`;
    const body = policyBody(policy);
    const existing = this.#policies.get(key);
    if (existing === undefined) {
      this.#policies.set(key, body);
      return 'inserted';
    }
    return existing === body ? 'unchanged' : 'conflict';
  }

  async getPolicy(id: string, version: number): Promise<Policy | undefined> {
    const body = this.#policies.get(`${id}@${version}`);
    return body === undefined ? undefined : (JSON.parse(body) as Policy);
  }

  async getCase(caseId: string): Promise<CaseState | undefined> {
    const s = this.#cases.get(caseId);
    return s && structuredClone(s);
  }

  async saveSnapshot(snapshot: AlarmCase, at: number): Promise<void> {
    const s = this.#cases.get(snapshot.id);
    if (!s) {
      this.#cases.set(snapshot.id, {
        caseId: snapshot.id,
        snapshot,
        run: 0,
        triggeredAt: at,
        failedSends: 0,
        updatedAt: at,
      });
      return;
    }
    if (snapshot.updatedAt >= s.snapshot.updatedAt) {
      s.snapshot = structuredClone(snapshot);
      s.updatedAt = at;
    }
  }

  async plan(state: CaseState, rows: readonly PlanRow[], cancelOutcome?: string): Promise<void> {
    if (cancelOutcome !== undefined) this.#cancel(state.caseId, cancelOutcome, state.updatedAt);
    this.#cases.set(state.caseId, structuredClone(state));
    this.#insert(rows);
  }

  async cancel(caseId: string, outcome: string, at: number, kinds?: readonly RowKind[]): Promise<number> {
    return this.#cancel(caseId, outcome, at, kinds);
  }

  async insert(rows: readonly PlanRow[]): Promise<string[]> {
    return this.#insert(rows);
  }

  async claimDue(worker: string, now: number, leaseMs: number, limit: number): Promise<PlanRow[]> {
    const due = [...this.#rows.values()]
      .filter(
        (r) =>
          r.doneAt === undefined &&
          r.dueAt <= now &&
          (r.claimedBy === undefined || (r.claimedAt ?? 0) < now - leaseMs),
      )
      .sort(byClaimOrder)
      .slice(0, limit);
    for (const r of due) {
      r.claimedBy = worker;
      r.claimedAt = now;
    }
    return due.map((r) => ({ ...r }));
  }

  async complete(
    id: string,
    worker: string,
    outcome: string,
    at: number,
    followUps: readonly PlanRow[] = [],
  ) {
    const r = this.#rows.get(id);
    if (!r || r.claimedBy !== worker || r.doneAt !== undefined) return false;
    r.doneAt = at;
    r.outcome = outcome;
    this.#insert(followUps);
    return true;
  }

  async renew(ids: readonly string[], worker: string, now: number): Promise<void> {
    for (const id of ids) {
      const r = this.#rows.get(id);
      if (r && r.claimedBy === worker && r.doneAt === undefined) r.claimedAt = now;
    }
  }

  async release(id: string, worker: string, dueAt: number): Promise<boolean> {
    const r = this.#rows.get(id);
    if (!r || r.claimedBy !== worker || r.doneAt !== undefined || r.kind === 'fold') return false;
    delete r.claimedBy;
    delete r.claimedAt;
    r.dueAt = dueAt;
    return true;
  }

  async retime(updates: readonly { id: string; dueAt: number }[]): Promise<void> {
    for (const u of updates) {
      const r = this.#rows.get(u.id);
      if (r && r.doneAt === undefined && r.claimedBy === undefined) r.dueAt = u.dueAt;
    }
  }

  async addFailedSends(caseId: string, n: number): Promise<number> {
    const s = this.#cases.get(caseId);
    if (!s) return n;
    s.failedSends += n;
    return s.failedSends;
  }

  async fold(
    recipient: string,
    foldKey: string,
    dueAt: number,
    entry: FoldEntry,
    policy: { id: string; version: number },
  ) {
    const existing = [...this.#rows.values()].find(
      (r) => r.kind === 'fold' && open(r) && r.recipient === recipient && r.foldKey === foldKey,
    );
    if (existing) {
      existing.payload = JSON.stringify([...(JSON.parse(existing.payload ?? '[]') as FoldEntry[]), entry]);
      return existing.id;
    }
    const row = newFoldRow(entry, policy, recipient, foldKey, dueAt);
    this.#rows.set(row.id, row);
    return row.id;
  }

  async logRecipient(entries: readonly RecipientLogEntry[]): Promise<void> {
    this.#log.push(...entries.map((e) => ({ ...e })));
  }

  async recipientLog(recipient: string, since: number): Promise<RecipientLogEntry[]> {
    return this.#log.filter((e) => e.recipient === recipient && e.at >= since).map((e) => ({ ...e }));
  }

  async rows(caseId?: string): Promise<PlanRow[]> {
    return [...this.#rows.values()]
      .filter((r) => caseId === undefined || r.caseId === caseId)
      .sort(byDue)
      .map((r) => ({ ...r }));
  }

  async prune(before: number): Promise<void> {
    for (const [id, r] of this.#rows) if (r.doneAt !== undefined && r.doneAt < before) this.#rows.delete(id);
    this.#log = this.#log.filter((e) => e.at >= before);
  }

  #cancel(caseId: string, outcome: string, at: number, kinds?: readonly RowKind[]): number {
    let n = 0;
    for (const r of this.#rows.values())
      if (r.caseId === caseId && r.kind !== 'fold' && open(r) && (!kinds || kinds.includes(r.kind))) {
        r.doneAt = at;
        r.outcome = outcome;
        n++;
      }
    return n;
  }

  #insert(rows: readonly PlanRow[]): string[] {
    const inserted: string[] = [];
    for (const r of rows)
      if (!this.#rows.has(r.id)) {
        // A new row is never born claimed or done (as in the SQL adapters, which insert plan columns only).
        const { claimedBy: _c, claimedAt: _a, doneAt: _d, outcome: _o, ...fresh } = r;
        this.#rows.set(r.id, fresh);
        inserted.push(r.id);
      }
    return inserted;
  }
}
