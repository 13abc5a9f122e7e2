/**
 * The alarm lifecycle: turns the edge's alarm transitions into cases, lets people act on them
 * (every action audited with who, when, from where and what changed), lets the escalation engine
 * move them to 提醒 / 督办 (StageMover), and tells the escalation engine what happened
 * (CaseEventSink). Decisions are the pure functions of model.ts, run inside the case store's
 * transactions.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { type AlarmTransition, DoorstepError, type SitePath } from '../../protocol/index.js';
import type { CloudStore } from '../store/port.js';
import type { AlarmCase, CaseEvent, CaseEventSink, CaseReader, Person, StageMover } from './contract.js';
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
  SYSTEM,
  shelveCase,
  stageCase,
  type TransitionContext,
  unshelveCase,
} from './model.js';
import type { AlarmCaseStore, Board, BoardFilter, CaseFilter, CommandResult } from './store/port.js';

export interface LifecycleDeps {
  cases: AlarmCaseStore;
  /** The registry: gateway sites and device location labels. */
  store: Pick<CloudStore, 'getGateway' | 'listDevices'>;
  clock: () => number;
  log: Logger;
  /** The escalation engine; until it is wired, events go nowhere. */
  sink?: CaseEventSink;
  newId?: () => string;
}

/** What ingest knows about a batch's transitions: their gateway's site and the applied offset. */
export interface TransitionMeta {
  site?: SitePath;
  offsetMs?: number;
}

export const NO_SINK: CaseEventSink = { onCaseEvent: async () => {} };

export class LifecycleService implements StageMover, CaseReader {
  #sink: CaseEventSink;
  readonly #newId: () => string;

  constructor(private readonly deps: LifecycleDeps) {
    this.#sink = deps.sink ?? NO_SINK;
    this.#newId = deps.newId ?? randomUUID;
  }

  /** Wires the escalation engine (it needs this service as its StageMover, hence not in the constructor). */
  connect(sink: CaseEventSink): void {
    this.#sink = sink;
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
      applied.push(change);
      await this.#emit(change, ctx.now);
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
    if (result) await this.#emit(result, at, SYSTEM);
  }

  // ── from people ────────────────────────────────────────────────────────────────────────────

  ack(caseId: string, actor: Actor): Promise<AlarmCase> {
    return this.#act(caseId, actor, (c, at) => ackCase(c, actor, at, this.#newId()));
  }

  feedback(caseId: string, actor: Actor, input: FeedbackInput): Promise<AlarmCase> {
    return this.#act(caseId, actor, (c, at) => feedbackCase(c, actor, at, input));
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

  async #act(caseId: string, actor: Actor, fn: (c: AlarmCase, at: number) => CaseChange): Promise<AlarmCase> {
    const at = this.deps.clock();
    const result = await this.deps.cases.update(caseId, (c) => fn(c, at));
    if (result === 'missing' || result === undefined)
      throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'case', id: caseId });
    await this.#emit(result, at, { id: actor.id, name: actor.name });
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

  /**
   * After the commit: tell the escalation engine. Suppressed cases (walk tests) are never passed
   * on, so they can never escalate. A failing sink is logged and never undoes the change: the
   * case (with its audit trail) is the record, readable through getCase.
   */
  async #emit(change: CaseChange, at: number, by?: Person): Promise<void> {
    if (change.case.suppressed) return;
    for (const kind of change.events) {
      const event: CaseEvent = { kind, case: change.case, at, ...(by ? { by } : {}) };
      try {
        await this.#sink.onCaseEvent(event);
      } catch (error) {
        this.deps.log.error({ err: error, case: change.case.id, kind }, 'case event sink failed');
      }
    }
  }
}
