/**
 * Test doubles and fixtures for cloud/escalation: a virtual clock that also plays the timers, a
 * recording Notifier (that does NOT deduplicate ids, so a double claim would show as a double
 * notification), a recording StageMover, a small directory with rosters, and case builders.
 */
import type {
  AlarmCase,
  CaseEvent,
  CaseEventKind,
  CaseReader,
  DeliveryOptions,
  DeliveryResult,
  NotificationRequest,
  Notifier,
  StageMover,
} from '../../../cloud/alarms/contract.js';
import type { CaseLogSource } from '../../../cloud/alarms/log-reader.js';
import { EscalationConfig, type EscalationConfigInput } from '../../../cloud/escalation/config.js';
import { EscalationEngine, type Timers } from '../../../cloud/escalation/engine.js';
import { effectivePolicies, type Policy } from '../../../cloud/escalation/policy.js';
import { DutyResolver } from '../../../cloud/escalation/roster.js';
import { MemoryEscalationStore } from '../../../cloud/escalation/store/memory.js';
import type { EscalationStore } from '../../../cloud/escalation/store/port.js';
import { parseLocal } from '../../../common/time.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
/** Monday 2 June 2025, 10:00 in Asia/Shanghai (02:00 UTC). */
export const T0 = parseLocal('2025-06-02T10:00');

