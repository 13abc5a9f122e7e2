/**
 * The alarm lifecycle: turns the edge's alarm transitions into cases, lets people act on them
 * (every action audited with who, when, from where and what changed) and lets the escalation
 * engine move them to 提醒 / 督办 (StageMover). Decisions are the pure functions of model.ts, run
 * inside the case store's transactions, which also append the change's events to the case-event
 * log. The lifecycle only writes: escalation, the console push and the tier feed read the log
 * (log-reader.ts), each after its own cursor. After a commit it rings a doorbell (`onAppend`) so
 * that this instance's readers look at once instead of at their next poll.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../common/log.js';
import { type AlarmTransition, DoorstepError, type SitePath } from '../../protocol/index.js';
import { cloudFault } from '../fault.js';
import type { CloudStore } from '../store/port.js';
import type { AlarmCase, CaseReader, StageMover } from './contract.js';
import {
  type Actor,
  type AuditEntry,
  ackCase,
  type CaseChange,
  closeCase,
  effective,
  type FeedbackInput,
  feedbackCase,
  MAX_SHELVE_MS,
  outOfServiceCase,
  planNewCase,
  planReoccurrence,
  planTransition,
  requestCase,
  returnToServiceCase,
  shelveCase,
  stageCase,
  type TransitionContext,
  unshelveCase,
  viewCase,
} from './model.js';
import type {
  AlarmCaseStore,
  Board,
  BoardFilter,
  CaseFilter,
  CaseLogEntry,
  CommandResult,
} from './store/port.js';

export interface LifecycleDeps {
  cases: AlarmCaseStore;
  /** The registry: gateway sites and device location labels. */
  store: Pick<CloudStore, 'getGateway' | 'listDevices'>;
  clock: () => number;
  log: Logger;
  newId?: () => string;
}

/** What ingest knows about a batch's transitions: their gateway's site and the applied offset. */
export interface TransitionMeta {
  site?: SitePath;
  offsetMs?: number;
}

export class LifecycleService implements StageMover, CaseReader {
  readonly #newId: () => string;
  readonly #bells = new Set<() => void>();

  constructor(private readonly deps: LifecycleDeps) {
    this.#newId = deps.newId ?? randomUUID;
  }

  /**
   * Calls `listener` after each committed change that appended to the case-event log (a doorbell:
   * it carries nothing, the reader reads the log). Returns the unsubscribe function.
   */
  onAppend(listener: () => void): () => void {
    this.#bells.add(listener);
    return () => this.#bells.delete(listener);
  }

  // ── from the edge ──────────────────────────────────────────────────────────────────────────

  /**
   * Applies transitions in order. Idempotent by (gateway, alarm id, state) in the store, so ingest
   * may hand over every transition of a batch, retried or not, and two instances may race.
   * Returns the changes this call made (for tests and logs).
   */
  async applyTransitions(
    transitions: readonly AlarmTransition[],
    meta: TransitionMeta = {},
  ): Promise<CaseChange[]> {
    const applied: CaseChange[] = [];
    const sites = new Map<string, SitePath | undefined>();
    const locations = new Map<string, Map<string, string | undefined>>();
    for (const t of transitions) {
      let site = meta.site;
      if (!site) {
        if (!sites.has(t.gateway)) sites.set(t.gateway, (await this.deps.store.getGateway(t.gateway))?.site);
        site = sites.get(t.gateway);
      }
      if (!site) {
        this.deps.log.warn({ gateway: t.gateway, alarm: t.id }, 'transition of an unknown gateway ignored');
        continue;
      }
      const location = await this.#location(locations, site, t.gateway, t.device);
      const ctx: TransitionContext = {
        site,
        offsetMs: meta.offsetMs ?? 0,
        now: this.deps.clock(),
        ...(location ? { location } : {}),
      };
      const change = await this.deps.cases.applyTransition(t, {
        existing: (current) => {
          // One writer per (device, alarm type) — docs/architecture.md invariant 7: a gateway moves only its own cases.
          if (current.gateway !== t.gateway) {
            this.deps.log.warn(
              { gateway: t.gateway, alarm: t.id },
              "transition for another gateway's case ignored",
            );
            return undefined;
          }
          return planTransition(current, t, ctx);
        },
        reoccur: (open) => planReoccurrence(open, t, ctx),
        create: (latest) => planNewCase(t, ctx, latest),
      });
      if (!change) continue;
      cloudFault('case:after-commit');
      applied.push(change);
      this.#ring(change);
    }
    return applied;
  }

