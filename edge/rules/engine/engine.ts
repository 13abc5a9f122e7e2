/**
 * The rule engine: readings and link states in, AlarmTransitions out. One state machine per
 * (device, alarm type) is the single writer of that alarm (docs/architecture.md invariant 7). Every
 * condition, delay, schedule, confirmation, latch and chattering check is an operator's step
 * function (operators/) over plain per-series state, evaluated per reading batch; deadlines come
 * from the operators' `wakeAt` and share one timer on the injected scheduler.
 */
import { asyncScheduler, type Observable, type SchedulerLike, Subject, type Subscription } from 'rxjs';
import type { Logger } from '../../../common/log.js';
import type { AlarmTransition } from '../../../protocol/alarm.js';
import type { DeviceLinkState } from '../../../protocol/device.js';
import { DoorstepError } from '../../../protocol/errors.js';
import type { Reading } from '../../../protocol/reading.js';
import { CHATTERING_DEFAULTS, chatteringEndsAt } from '../operators/chattering.js';
import { isConfirmed } from '../operators/confirmed-by.js';
import { delayWakeAt } from '../operators/delay.js';
import { latchReset } from '../operators/latch-until-reset.js';
import { WakeQueue } from '../operators/step.js';
import type { DeviceRules } from '../resolve.js';
import { adoptState, buildDevice, freshState, wirePeers } from './build.js';
import { describeHealth, type RuleEngineHealth } from './health.js';
import { type AlarmIdFactory, createAlarmIdFactory } from './ids.js';
import { OccurrenceMachine } from './occurrence.js';
import {
  applyReading,
  type DeviceRuntime,
  isPeerActive,
  type RuleRuntime,
  tickSlot,
  timeSlotDue,
  withActiveSources,
} from './runtime.js';
import { MemoryRuleStateStore, type RuleState, type RuleStateStore, stateKey } from './state.js';
import { buildTransition } from './transition.js';

export interface RuleEngineOptions {
  gateway: string;
  /** Effective rules per device (resolveSiteRules). */
  devices: readonly DeviceRules[];
  store?: RuleStateStore;
  scheduler?: SchedulerLike;
  logger?: Logger;
  newId?: AlarmIdFactory;
  /** ISA-18.2 practice: ≥ 3 activations within 1 min is chattering. */
  chattering?: { count: number; windowMs: number };
}

export interface ResetResult {
  ok: boolean;
  error?: DoorstepError;
}

export class RuleEngine {
  readonly #gateway: string;
  readonly #store: RuleStateStore;
  readonly #scheduler: SchedulerLike;
  readonly #logger: Logger | undefined;
  readonly #chatter: { count: number; windowMs: number };
  readonly #transitions = new Subject<AlarmTransition>();
  readonly #walkTest = new Set<string>();
  readonly #dirty = new Set<RuleRuntime>();
  #deletions: { device: string; type: string }[] = [];
  /** Transitions decided but not yet committed with their rule state (retried until they are). */
  #unsaved: AlarmTransition[] = [];
  /** Transitions decided and not yet handed to subscribers. */
  #unannounced: AlarmTransition[] = [];
  #retryScheduled = false;
  #failedWrites = 0;
  #config: readonly DeviceRules[];
  #devices = new Map<string, DeviceRuntime>();
  #all: RuleRuntime[] = [];
  readonly #wakes: WakeQueue;
  readonly #machine: OccurrenceMachine;
  #started = false;
  #ignored = 0;
  readonly #single: Reading[] = [];
  /** Transitions of the batch being ingested, held until the whole poll cycle has been applied. */
  #batch: { rule: RuleRuntime; transition: AlarmTransition }[] | undefined;

  /** Every transition, synchronously as it happens. */
  readonly transitions: Observable<AlarmTransition> = this.#transitions.asObservable();

