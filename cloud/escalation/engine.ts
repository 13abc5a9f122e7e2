/**
 * The escalation engine: a CaseEventSink that turns cases into durable plan rows, and a worker that
 * claims due rows and notifies. Models: GitLab escalation policies (each step fires once per
 * alert, a re-triggered alert restarts the policy, an alert keeps its policy version), Opsgenie
 * conditions, PagerDuty ack timeout, ISA-18.2 re-alarm, EdgeX escalation on delivery failure
 * (standards.md "Escalation models to learn from").
 *
 * Exactly once (DESIGN invariant 8): every notification comes from one plan row; the worker works
 * only rows it claimed atomically (store.claimDue), and the row id is the notification's
 * idempotency id, so even a row retaken after its claimer died mid-delivery (lease expired) is
 * delivered once by the notifier. State lives in the database: a new engine on the same database
 * continues the plan at the planned times.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DoorstepError } from '../../protocol/index.js';
import type {
  AlarmCase,
  CaseEvent,
  CaseEventSink,
  CaseReader,
  Notifier,
  StageMover,
} from '../alarms/contract.js';
import type { NoiseConfig } from './config.js';
import { NoiseGate } from './noise.js';
import { matchPolicy, type Policy } from './policy.js';
import type { DutyResolver } from './roster.js';
import type { CaseState, EscalationStore, PlanRow } from './store/port.js';
import { nextWindowStart, windowAt } from './time.js';
import { deliverPrepared, flushFold, type Prepared, prepareRow, type RowContext } from './worker.js';

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface EngineOptions {
  store: EscalationStore;
  duty: DutyResolver;
  /** The policies in force, in match order (see effectivePolicies). */
  policies: readonly Policy[];
  notifier: Notifier;
  stageMover: StageMover;
  noise: NoiseConfig;
  clock: () => number;
  timers?: Timers;
  /** Names this instance in claims; unique per process. */
  workerId?: string;
  tickMs?: number;
  leaseMs?: number;
  /** Rows claimed per round trip. */
  batch?: number;
  cases?: CaseReader;
  links?: (c: AlarmCase) => { view: string; ack: string; feedback: string };
  log?: Logger;
}

const defaultLinks = (c: AlarmCase) => ({
  view: `/v1/cases/${encodeURIComponent(c.id)}`,
  ack: `/v1/cases/${encodeURIComponent(c.id)}/ack`,
  feedback: `/v1/cases/${encodeURIComponent(c.id)}/feedback`,
});

