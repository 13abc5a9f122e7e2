/** The in-memory NotificationStore (tests, the demo, `storage: {kind: memory}`). */
import type {
  AttemptRecord,
  ClaimInput,
  ClaimResult,
  DeliveryKey,
  DeliveryRecord,
  NotificationStore,
} from './port.js';

/** Binary order, as the SQL adapters sort (SQLite BINARY, PostgreSQL in the C locale). */
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const keyOf = (k: DeliveryKey) => JSON.stringify([k.requestId, k.recipient, k.addressKey]);

export class MemoryNotificationStore implements NotificationStore {
  readonly #deliveries = new Map<string, DeliveryRecord & { owner?: string; leaseUntil: number }>();
  readonly #attempts: AttemptRecord[] = [];
  readonly #cases = new Map<string, Set<string>>();

  async migrate(): Promise<void> {}

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const id = keyOf(input.key);
    for (const c of input.caseIds) {
      const set = this.#cases.get(c) ?? new Set<string>();
      set.add(input.key.requestId);
      this.#cases.set(c, set);
    }
    const row = this.#deliveries.get(id);
    if (!row) {
      this.#deliveries.set(id, {
        ...input.key,
        channel: input.channel,
        target: input.target,
        state: 'sending',
        attempts: 0,
        createdAt: input.now,
        updatedAt: input.now,
        owner: input.owner,
        leaseUntil: input.leaseUntil,
      });
      return { claimed: true, attemptsSoFar: 0 };
    }
    if (row.state === 'failed' || (row.state === 'sending' && row.leaseUntil <= input.now)) {
      Object.assign(row, {
        state: 'sending',
        owner: input.owner,
        leaseUntil: input.leaseUntil,
        target: input.target,
        updatedAt: input.now,
      });
      return { claimed: true, attemptsSoFar: row.attempts };
    }
    return {
      claimed: false,
      state: row.state === 'delivered' ? 'delivered' : 'sending',
      attempts: row.attempts,
    };
  }

  async recordAttempt(attempt: AttemptRecord): Promise<void> {
    // Whole milliseconds, as the SQL adapters store them.
    this.#attempts.push({ ...attempt, latencyMs: Math.round(attempt.latencyMs) });
  }

  async renew(key: DeliveryKey, owner: string, leaseUntil: number): Promise<boolean> {
    const row = this.#deliveries.get(keyOf(key));
    if (!row || row.owner !== owner || row.state !== 'sending') return false;
    row.leaseUntil = leaseUntil;
    return true;
  }

  async finish(
    key: DeliveryKey,
    owner: string,
    outcome: { ok: boolean; attempts: number; error?: string },
    now: number,
  ): Promise<boolean> {
    const row = this.#deliveries.get(keyOf(key));
    if (!row || row.owner !== owner || row.state !== 'sending') return false;
    row.state = outcome.ok ? 'delivered' : 'failed';
    row.attempts = outcome.attempts;
    if (outcome.error === undefined) delete row.error;
    else row.error = outcome.error;
    row.updatedAt = now;
    return true;
  }

  #public(row: DeliveryRecord & { owner?: string; leaseUntil: number }): DeliveryRecord {
    const { owner: _o, leaseUntil: _l, ...rest } = row;
    return { ...rest };
  }

  async delivery(key: DeliveryKey): Promise<DeliveryRecord | undefined> {
    const row = this.#deliveries.get(keyOf(key));
    return row ? this.#public(row) : undefined;
  }

  async deliveriesByRequest(requestId: string): Promise<DeliveryRecord[]> {
    return [...this.#deliveries.values()]
      .filter((d) => d.requestId === requestId)
      .map((d) => this.#public(d))
      .sort((a, b) => cmp(a.recipient, b.recipient) || cmp(a.addressKey, b.addressKey));
  }

  async attemptsByRequest(requestId: string): Promise<AttemptRecord[]> {
    return this.#attempts
      .filter((a) => a.requestId === requestId)
      .sort(
        (a, b) => cmp(a.recipient, b.recipient) || cmp(a.addressKey, b.addressKey) || a.attempt - b.attempt,
      )
      .map((a) => ({ ...a }));
  }

  async attemptsByCase(caseId: string): Promise<AttemptRecord[]> {
    const requests = this.#cases.get(caseId) ?? new Set<string>();
    return this.#attempts.filter((a) => requests.has(a.requestId)).map((a) => ({ ...a }));
  }
}