  constructor(options: RuleEngineOptions) {
    this.#gateway = options.gateway;
    this.#config = options.devices;
    this.#store = options.store ?? new MemoryRuleStateStore();
    this.#scheduler = options.scheduler ?? asyncScheduler;
    this.#logger = options.logger;
    this.#chatter = options.chattering ?? CHATTERING_DEFAULTS;
    this.#wakes = new WakeQueue(this.#scheduler, () => this.#flush());
    this.#machine = new OccurrenceMachine({
      newId: options.newId ?? createAlarmIdFactory(options.gateway),
      chattering: this.#chatter,
      isWalkTest: (device) => this.#walkTest.has(device),
      emit: (rule, state, ts, message) => this.#emit(rule, state, ts, message),
      changed: (rule) => this.#dirty.add(rule),
      chatteringChanged: (rule) => {
        this.#logger?.warn(
          { device: rule.device, type: rule.rule.type, chattering: rule.state.chattering },
          'chattering',
        );
        this.#evaluateMonitor(rule);
      },
      chatteringMessage: (device) => this.#chatteringMessage(device),
    });
  }

  /** Opens the store, restores persisted state, resumes timers. */
  start(): void {
    if (this.#started) return;
    this.#store.open();
    this.#started = true;
    const persisted = new Map(
      this.#store.loadAll().map((state) => [stateKey(state.device, state.type), state]),
    );
    this.#install(this.#config, persisted, new Map());
    this.#flush();
  }

  /** Cancels timers, writes pending state and closes the store. */
  stop(): void {
    if (!this.#started) return;
    this.#flush();
    this.#wakes.cancelAll();
    this.#store.close();
    this.#started = false;
  }

  /** Evaluates one batch of readings (one poll cycle); state is written once per batch. */
  ingest(readings: readonly Reading[]): void {
    if (!this.#started) return;
    const now = this.#scheduler.now();
    this.#batch = [];
    try {
      this.#apply(readings, now);
    } finally {
      this.#release();
    }
    this.#flush();
  }

  #apply(readings: readonly Reading[], now: number): void {
    for (const reading of readings) {
      const device = this.#devices.get(reading.device);
      if (device === undefined) {
        this.#ignored++;
        continue;
      }
      for (const { slot, rule } of device.anyPointSlots) {
        if (applyReading(slot, reading)) this.#evaluate(rule, reading.ts, now);
      }
      const entries = device.byPoint.get(reading.point);
      if (entries !== undefined) {
        for (const { slot, rule } of entries) {
          // The value sent with a transition is the rule's first point's (gas_low: the %LEL, not
          // the AL1 flag that joined it); another point's only until the first one has reported.
          if (reading.point === rule.state.point) {
            rule.value = reading.value;
            rule.primarySeen = true;
          } else if (!rule.primarySeen) rule.value = reading.value;
          if (applyReading(slot, reading)) this.#evaluate(rule, reading.ts, now);
        }
      }
      if (device.peerPoints.size > 0) this.#updatePeer(device, reading);
    }
  }

  /**
   * Hands the batch's transitions to #flush (committed with their rule state, then announced). A
   * `raised` still current at the end of the poll cycle carries every source and the value of that
   * cycle: a gas detector's AL1 bit and its %LEL arrive in one poll, whichever the profile decodes
   * first, and the alarm names both.
   */
  #release(): void {
    const batch = this.#batch ?? [];
    this.#batch = undefined;
    batch.forEach(({ rule, transition }, index) => {
      const last = !batch.some((later, j) => j > index && later.transition.id === transition.id);
      if (transition.state === 'raised' && last && rule.state.id === transition.id) {
        if (rule.state.sources !== undefined) transition.sources = [...rule.state.sources];
        if (rule.value !== undefined) transition.value = rule.value;
      }
      this.#decide(transition);
    });
  }

  setLinkState(link: DeviceLinkState): void {
    const device = this.#devices.get(link.device);
    if (!this.#started || device === undefined) return;
    const now = this.#scheduler.now();
    const offline = link.state === 'offline';
    for (const { slot, rule } of device.linkSlots) {
      if (slot.active === offline) continue;
      slot.active = offline;
      this.#evaluate(rule, link.since, now);
    }
    this.#flush();
  }

  /** Feeds the engine from streams; emit arrays (one per poll cycle) where you can. */
  connect(
    readings$: Observable<Reading | readonly Reading[]>,
    links$?: Observable<DeviceLinkState>,
  ): Subscription {
    const subscription = readings$.subscribe((item) => {
      if (Array.isArray(item)) this.ingest(item as readonly Reading[]);
      else {
        this.#single[0] = item as Reading;
        this.ingest(this.#single);
      }
    });
    if (links$) subscription.add(links$.subscribe((link) => this.setLinkState(link)));
    return subscription;
  }

  /** Resets a latched alarm whose condition has ended (ISA-18.2 latched alarms need a person). */
  reset(device: string, type: string, by: string): ResetResult {
    const rule = this.#devices.get(device)?.rules.find((candidate) => candidate.rule.type === type);
    const refuse = (reason: string): ResetResult => ({
      ok: false,
      error: new DoorstepError('EDGE_ERR_RULE_RESET', { device, type, reason }),
    });
    if (rule === undefined) return refuse('no such rule on this gateway');
    const state = rule.state;
    if (state.phase !== 'latched') {
      return refuse(
        state.phase === 'active' || state.phase === 'clearing'
          ? 'the condition is still active'
          : 'the alarm is not latched',
      );
    }
    // The latch operator's rule: a reset while the condition is active is refused.
    if (!latchReset({ condition: state.raw, latched: true, out: true }))
      return refuse('the condition is active again');
    const now = this.#scheduler.now();
    this.#emit(rule, 'reset', now, `reset by ${by}`);
    this.#machine.toNormal(rule, now);
    this.#flush();
    return { ok: true };
  }

  /** Walk-test mode: transitions raised meanwhile carry `test: true` (never escalated as real). */
  setWalkTest(device: string, on: boolean): void {
    if (on && this.#devices.has(device)) this.#walkTest.add(device);
    else this.#walkTest.delete(device);
  }

  /** Config reload: unchanged (device, type) pairs keep all state; changed ones keep their occurrence. */
  replaceRules(devices: readonly DeviceRules[]): void {
    this.#config = devices;
    if (!this.#started) return;
    const previous = new Map<string, RuleState>();
    const runtimes = new Map<string, RuleRuntime>();
    for (const rule of this.#all) {
      previous.set(stateKey(rule.device, rule.rule.type), rule.state);
      runtimes.set(stateKey(rule.device, rule.rule.type), rule);
    }
    this.#install(devices, previous, runtimes);
    for (const device of this.#walkTest) if (!this.#devices.has(device)) this.#walkTest.delete(device);
    this.#flush();
  }

  health(): RuleEngineHealth {
    return describeHealth(this.#all, this.#devices.size, this.#ignored, this.#walkTest);
  }

  #install(
    config: readonly DeviceRules[],
    previous: Map<string, RuleState>,
    runtimes: Map<string, RuleRuntime>,
  ): void {
    const now = this.#scheduler.now();
    const devices = new Map<string, DeviceRuntime>();
    for (const entry of config) devices.set(entry.device, buildDevice(entry, now, runtimes));
    wirePeers(devices, this.#devices);
    const all: RuleRuntime[] = [];
    for (const device of devices.values()) all.push(...device.rules, device.monitor);
    const kept = new Set<string>();
    for (const rule of all) {
      const key = stateKey(rule.device, rule.rule.type);
      kept.add(key);
      const before = previous.get(key);
      if (runtimes.get(key) !== rule) {
        rule.state = before ? adoptState(rule, before, now) : freshState(rule, now);
        this.#dirty.add(rule);
      }
    }
    for (const [key, state] of previous) if (!kept.has(key)) this.#retire(state, now);
    this.#devices = devices;
    this.#all = all;
    for (const rule of all) this.#evaluate(rule, now, now);
  }

  #monitorRule(rule: RuleRuntime): boolean {
    return this.#devices.get(rule.device)?.rules.some((other) => other.state.chattering) ?? false;
  }

  /** A removed rule's open occurrence is closed so the cloud is not left with a dangling alarm. */
  #retire(state: RuleState, now: number): void {
    const source = { ...state, value: undefined, state };
    const message = 'rule removed from configuration';
    const open = state.phase === 'active' || state.phase === 'clearing';
    if (open) this.#decide(buildTransition(this.#gateway, source, 'cleared', now, message));
    if (state.latched && (open || state.phase === 'latched')) {
      this.#decide(buildTransition(this.#gateway, source, 'reset', now, message));
    }
    this.#deletions.push({ device: state.device, type: state.type });
  }

  #updatePeer(device: DeviceRuntime, reading: Reading): void {
    const tracked = device.peerPoints.get(reading.point);
    if (tracked === undefined || reading.quality === 'bad') return;
    const active = isPeerActive(reading.value);
    if (active === tracked.point.active) return;
    tracked.point.active = active;
    if (active) tracked.point.since = reading.ts;
    const now = this.#scheduler.now();
    for (const rule of tracked.dependents) this.#evaluate(rule, reading.ts, now);
  }

  /** Recomputes a rule's condition at `eventTs` and steps its alarm state machine. */
  #evaluate(rule: RuleRuntime, eventTs: number, now: number): void {
    const state = rule.state;
    let changeTs = eventTs;
    let bits = 0;
    let raw = false;
    if (rule.monitor) raw = this.#monitorRule(rule);
    for (const slot of rule.slots) {
      if (slot.timed) {
        const became = tickSlot(slot, now);
        if (became !== undefined) changeTs = Math.min(changeTs, became);
      }
      if (slot.active) {
        raw = true;
        bits |= 1 << slot.bit;
      }
    }
    if (bits !== state.conditionBits || raw !== state.raw) {
      if (raw !== state.raw) state.rawSince = changeTs;
      state.conditionBits = bits;
      state.raw = raw;
      this.#dirty.add(rule);
    }
    let condition = raw;
    const confirmWith = rule.rule.confirmWith;
    if (rule.schedule !== undefined) {
      rule.schedule.step(rule.scheduleState!, raw, eventTs);
      condition = rule.scheduleState!.out === true;
    }
    if (condition && confirmWith !== undefined) {
      condition = false;
      for (const peer of rule.peers) {
        if (isConfirmed(true, state.rawSince, peer.active, peer.since, confirmWith.withinMs))
          condition = true;
      }
    }
    this.#machine.step(rule, condition, changeTs, now);
    if (state.phase === 'active' || state.phase === 'clearing') {
      // A second source joining a raised alarm (the set point after the device's AL1, or the other
      // way round) is the same occurrence: it is recorded, never raised again (docs/architecture.md invariant 7).
      const sources = withActiveSources(rule.slots, state.sources);
      if (sources !== state.sources) {
        state.sources = sources === undefined ? undefined : [...sources];
        this.#dirty.add(rule);
      }
    }
    if (
      state.chattering &&
      chatteringEndsAt(state.raises, this.#chatter.count, this.#chatter.windowMs) <= now
    ) {
      state.chattering = false;
      this.#dirty.add(rule);
      this.#evaluateMonitor(rule);
    }
    this.#plan(rule);
  }

  #evaluateMonitor(rule: RuleRuntime): void {
    const monitor = this.#devices.get(rule.device)?.monitor;
    if (monitor !== undefined && monitor !== rule) {
      const now = this.#scheduler.now();
      this.#evaluate(monitor, now, now);
    }
  }

  #chatteringMessage(device: string): string {
    const types =
      this.#devices
        .get(device)
        ?.rules.filter((rule) => rule.state.chattering)
        .map((rule) => rule.rule.type) ?? [];
    return `chattering (≥ ${this.#chatter.count} activations in ${this.#chatter.windowMs / 1000} s): ${types.join(', ')}`.slice(
      0,
      256,
    );
  }

  #emit(rule: RuleRuntime, state: AlarmTransition['state'], ts: number, message?: string): void {
    const { type, severity, latched } = rule.rule;
    const source = {
      device: rule.device,
      type,
      severity,
      latched,
      message: rule.rule.message,
      state: rule.state,
      value: rule.value,
    };
    const transition = buildTransition(this.#gateway, source, state, ts, message);
    if (this.#batch !== undefined) this.#batch.push({ rule, transition });
    else this.#decide(transition);
  }

  /** A transition waits for #flush: committed with the state that decided it, then announced. */
  #decide(transition: AlarmTransition): void {
    this.#unsaved.push(transition);
    this.#unannounced.push(transition);
  }

  /** When must this rule be looked at again without a reading? */
  #plan(rule: RuleRuntime): void {
    const state = rule.state;
    let next = Number.POSITIVE_INFINITY;
    if (state.phase === 'normal' || state.phase === 'pending')
      next = delayWakeAt(state.on, rule.rule.onDelayMs, true);
    else if (state.phase === 'active' || state.phase === 'clearing')
      next = delayWakeAt(state.off, rule.rule.offDelayMs, false);
    for (const slot of rule.timeSlots) next = Math.min(next, timeSlotDue(slot));
    if (rule.schedule !== undefined) next = Math.min(next, rule.schedule.wakeAt(rule.scheduleState!));
    if (state.chattering)
      next = Math.min(next, chatteringEndsAt(state.raises, this.#chatter.count, this.#chatter.windowMs));
    rule.nextCheck = next;
    // A deadline that moved later (a stale watch refreshed by a reading) keeps its queue entry: it
    // fires, finds nothing due and queues the real one — no rescheduling per reading.
    if (next < rule.queued) {
      rule.queued = next;
      this.#wakes.at(next, () => this.#wake(rule));
    }
  }

  /** A rule's deadline came (the queue flushes once after every due rule has run). */
  #wake(rule: RuleRuntime): void {
    rule.queued = Number.POSITIVE_INFINITY;
    if (!this.#started || !this.#isLive(rule)) return;
    const now = this.#scheduler.now();
    if (rule.nextCheck <= now) this.#evaluate(rule, now, now);
    else this.#plan(rule);
  }

  /** Still a rule of the running configuration (not one replaced by a reload). */
  #isLive(rule: RuleRuntime): boolean {
    const device = this.#devices.get(rule.device);
    return device !== undefined && (device.monitor === rule || device.rules.includes(rule));
  }

  /**
   * Commits the batch's decision — changed rule states, deletions and the transitions they
   * decided — in one store transaction, then announces the transitions. If the store fails (a full
   * disk beyond the outbox's reserve) the transitions are announced anyway (a siren must not wait
   * for a disk) and the whole decision is retried every second until it is written.
   */
  #flush(): void {
    if (this.#dirty.size > 0 || this.#deletions.length > 0 || this.#unsaved.length > 0) {
      const rules = [...this.#dirty];
      this.#dirty.clear();
      const deletions = this.#deletions;
      this.#deletions = [];
      const transitions = this.#unsaved;
      this.#unsaved = [];
      try {
        this.#store.write(
          rules.map((rule) => rule.state),
          deletions,
          transitions,
        );
        if (this.#failedWrites > 0) {
          this.#logger?.warn(
            { failedWrites: this.#failedWrites, transitions: transitions.length },
            'rule state and alarms written after failed attempts',
          );
          this.#failedWrites = 0;
        }
      } catch (error) {
        for (const rule of rules) this.#dirty.add(rule);
        this.#deletions = [...deletions, ...this.#deletions];
        this.#unsaved = [...transitions, ...this.#unsaved];
        this.#failedWrites++;
        if (this.#failedWrites === 1 || this.#failedWrites % 60 === 0)
          this.#logger?.error(
            { err: error, unsaved: this.#unsaved.map((t) => `${t.device}/${t.type} ${t.state}`) },
            'rule state and alarms could not be written; retrying every second',
          );
        this.#scheduleRetry();
      }
    }
    const announce = this.#unannounced;
    this.#unannounced = [];
    for (const transition of announce) this.#transitions.next(transition);
  }

  #scheduleRetry(): void {
    if (this.#retryScheduled) return;
    this.#retryScheduled = true;
    this.#scheduler.schedule(() => {
      this.#retryScheduled = false;
      if (this.#started) this.#flush();
    }, WRITE_RETRY_MS);
  }

  /** Decisions not yet on disk (a full disk); health reports them. */
  get unsavedTransitions(): number {
    return this.#unsaved.length;
  }
}

/** Retry interval for a decision the store could not write. */
const WRITE_RETRY_MS = 1000;

export type { RuleEngineHealth };

export function createRuleEngine(options: RuleEngineOptions): RuleEngine {
  return new RuleEngine(options);
}