export class EscalationEngine implements CaseEventSink {
  readonly workerId: string;
  readonly #o: EngineOptions;
  readonly #gate: NoiseGate;
  readonly #policyCache = new Map<string, Policy>();
  #policies: readonly Policy[];
  #timer: unknown;
  #tick: Promise<number> | undefined;

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#policies = options.policies;
    this.workerId = options.workerId ?? `esc-${randomUUID()}`;
    this.#gate = new NoiseGate(options.store, options.noise);
  }

  /** Creates the tables, stores the policy versions in force, starts the worker timer. */
  async start(): Promise<void> {
    await this.#o.store.migrate();
    await this.setPolicies(this.#policies);
    const timers = this.#o.timers ?? globalThis;
    this.#timer ??= timers.setInterval(() => {
      this.tick().catch((error) => this.#o.log?.error({ err: error }, 'escalation tick failed'));
    }, this.#o.tickMs ?? 500);
  }

  /** Stops the timer and waits for a running tick; claimed rows left undone are retaken after the lease. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) (this.#o.timers ?? globalThis).clearInterval(this.#timer as never);
    this.#timer = undefined;
    await this.#tick?.catch(() => {});
  }

  /**
   * Replaces the policies in force (new cases match these); each version is stored, and a changed
   * body under an existing version is refused: cases keep the version they started with.
   */
  async setPolicies(policies: readonly Policy[]): Promise<void> {
    const at = this.#o.clock();
    for (const p of policies)
      if ((await this.#o.store.savePolicy(p, at)) === 'conflict')
        throw new DoorstepError('CLOUD_ERR_ESCALATION_POLICY_CONFLICT', { id: p.id, version: p.version });
    this.#policies = policies;
  }

  async onCaseEvent(event: CaseEvent): Promise<void> {
    const { store } = this.#o;
    await store.saveSnapshot(event.case, event.at);
    switch (event.kind) {
      case 'raised':
      case 'retriggered':
        return this.#startRun(event);
      case 'unshelved':
        // ISA-18.2: an unshelved alarm annunciates again; steps skipped while shelved are not
        // replayed, the policy restarts instead — unless someone already took it.
        if (!event.case.acked && event.case.stage !== 'closed') return this.#startRun(event, true);
        return;
      case 'acked':
        return this.#planAfterAck(event);
      case 'closed':
        await store.cancel(event.case.id, 'cancelled: closed', event.at);
        return;
      default:
        return;
    }
  }

  /** Claims and works every due row; returns how many rows were worked. Ticks never overlap. */
  tick(): Promise<number> {
    this.#tick ??= this.#work().finally(() => {
      this.#tick = undefined;
    });
    return this.#tick;
  }

  /** Resolves when no tick is running (tests with virtual time). */
  async idle(): Promise<void> {
    await this.#tick?.catch(() => {});
  }

  async policy(id: string, version: number): Promise<Policy> {
    const key = `${id}@${version}`;
    let p = this.#policyCache.get(key);
    if (!p) {
      p = await this.#o.store.getPolicy(id, version);
      if (!p) throw new DoorstepError('CLOUD_ERR_ESCALATION_POLICY_UNKNOWN', { id, version });
      this.#policyCache.set(key, p);
    }
    return p;
  }

  async #startRun(event: CaseEvent, restart = false): Promise<void> {
    const { store } = this.#o;
    const c = event.case;
    if (c.test || c.suppressed) return; // walk tests are shown, never escalated (protocol/alarm.ts)
    const state = await store.getCase(c.id);
    // A repeated event (the lifecycle retried its sink call) must not plan twice.
    if (state && state.run > 0 && !restart && (event.kind === 'raised' || state.triggeredAt >= event.at))
      return;
    const previous = c.previousCase ? await store.getCase(c.previousCase) : undefined;
    const ref = this.#policyRef(c, state ?? undefined, previous);
    if (!ref) return;
    const policy = await this.policy(ref.id, ref.version);
    // The occurrence it replaces stops escalating: its policy restarts on this case (GitLab).
    if (previous) await store.cancel(previous.caseId, `cancelled: retriggered as ${c.id}`, event.at);
    const run = (state?.run ?? 0) + 1;
    const triggeredAt = event.kind === 'raised' ? Math.min(c.raisedAt, event.at) : event.at;
    const next: CaseState = {
      caseId: c.id,
      snapshot: c,
      policyId: policy.id,
      policyVersion: policy.version,
      run,
      triggeredAt,
      failedSends: 0,
      updatedAt: event.at,
    };
    await store.plan(
      next,
      planSteps(policy, c.id, run, triggeredAt),
      run > 1 ? 'cancelled: restarted' : undefined,
    );
  }

  #policyRef(
    c: AlarmCase,
    state?: CaseState,
    previous?: CaseState,
  ): { id: string; version: number } | undefined {
    if (c.policy) return c.policy;
    if (state?.policyId && state.policyVersion) return { id: state.policyId, version: state.policyVersion };
    if (previous?.policyId && previous.policyVersion)
      return { id: previous.policyId, version: previous.policyVersion };
    const p = matchPolicy(this.#policies, c);
    return p && { id: p.id, version: p.version };
  }

  async #planAfterAck(event: CaseEvent): Promise<void> {
    const state = await this.#o.store.getCase(event.case.id);
    if (!state?.policyId || !state.policyVersion) return;
    const policy = await this.policy(state.policyId, state.policyVersion);
    const ackedAt = event.case.ackedAt ?? event.at;
    const rows: PlanRow[] = [];
    if (policy.ackTimeoutMs)
      rows.push(timerRow(policy, state, 'ack_timeout', 1, ackedAt + policy.ackTimeoutMs));
    if (policy.realarmMs) rows.push(timerRow(policy, state, 'realarm', 1, ackedAt + policy.realarmMs));
    if (rows.length > 0) await this.#o.store.insert(rows);
  }

  async #work(): Promise<number> {
    const { store, leaseMs = 60_000, batch = 100, log } = this.#o;
    let total = 0;
    for (;;) {
      const now = this.#o.clock();
      const rows = await store.claimDue(this.workerId, now, leaseMs, batch);
      const ctx = this.#context(now);
      const ready: Prepared[] = [];
      for (const row of rows) {
        try {
          if (row.kind === 'fold') await flushFold(ctx, row);
          else {
            const p = await prepareRow(ctx, row);
            if (p) ready.push(p);
          }
        } catch (error) {
          // Left claimed: retaken after the lease, delivered at most once thanks to its id.
          log?.error({ err: error, row: row.id }, 'escalation row failed');
        }
      }
      await deliverPrepared(ctx, ready);
      total += rows.length;
      if (rows.length < batch) return total;
    }
  }

  #context(now: number): RowContext {
    const o = this.#o;
    return {
      now,
      workerId: this.workerId,
      store: o.store,
      duty: o.duty,
      notifier: o.notifier,
      stageMover: o.stageMover,
      gate: this.#gate,
      links: o.links ?? defaultLinks,
      policy: (id, version) => this.policy(id, version),
      currentCase: async (id) => (o.cases ? await o.cases.getCase(id) : undefined),
      ...(o.log ? { log: o.log } : {}),
    };
  }
}