export class VirtualTime implements Timers {
  #next = 1;
  readonly #intervals = new Map<number, { fn: () => void; ms: number; due: number }>();
  constructor(public now: number) {}
  clock = () => this.now;
  setInterval(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#intervals.set(id, { fn, ms, due: this.now + ms });
    return id;
  }
  clearInterval(handle: unknown): void {
    this.#intervals.delete(handle as number);
  }
  get timerCount(): number {
    return this.#intervals.size;
  }
  /**
   * Moves time to `t`, firing every interval on its way — all intervals due at one instant fire
   * together, so two engines' ticks really run concurrently — and letting the engines finish.
   */
  async advanceTo(t: number, engines: readonly EscalationEngine[]): Promise<void> {
    for (;;) {
      const timers = [...this.#intervals.values()];
      const due = Math.min(...timers.map((x) => x.due));
      if (timers.length === 0 || due > t) break;
      this.now = due;
      for (const x of timers.filter((y) => y.due === due)) {
        x.due += x.ms;
        x.fn();
      }
      await Promise.all(engines.map((e) => e.idle()));
    }
    this.now = t;
  }
  advance(ms: number, engines: readonly EscalationEngine[]): Promise<void> {
    return this.advanceTo(this.now + ms, engines);
  }
}

export interface Sent {
  at: number;
  request: NotificationRequest;
}

export class RecordingNotifier implements Notifier {
  readonly sent: Sent[] = [];
  /** Recipients whose every channel fails. */
  readonly failing = new Set<string>();
  /** When set, requests are recorded and then handed to it (a real notifier). */
  constructor(
    private readonly clock: () => number,
    private readonly inner?: Notifier,
  ) {}
  async deliver(request: NotificationRequest, options?: DeliveryOptions): Promise<DeliveryResult[]> {
    this.sent.push({ at: this.clock(), request: structuredClone(request) });
    if (this.inner) return this.inner.deliver(request, options);
    return request.recipients.flatMap((r) =>
      r.channels.map((ch) => ({
        recipient: r.id,
        channel: ch.kind,
        ok: !this.failing.has(r.id),
        attempts: 3,
      })),
    );
  }
  /** [at offset from t0 in minutes, stage, recipient ids, case ids] — a readable timeline. */
  timeline(t0: number): [number, string, string[], string[]][] {
    return this.sent.map((s) => [
      (s.at - t0) / MIN,
      s.request.stage,
      s.request.recipients.map((r) => r.id),
      s.request.cases.map((c) => c.id),
    ]);
  }
}

/**
 * Records stage moves and, like the lifecycle, answers each with a 'stage' CaseEvent carrying the
 * moved case (so the engine's snapshot follows, as it would in the wired cloud).
 */
export class RecordingStageMover implements StageMover {
  readonly moves: { caseId: string; stage: string; at: number }[] = [];
  sink?: { store: EscalationStore; engine: EscalationEngine };
  async setStage(caseId: string, stage: 'remind' | 'supervise', _reason: string, at: number): Promise<void> {
    this.moves.push({ caseId, stage, at });
    const state = await this.sink?.store.getCase(caseId);
    if (state && this.sink)
      await this.sink.engine.onCaseEvent({
        kind: 'stage',
        case: { ...state.snapshot, stage, updatedAt: at },
        at,
      });
  }
}

const mail = (who: string) => [{ kind: 'email' as const, address: `${who}@example.test` }];
const person = (id: string, site: string, roles: string[]) => ({
  id,
  name: id,
  site,
  roles,
  channels: mail(id),
});

export const DIRECTORY: EscalationConfigInput = {
  people: [
    person('wang', 'pudong/zhangjiang/lane-100', ['duty']),
    person('li', 'pudong/zhangjiang/lane-100', ['duty']),
    person('he', 'pudong/zhangjiang/lane-200', ['duty']),
    person('zhou', 'pudong/zhangjiang', ['duty']),
    person('qian', 'pudong/zhangjiang', ['duty']),
    person('chen', 'pudong/zhangjiang', ['lead']),
    person('ma', 'pudong/zhangjiang', ['maintenance']),
    person('sun', 'pudong', ['supervisor']),
    person('dd', 'pudong', ['duty']),
    person('zhao', 'pudong/zhangjiang/lane-100', ['duty']),
    // The community's 村居书记: told of a red light (7 days without activity).
    person('xu', 'pudong/zhangjiang/lane-100', ['village_head']),
  ],
  schedules: [
    {
      // A community station: staffed 08:00–20:00 on site, on call at night.
      id: 'lane-100',
      site: 'pudong/zhangjiang/lane-100',
      role: 'duty',
      layers: [
        {
          name: 'day',
          mode: 'on_site',
          hours: { from: '08:00', to: '20:00' },
          rotation: { members: ['wang'], start: '2025-06-02', handoff: '08:00', lengthDays: 1 },
        },
        {
          name: 'night',
          mode: 'on_call',
          hours: { from: '20:00', to: '08:00' },
          rotation: { members: ['li'], start: '2025-06-02', handoff: '20:00', lengthDays: 1 },
        },
      ],
      overrides: [{ person: 'zhao', from: '2025-06-10T12:00', to: '2025-06-10T14:00', layer: 'day' }],
    },
    {
      // A town sub-centre staffed 24 h, daily handoff at 08:00.
      id: 'zhangjiang',
      site: 'pudong/zhangjiang',
      role: 'duty',
      layers: [
        {
          name: 'desk',
          rotation: { members: ['zhou', 'qian'], start: '2025-06-02', handoff: '08:00', lengthDays: 1 },
        },
      ],
    },
  ],
};

export function directoryConfig(extra: Partial<EscalationConfigInput> = {}) {
  return EscalationConfig.parse({ ...DIRECTORY, ...extra });
}

let seq = 0;
export function makeCase(over: Partial<AlarmCase> & { community?: string } = {}): AlarmCase {
  const { community = 'lane-100', ...rest } = over;
  const id = rest.id ?? `case-${++seq}`;
  return {
    id,
    gateway: 'gw-1',
    site: { district: 'pudong', town: 'zhangjiang', community },
    device: `dev-${id}`,
    type: 'smoke',
    severity: 'critical',
    test: false,
    latched: true,
    dedupKey: `gw-1/dev-${id}/smoke`,
    occurrence: 1,
    condition: 'active',
    acked: false,
    suppressed: false,
    stage: 'warn',
    raisedAt: T0,
    updatedAt: T0,
    ...rest,
  };
}

export function event(kind: CaseEventKind, c: AlarmCase, at: number): CaseEvent {
  return { kind, case: { ...c, updatedAt: Math.max(c.updatedAt, at) }, at };
}

export interface Rig {
  time: VirtualTime;
  notifier: RecordingNotifier;
  stages: RecordingStageMover;
  store: EscalationStore;
  engine: EscalationEngine;
  duty: DutyResolver;
  /** Moves time and lets the engine's worker run on every tick. */
  advanceTo(t: number): Promise<void>;
  stop(): Promise<void>;
}

export async function rig(
  opts: {
    policies?: Policy[];
    config?: Partial<EscalationConfigInput>;
    store?: EscalationStore;
    tickMs?: number;
    start?: number;
    time?: VirtualTime;
    notifier?: RecordingNotifier;
    workerId?: string;
    deviceKind?: (c: AlarmCase) => Promise<string | undefined>;
    /** The case-event log to read (a case store); read with engine.readLog(). */
    events?: CaseLogSource;
    /** The real lifecycle (cloud/alarms) instead of the recording stage mover. */
    lifecycle?: StageMover & CaseReader;
  } = {},
): Promise<Rig> {
  const time = opts.time ?? new VirtualTime(opts.start ?? T0);
  const config = directoryConfig(opts.config ?? {});
  const notifier = opts.notifier ?? new RecordingNotifier(time.clock);
  const stages = new RecordingStageMover();
  const store = opts.store ?? new MemoryEscalationStore();
  const duty = new DutyResolver(config);
  const engine = new EscalationEngine({
    store,
    duty,
    policies: opts.policies ?? effectivePolicies(config.policies),
    notifier,
    stageMover: opts.lifecycle ?? stages,
    ...(opts.lifecycle ? { cases: opts.lifecycle } : {}),
    noise: config.noise,
    clock: time.clock,
    timers: time,
    tickMs: opts.tickMs ?? 500,
    ...(opts.workerId ? { workerId: opts.workerId } : {}),
    ...(opts.deviceKind ? { deviceKind: opts.deviceKind } : {}),
    // Read on demand (readLog) in these tests: the background poll waits longer than any test.
    ...(opts.events ? { events: opts.events, logPollMs: 3_600_000 } : {}),
  });
  stages.sink = { store, engine };
  await engine.start();
  return {
    time,
    notifier,
    stages,
    store,
    engine,
    duty,
    advanceTo: (t) => time.advanceTo(t, [engine]),
    stop: () => engine.stop(),
  };
}