  async #location(
    cache: Map<string, Map<string, string | undefined>>,
    site: SitePath,
    gateway: string,
    device: string,
  ): Promise<string | undefined> {
    let devices = cache.get(gateway);
    if (!devices) {
      devices = new Map();
      const scope = `${site.district}/${site.town}/${site.community}`;
      for (const d of await this.deps.store.listDevices(scope))
        if (d.gateway === gateway) devices.set(d.id, d.location);
      cache.set(gateway, devices);
    }
    return devices.get(device);
  }

  /** Records `command_result` answers on the cases' audit trails and settles the commands. */
  async recordCommandResults(gateway: string, results: readonly CommandResult[]): Promise<number> {
    if (results.length === 0) return 0;
    return (await this.deps.cases.settleCommands(gateway, results, this.deps.clock())).length;
  }

  // ── from the escalation engine ─────────────────────────────────────────────────────────────

  /** StageMover: never backwards, never reopens, never for suppressed/shelved/out-of-service cases. */
  async setStage(caseId: string, stage: 'remind' | 'supervise', reason: string, at: number): Promise<void> {
    const result = await this.deps.cases.update(caseId, (c) => stageCase(c, stage, reason, at));
    if (result === 'missing') throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'case', id: caseId });
    if (result) this.#ring(result);
  }

  // ── from people ────────────────────────────────────────────────────────────────────────────

  ack(caseId: string, actor: Actor): Promise<AlarmCase> {
    return this.#act(caseId, actor, (c, at) => ackCase(c, actor, at, this.#newId()));
  }

  feedback(caseId: string, actor: Actor, input: FeedbackInput): Promise<AlarmCase> {
    return this.#act(caseId, actor, (c, at) => feedbackCase(c, actor, at, input));
  }

  /** Audits that `actor` opened the case (an action link); the case itself does not change. */
  viewed(caseId: string, actor: Actor, detail: Record<string, unknown>): Promise<AlarmCase> {
    return this.#act(caseId, actor, (c, at) => viewCase(c, actor, at, detail));
  }

  close(caseId: string, actor: Actor): Promise<AlarmCase> {
    return this.#act(caseId, actor, (c, at) => closeCase(c, actor, at));
  }

  /** `until` in cloud time; more than 24 h ahead (or not ahead) is refused naming `until`. */
  async shelve(caseId: string, actor: Actor, input: { reason: string; until: number }): Promise<AlarmCase> {
    const now = this.deps.clock();
    if (!(input.until > now) || input.until - now > MAX_SHELVE_MS)
      throw new DoorstepError('CLOUD_ERR_VALIDATION', {
        field: 'until',
        reason: 'shelving must end in the future and within 24 hours (ISA-18.2: shelving is time-limited)',
      });
    return this.#act(caseId, actor, (c, at) => shelveCase(c, actor, at, input.reason, input.until));
  }

  unshelve(caseId: string, actor: Actor): Promise<AlarmCase> {
    return this.#act(caseId, actor, (c, at) => unshelveCase(c, actor, at));
  }

  async outOfService(
    caseId: string,
    actor: Actor,
    input: { reason: string; until?: number },
  ): Promise<AlarmCase> {
    if (input.until !== undefined && input.until <= this.deps.clock())
      throw new DoorstepError('CLOUD_ERR_VALIDATION', { field: 'until', reason: 'must be in the future' });
    return this.#act(caseId, actor, (c, at) => outOfServiceCase(c, actor, at, input.reason, input.until));
  }

  /** ISA-18.2 return to service before `until` (or without one); refused when not out of service. */
  returnToService(caseId: string, actor: Actor): Promise<AlarmCase> {
    return this.#act(caseId, actor, (c, at) => returnToServiceCase(c, actor, at));
  }

  /** Queues a downlink `reset`; the case changes when the gateway's reset transition arrives. */
  reset(caseId: string, actor: Actor): Promise<AlarmCase> {
    return this.#act(caseId, actor, (c, at) => requestCase(c, actor, at, 'reset', this.#newId()));
  }

  /** Queues a downlink `silence` (the local sounder); the case itself does not change. */
  silence(caseId: string, actor: Actor): Promise<AlarmCase> {
    return this.#act(caseId, actor, (c, at) => requestCase(c, actor, at, 'silence', this.#newId()));
  }

  async #act(
    caseId: string,
    _actor: Actor,
    fn: (c: AlarmCase, at: number) => CaseChange,
  ): Promise<AlarmCase> {
    const at = this.deps.clock();
    const result = await this.deps.cases.update(caseId, (c) => fn(c, at));
    if (result === 'missing' || result === undefined)
      throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'case', id: caseId });
    this.#ring(result);
    return effective(result.case, at);
  }

  // ── reads ──────────────────────────────────────────────────────────────────────────────────

  async get(caseId: string): Promise<AlarmCase | undefined> {
    const c = await this.deps.cases.get(caseId);
    return c && effective(c, this.deps.clock());
  }

  /** CaseReader: the escalation engine checks a step's condition against the case as it is now. */
  getCase(id: string): Promise<AlarmCase | undefined> {
    return this.get(id);
  }

  async list(scope: string, filter: CaseFilter): Promise<AlarmCase[]> {
    const now = this.deps.clock();
    return (await this.deps.cases.list(scope, filter)).map((c) => effective(c, now));
  }

  /** The live board (AlarmCaseStore.board), cases as they are now (shelving lapsed). */
  async board(scope: string, filter: BoardFilter): Promise<Board> {
    const now = this.deps.clock();
    const board = await this.deps.cases.board(scope, filter);
    return { items: board.items.map((c) => effective(c, now)), truncated: board.truncated };
  }

  audit(caseId: string): Promise<AuditEntry[]> {
    return this.deps.cases.audit(caseId);
  }

  photo(caseId: string): Promise<string | undefined> {
    return this.deps.cases.photo(caseId);
  }

  // ── the case-event log ─────────────────────────────────────────────────────────────────────

  /** Log entries after `after` (console push: changes since it last looked). */
  readEvents(after: number, limit: number): Promise<CaseLogEntry[]> {
    return this.deps.cases.readEvents(after, limit);
  }

  lastEventSeq(): Promise<number> {
    return this.deps.cases.lastEventSeq();
  }

  /** After the commit: the readers of this instance look now. A failing listener changes nothing. */
  #ring(change: CaseChange): void {
    if (change.events.length === 0) return;
    for (const bell of this.#bells)
      try {
        bell();
      } catch (error) {
        this.deps.log.error({ err: error, case: change.case.id }, 'case log doorbell failed');
      }
  }
}