const runSuffix = (run: number) => (run > 1 ? `:r${run}` : '');

/** `${caseId}:${policyVersion}:${step}:${repeat}` — the idempotency id of the notification. */
export function stepRowId(
  caseId: string,
  version: number,
  step: number,
  repeat: number,
  run: number,
): string {
  return `${caseId}:${version}:${step}:${repeat}${runSuffix(run)}`;
}

/** Every step and repeat of a policy as rows due relative to the (re)trigger. */
export function planSteps(policy: Policy, caseId: string, run: number, triggeredAt: number): PlanRow[] {
  return policy.steps.flatMap((step, i) =>
    Array.from({ length: 1 + (step.repeat?.times ?? 0) }, (_, rep) => ({
      id: stepRowId(caseId, policy.version, i, rep, run),
      caseId,
      policyId: policy.id,
      policyVersion: policy.version,
      kind: 'step' as const,
      step: i,
      repeat: rep,
      run,
      dueAt: deferToWindow(step, triggeredAt + step.delayMs + rep * (step.repeat?.everyMs ?? 0)),
    })),
  );
}

function deferToWindow(step: Policy['steps'][number], due: number): number {
  const w = step.window;
  if (w?.outside !== 'defer' || windowAt(w, due)) return due;
  return nextWindowStart(w, due) ?? due;
}

export function timerRow(
  policy: Policy,
  state: CaseState,
  kind: 'ack_timeout' | 'realarm' | 'fallback',
  n: number,
  dueAt: number,
): PlanRow {
  const label = kind === 'ack_timeout' ? 'ack' : kind;
  return {
    id: `${state.caseId}:${policy.version}:${label}${kind === 'fallback' ? '' : `:${n}`}${runSuffix(state.run)}`,
    caseId: state.caseId,
    policyId: policy.id,
    policyVersion: policy.version,
    kind,
    step: n,
    repeat: 0,
    run: state.run,
    dueAt,
  };
}
