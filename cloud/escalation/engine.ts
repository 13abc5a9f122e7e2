/**
 * The escalation engine: a consumer of the case-event log (cursor `escalation`, read by
 * cloud/alarms/log-reader.ts) that turns cases into durable plan rows, and a worker that claims due
 * rows and notifies. The log is read at least once and never past an entry whose plan was not
 * committed, so no case whose change was committed (and whose batch the gateway saw acknowledged)
 * is ever left without its plan — a crash between the two, or a failed plan write, only delays
 * it; `onCaseEvent` is idempotent for the entries read again. Models: GitLab escalation policies (each step fires once per
 * alert, a re-triggered alert restarts the policy, an alert keeps its policy version), Opsgenie
 * conditions, PagerDuty ack timeout, ISA-18.2 re-alarm, EdgeX escalation on delivery failure
 * (standards.md "Escalation models to learn from").
 *
 * Exactly once (docs/architecture.md invariant 10): every notification comes from one plan row; the worker works
 * only rows it claimed atomically (store.claimDue), and the row id is the notification's
 * idempotency id, so even a row retaken after its claimer died mid-delivery (lease expired) is
 * delivered once by the notifier. State lives in the database: a new engine on the same database
 * continues the plan at the planned times.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../common/log.js';
import { nextWindowStart, windowAt } from '../../common/time.js';
import { DoorstepError } from '../../protocol/index.js';
import {
  type AlarmCase,
  type CaseEvent,
  type CaseEventSink,
  type CaseReader,
  CLAIM_LEASE_MS,
  type Notifier,
  type StageMover,
} from '../alarms/contract.js';
import { CaseLogReader, type CaseLogSource } from '../alarms/log-reader.js';
import { idleSince, reannounce } from '../alarms/model.js';
import { cloudFault } from '../fault.js';
import type { NoiseConfig } from './config.js';
import { NoiseGate } from './noise.js';
import { matchPolicy, type Policy, policyMatches } from './policy.js';
import type { DutyResolver } from './roster.js';
import type { CaseState, EscalationStore, PlanRow } from './store/port.js';
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
  /**
   * Rows claimed per round trip: only what this instance starts at once, since a claimed row
   * waits out the lease if the instance dies (100 rows once made a smoke 预警 60 s late).
   */
  batch?: number;
  /** The case-event log to read (the case store); without it, events come through onCaseEvent. */
  events?: CaseLogSource;
  /** How often the log is read without a local doorbell (another instance's changes). */
  logPollMs?: number;
  /**
   * Marks urgent work in flight (the ingest's BulkGate.smallStarted): from a local commit until
   * its first notice is handed to its channel, bulk telemetry steps aside at its checkpoints as it
   * does for an alarm batch being stored (GB 26875.1-2011 §4.1.2.3). Returns the release.
   */
  urgent?: () => () => void;
  cases?: CaseReader;
  /** The sensor kind of a case's device in the registry, for policies matching `deviceKinds`. */
  deviceKind?: (c: AlarmCase) => Promise<string | undefined>;
  links?: (c: AlarmCase) => { view: string; ack: string; feedback: string };
  /** How long stop() waits for deliveries in flight; the rest are retaken after the lease. */
  stopGraceMs?: number;
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
  #heartbeat: unknown;
  #tick: Promise<number> | undefined;
  #again = false;
  #reader: CaseLogReader | undefined;
  /** Releases of urgent marks taken at wake(), given back once the round they rang is worked. */
  #urgent: Array<() => void> = [];
  /**
   * Deliveries in flight, by the plan rows they complete. They run beside the ticks, never
   * inside them: one hanging channel must not hold any other case's notice (docs/architecture.md invariant 8).
   */
  readonly #inflight = new Map<Promise<void>, readonly string[]>();

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#policies = options.policies;
    this.workerId = options.workerId ?? `esc-${randomUUID()}`;
    this.#gate = new NoiseGate(options.store, options.noise);
  }

  /** Creates the tables, stores the policy versions in force, starts the log reader and the worker timer. */
  async start(): Promise<void> {
    await this.#o.store.migrate();
    await this.setPolicies(this.#policies);
    if (this.#o.events && !this.#reader) {
      this.#reader = new CaseLogReader({
        consumer: 'escalation',
        holder: this.workerId,
        source: this.#o.events,
        clock: this.#o.clock,
        leaseMs: this.#leaseMs,
        ...(this.#o.logPollMs !== undefined ? { pollMs: this.#o.logPollMs } : {}),
        handle: (entry) => {
          // Suppressed cases (walk tests) are shown, never escalated (protocol/alarm.ts).
          if (entry.case.suppressed) return Promise.resolve();
          cloudFault('escalation:before-plan');
          return this.onCaseEvent({
            kind: entry.kind,
            case: entry.case,
            at: entry.at,
            ...(entry.by ? { by: entry.by } : {}),
          });
        },
        // A first notice is due at once: work it now, not at the next tick.
        afterRound: () => {
          const releases = this.#urgent.splice(0);
          this.tick()
            .catch((error) => this.#o.log?.error({ err: error }, 'escalation tick failed'))
            // Handed to the channels (or the bound below): bulk ingest may go on.
            .then(() => this.#handedOver())
            .finally(() => {
              for (const release of releases) release();
            });
        },
        ...(this.#o.log ? { log: this.#o.log } : {}),
      });
      this.#reader.start();
    }
    const timers = this.#o.timers ?? globalThis;
    this.#timer ??= timers.setInterval(() => {
      this.tick().catch((error) => this.#o.log?.error({ err: error }, 'escalation tick failed'));
    }, this.#o.tickMs ?? 500);
    this.#heartbeat ??= timers.setInterval(
      () => {
        this.#renew().catch((error) => this.#o.log?.error({ err: error }, 'escalation lease renewal failed'));
      },
      Math.max(1, Math.floor(this.#leaseMs / 3)),
    );
  }

  get #leaseMs(): number {
    return this.#o.leaseMs ?? CLAIM_LEASE_MS;
  }

  /**
   * Stops the timers, waits for a running tick and (up to `stopGraceMs`) for deliveries in flight;
   * rows still claimed are retaken by another instance after the lease.
   */
  async stop(): Promise<void> {
    await this.#reader?.stop();
    this.#reader = undefined;
    const timers = this.#o.timers ?? globalThis;
    if (this.#timer !== undefined) timers.clearInterval(this.#timer as never);
    if (this.#heartbeat !== undefined) timers.clearInterval(this.#heartbeat as never);
    this.#timer = this.#heartbeat = undefined;
    await this.#tick?.catch(() => {});
    const grace = this.#o.stopGraceMs ?? 5_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inflight.keys()]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, grace);
        timer.unref?.();
      }),
    ]);
    clearTimeout(timer);
  }

  /** Rows whose delivery is in flight (their claims are being renewed). */
  get inFlight(): number {
    let n = 0;
    for (const ids of this.#inflight.values()) n += ids.length;
    return n;
  }

  async #renew(): Promise<void> {
    const ids = [...this.#inflight.values()].flat();
    if (ids.length > 0) await this.#o.store.renew(ids, this.workerId, this.#o.clock());
  }

  #track(rowIds: readonly string[], work: Promise<void>): void {
    const done = work
      .catch((error) => this.#o.log?.error({ err: error, rows: rowIds }, 'escalation delivery failed'))
      .finally(() => this.#inflight.delete(done));
    this.#inflight.set(done, rowIds);
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
        await this.#startRun(event);
        return this.#planLapse(event);
      case 'retriggered':
        // Cases stored before re-occurrences joined their case: a new case replacing the old one.
        if (event.case.previousCase) return this.#startRun(event);
        return this.#planAgain(event);
      case 'unshelved':
      case 'returned_to_service':
        if (reannounce(event.case)) return this.#startRun(event, true);
        return;
      case 'shelved':
      case 'out_of_service':
        return this.#planLapse(event);
      case 'acked':
        return this.#planAfterAck(event);
      case 'closed':
        await store.cancel(event.case.id, 'cancelled: closed', event.at);
        return;
      default:
        return;
    }
  }

  /** The case-event log has new entries (the lifecycle's doorbell): read them now. */
  wake(): void {
    if (this.#reader && this.#o.urgent) {
      const release = this.#o.urgent();
      let done = false;
      const once = () => {
        if (done) return;
        done = true;
        clearTimeout(bound);
        release();
      };
      // Bounded: a round that finds nothing, or a channel that hangs, holds bulk ingest no longer.
      const bound = setTimeout(once, URGENT_MAX_MS);
      bound.unref?.();
      this.#urgent.push(once);
    }
    this.#reader?.wake();
  }

  /** Resolves when the deliveries now in flight have made their first attempt, or after URGENT_MAX_MS. */
  async #handedOver(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inflight.keys()]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, URGENT_MAX_MS);
        timer.unref?.();
      }),
    ]);
    clearTimeout(timer);
  }

  /** Reads the case-event log until caught up (tests); returns how many entries were handled. */
  async readLog(): Promise<number> {
    return (await this.#reader?.drain()) ?? 0;
  }

  /**
   * The condition occurred again while its case is open: the same case, its run goes on (the
   * clocks keep counting, the red light is not put off), and the first step's recipients are told
   * once per occurrence — as a reminder, so noise control groups and rate-limits a point that
   * keeps failing and recovering (a new first notice would bypass it).
   */
  async #planAgain(event: CaseEvent): Promise<void> {
    const c = event.case;
    if (c.test || c.suppressed) return;
    const state = await this.#o.store.getCase(c.id);
    if (!state?.policyId || !state.policyVersion) return;
    const policy = await this.policy(state.policyId, state.policyVersion);
    await this.#o.store.insert([timerRow(policy, state, 'again', c.occurrence, event.at)]);
  }

  /**
   * Shelving or out of service with an end (or carried over to a new case of the condition): when
   * it lapses, whatever is still active is announced again (ISA-18.2). One row per end time;
   * re-shelving later leaves the earlier row to find the case still shelved and skip.
   */
  async #planLapse(event: CaseEvent): Promise<void> {
    const c = event.case;
    const ends = [c.shelved?.until, c.outOfService?.until].filter(
      (u): u is number => u !== undefined && u > event.at,
    );
    if (ends.length === 0 || c.test || c.suppressed) return;
    const state = await this.#o.store.getCase(c.id);
    if (!state?.policyId || !state.policyVersion) return;
    const policy = await this.policy(state.policyId, state.policyVersion);
    await this.#o.store.insert(ends.map((until) => timerRow(policy, state, 'lapse', until, until)));
  }

  /** A lapse row fell due with the case announceable again: the policy restarts (a new run). */
  async #restart(c: AlarmCase, at: number): Promise<void> {
    await this.#startRun({ kind: 'unshelved', case: c, at }, true);
  }

  /**
   * Claims and works every due row; returns how many rows were worked. Ticks never overlap; one
   * asked for while another runs runs right after it (the running one may have claimed before a
   * row it should see was planned).
   */
  tick(): Promise<number> {
    if (this.#tick) {
      this.#again = true;
      return this.#tick;
    }
    const run = async (): Promise<number> => {
      let n = 0;
      do {
        this.#again = false;
        n += await this.#work();
      } while (this.#again);
      return n;
    };
    this.#tick = run().finally(() => {
      this.#tick = undefined;
    });
    return this.#tick;
  }

  /** Resolves when no tick and no delivery is running (tests with virtual time). */
  async idle(): Promise<void> {
    await this.#tick?.catch(() => {});
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight.keys()]);
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
    // A restart entry (unshelved, returned_to_service) read again from the log — at least once —
    // finds the run it started (triggered at its time, or a later one): no further run.
    if (state && restart && state.run > 1 && state.triggeredAt >= event.at) return;
    const previous = c.previousCase ? await store.getCase(c.previousCase) : undefined;
    const ref = await this.#policyRef(c, state ?? undefined, previous);
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
      planSteps(policy, c.id, run, triggeredAt, idleSince(c)),
      run > 1 ? 'cancelled: restarted' : undefined,
    );
  }

  async #policyRef(
    c: AlarmCase,
    state?: CaseState,
    previous?: CaseState,
  ): Promise<{ id: string; version: number } | undefined> {
    if (c.policy) return c.policy;
    if (state?.policyId && state.policyVersion) return { id: state.policyId, version: state.policyVersion };
    if (previous?.policyId && previous.policyVersion)
      return { id: previous.policyId, version: previous.policyVersion };
    let kind: string | undefined;
    // Only when a policy's other conditions already accept the case: most cases never ask.
    const asks = (p: Policy) =>
      p.match.deviceKinds !== undefined &&
      policyMatches({ ...p, match: { ...p.match, deviceKinds: undefined } }, c);
    if (this.#o.deviceKind && this.#policies.some(asks))
      kind = await this.#o.deviceKind(c).catch((error) => {
        // Without the kind the case still matches its severity's policy: told later, never lost.
        this.#o.log?.warn({ err: error, case: c.id }, 'device kind unavailable for policy matching');
        return undefined;
      });
    const p = matchPolicy(this.#policies, c, kind);
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

  /**
   * Claims due rows, checks them and hands their deliveries to #track: a tick never waits for a
   * channel, so the next tick (500 ms later) already serves the next case.
   */
  async #work(): Promise<number> {
    const { store, batch = 10, log } = this.#o;
    let total = 0;
    for (;;) {
      const now = this.#o.clock();
      const rows = await store.claimDue(this.workerId, now, this.#leaseMs, batch);
      const ctx = this.#context(now);
      const ready: Prepared[] = [];
      const mine = new Set([...this.#inflight.values()].flat());
      for (const row of rows) {
        // Our own delivery still runs (a renewal came late): the claim just taken is its renewal.
        if (mine.has(row.id)) continue;
        try {
          if (row.kind === 'fold') this.#track([row.id], flushFold(ctx, row));
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
      // A tick was asked for meanwhile (a new plan, maybe a first notice): end this run after the
      // chunk; tick() runs again at once, and its first claim takes first notices first.
      if (rows.length < batch || this.#again) return total;
    }
  }

  #context(now: number): RowContext {
    const o = this.#o;
    return {
      now,
      clock: o.clock,
      leaseMs: this.#leaseMs,
      dispatch: (rowIds, work) => this.#track(rowIds, work),
      // The red light counts from the last activity, never from the first notice.
      laterSteps: (policy, caseId, run, from) =>
        planSteps(policy, caseId, run, from).filter(
          (r) => (r.step > 0 || r.repeat > 0) && policy.steps[r.step]?.condition !== 'idle',
        ),
      restart: (c, at) => this.#restart(c, at),
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

/** The longest a local commit holds bulk ingest aside for its notices (a hanging channel included). */
const URGENT_MAX_MS = 2_000;

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

/**
 * Every step and repeat of a policy as rows due relative to the (re)trigger; `idle` steps (the
 * red light) relative to the case's last activity, `idleFrom` (a restart does not put them off).
 */
export function planSteps(
  policy: Policy,
  caseId: string,
  run: number,
  triggeredAt: number,
  idleFrom = triggeredAt,
): PlanRow[] {
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
      dueAt: deferToWindow(
        step,
        (step.condition === 'idle' ? idleFrom : triggeredAt) +
          step.delayMs +
          rep * (step.repeat?.everyMs ?? 0),
      ),
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
  kind: 'ack_timeout' | 'realarm' | 'fallback' | 'again' | 'lapse',
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
    // A lapse's n is a time (in the id only: the step column is a 32-bit integer in PostgreSQL).
    step: kind === 'lapse' ? 0 : n,
    repeat: 0,
    run: state.run,
    dueAt,
  };
}
