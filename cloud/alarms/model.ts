/**
 * The case model as pure functions: what a transition from the edge or an action by a person does
 * to a case, and when it is refused. No I/O here: the stores run these inside their transactions
 * (so the decision and the write are atomic), the lifecycle service wires them to people and
 * gateways.
 *
 * Standards: ISA-18.2 / IEC 62682 alarm states (condition × acknowledgement, shelving, suppressed
 * by design, out of service, latched alarms needing a reset); OPC UA Part 9 §5.7.4 Confirm
 * ("corrective action taken") is our 反馈 (feedback).
 */
import { type AlarmTransition, DoorstepError, type SitePath } from '../../protocol/index.js';
import type { AlarmCase, CaseEventKind, FeedbackCause, Occurrence, Person, Stage } from './contract.js';
import { STAGES } from './contract.js';

/** Who did something to a case, and from where (audit trail). */
export interface Actor extends Person {
  kind: 'user' | 'system' | 'gateway';
  ip?: string;
  userAgent?: string;
}

export const SYSTEM: Actor = { kind: 'system', id: 'system', name: 'system' };

export type AuditAction =
  | CaseEventKind
  | 'ack'
  | 'close'
  | 'shelve'
  | 'unshelve'
  | 'reset_requested'
  | 'silence_requested'
  | 'command_result'
  /** The case's page was opened through an action link in a message (cloud/phone). */
  | 'viewed'
  | 'return_to_service';

/** One line of a case's audit trail: who, when, from where, what changed (before/after). */
export interface AuditEntry {
  /** Order within the store (assigned on insert). */
  seq?: number;
  caseId: string;
  at: number;
  action: AuditAction;
  actor: Actor;
  /** The fields that changed, as they were and as they became. */
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  /** Anything else worth keeping: reason, command id and result, transition id and state. */
  detail?: Record<string, unknown>;
}

/** A downlink command to enqueue in the same transaction as the case change that asked for it. */
export interface QueuedCommand {
  gateway: string;
  command: import('../../protocol/index.js').DownlinkCommand;
}

/** What one change does: the case after it, its audit entries, events, commands, a photo to keep. */
export interface CaseChange {
  case: AlarmCase;
  audit: AuditEntry[];
  events: CaseEventKind[];
  commands?: QueuedCommand[];
  /** A feedback photo (data URL), stored apart from the case row. */
  photo?: string;
}

export const STAGE_RANK: Record<Stage, number> = Object.fromEntries(STAGES.map((s, i) => [s, i])) as Record<
  Stage,
  number
>;

export const isOpen = (c: AlarmCase) => c.stage !== 'closed';

/** Shelving and out-of-service lapse at their `until`; views and decisions use this. */
export function effective(c: AlarmCase, now: number): AlarmCase {
  const out = { ...c };
  if (out.shelved && out.shelved.until <= now) delete out.shelved;
  if (out.outOfService?.until !== undefined && out.outOfService.until <= now) delete out.outOfService;
  return out;
}

/** The fields that differ between two versions of a case, for the audit trail. */
export function diff(before: AlarmCase | undefined, after: AlarmCase): Pick<AuditEntry, 'before' | 'after'> {
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  for (const key of keys) {
    if (key === 'updatedAt') continue;
    const x = (before as unknown as Record<string, unknown> | undefined)?.[key];
    const y = (after as unknown as Record<string, unknown>)[key];
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    if (x !== undefined) b[key] = x;
    if (y !== undefined) a[key] = y;
  }
  return before ? { before: b, after: a } : { after: a };
}

export function dedupKeyOf(t: Pick<AlarmTransition, 'gateway' | 'device' | 'type'>): string {
  return `${t.gateway}/${t.device}/${t.type}`;
}

export interface TransitionContext {
  site: SitePath;
  location?: string;
  /** Gateway − cloud clock offset applied to the transition's `ts` (cloud/README.md, offset rule). */
  offsetMs: number;
  /** Cloud clock now. */
  now: number;
}

const gatewayActor = (gateway: string): Actor => ({ kind: 'gateway', id: gateway, name: gateway });

/** Condition after a cleared/reset transition; a raise never changes an existing case's condition. */
function applyCondition(c: AlarmCase, t: AlarmTransition, cloudTs: number): CaseEventKind | undefined {
  if (t.state === 'cleared') {
    c.clearedAt = cloudTs;
    // A reset that overtook its clear (reordered batches) already settled the condition.
    if (c.resetAt !== undefined) return undefined;
    // ISA-18.2 latched alarm: cleared but held until an explicit reset.
    c.condition = c.latched ? 'latched' : 'cleared';
    return c.condition === 'latched' ? 'latched' : 'cleared';
  }
  if (t.state === 'reset') {
    c.resetAt = cloudTs;
    c.clearedAt ??= cloudTs;
    c.condition = 'cleared';
    return 'reset';
  }
  return undefined;
}

/**
 * Occurrences kept in the case itself, the newest: a point failing every hour for a week is 168;
 * a chattering one is routed to maintenance by the edge (ISA-18.2: ≥ 3 activations in 1 min). The
 * count stays exact and the audit trail keeps every occurrence.
 */
export const MAX_OCCURRENCE_HISTORY = 100;

function occurrenceOf(t: AlarmTransition, cloudTs: number, now: number): Occurrence {
  const o: Occurrence = { alarm: t.id, receivedAt: now };
  if (t.state === 'raised') o.raisedAt = cloudTs;
  if (t.state === 'cleared') o.clearedAt = cloudTs;
  if (t.state === 'reset') o.resetAt = o.clearedAt = cloudTs;
  if (t.value !== undefined) o.value = t.value;
  return o;
}

/** The occurrences of a case, for one stored before they were kept (its own alarm only). */
function historyOf(c: AlarmCase): Occurrence[] {
  if (c.occurrences) return c.occurrences.map((o) => ({ ...o }));
  return [
    {
      alarm: c.id,
      raisedAt: c.raisedAt,
      receivedAt: c.receivedAt ?? Math.min(c.raisedAt, c.updatedAt),
      ...(c.clearedAt !== undefined ? { clearedAt: c.clearedAt } : {}),
      ...(c.resetAt !== undefined ? { resetAt: c.resetAt } : {}),
      ...(c.value !== undefined ? { value: c.value } : {}),
    },
  ];
}

/**
 * A new case from the first transition seen of a condition with no open case (normally `raised`;
 * a `cleared` or `reset` that overtook its raise creates the case too, so nothing is lost to
 * reordering). `latest` is the newest earlier case of the condition (closed): its shelving and
 * out-of-service still in force carry over — they apply to the condition, not to one case
 * (ISA-18.2 shelves a point, takes a point out of service).
 */
export function planNewCase(t: AlarmTransition, ctx: TransitionContext, latest?: AlarmCase): CaseChange {
  const cloudTs = t.ts - ctx.offsetMs;
  const carried = latest && latest.test === t.test ? effective(latest, ctx.now) : undefined;
  const c: AlarmCase = {
    id: t.id,
    gateway: t.gateway,
    site: ctx.site,
    device: t.device,
    ...(ctx.location ? { location: ctx.location } : {}),
    type: t.type,
    severity: t.severity,
    test: t.test,
    latched: t.latched,
    dedupKey: dedupKeyOf(t),
    occurrence: 1,
    occurrences: [occurrenceOf(t, cloudTs, ctx.now)],
    condition: 'active',
    acked: false,
    ...(carried?.shelved ? { shelved: { ...carried.shelved } } : {}),
    // Walk-test alarms are suppressed by design (ISA-18.2): shown, never escalated.
    suppressed: t.test,
    ...(carried?.outOfService ? { outOfService: { ...carried.outOfService } } : {}),
    stage: 'warn',
    raisedAt: cloudTs,
    receivedAt: ctx.now,
    updatedAt: ctx.now,
    ...(t.value !== undefined ? { value: t.value } : {}),
    ...(t.message ? { message: t.message } : {}),
  };
  const events: CaseEventKind[] = ['raised'];
  const later = applyCondition(c, t, cloudTs);
  if (later) events.push(later);
  const actor = gatewayActor(t.gateway);
  const inherited = [carried?.shelved && 'shelved', carried?.outOfService && 'outOfService'].filter(Boolean);
  return {
    case: c,
    events,
    audit: [
      {
        caseId: c.id,
        at: ctx.now,
        action: 'raised',
        actor,
        ...diff(undefined, c),
        detail: {
          transition: t.state,
          ts: t.ts,
          offsetMs: ctx.offsetMs,
          ...(inherited.length > 0 && latest ? { inherited: inherited.join(','), from: latest.id } : {}),
        },
      },
    ],
  };
}

/**
 * A new alarm id of a condition whose case is still open: the same case, one more occurrence
 * (issue: "a case that occurs again while open is the same case with a higher count, not a new
 * row"). The condition is active again and, as for any new activation in ISA-18.2, needs
 * acknowledging again (the earlier acknowledgement stays in the audit trail). The stage and every
 * escalation clock go on: a re-occurrence is not activity, so a device that keeps failing and
 * recovering is still red-lit after 7 days without anyone acting (idleSince).
 */
export function planReoccurrence(open: AlarmCase, t: AlarmTransition, ctx: TransitionContext): CaseChange {
  const cloudTs = t.ts - ctx.offsetMs;
  const history = [...historyOf(open), occurrenceOf(t, cloudTs, ctx.now)].slice(-MAX_OCCURRENCE_HISTORY);
  const { clearedAt: _c, resetAt: _r, ackedBy: _b, ackedAt: _a, ...rest } = open;
  const c: AlarmCase = {
    ...rest,
    occurrence: open.occurrence + 1,
    occurrences: history,
    condition: 'active',
    acked: false,
    updatedAt: ctx.now,
    ...(t.value !== undefined ? { value: t.value } : {}),
    ...(t.message ? { message: t.message } : {}),
  };
  const events: CaseEventKind[] = ['retriggered'];
  const later = applyCondition(c, t, cloudTs);
  if (later) events.push(later);
  return {
    case: c,
    events,
    audit: [
      {
        caseId: c.id,
        at: ctx.now,
        action: 'retriggered',
        actor: gatewayActor(t.gateway),
        ...diff(open, c),
        detail: {
          alarm: t.id,
          occurrence: c.occurrence,
          transition: t.state,
          ts: t.ts,
          offsetMs: ctx.offsetMs,
        },
      },
    ],
  };
}

/**
 * A later transition of a known alarm id (the case's own, or one of its occurrences); undefined
 * when it changes nothing. Only the newest occurrence moves the case's condition: the clear of an
 * older one that arrives late is kept in its history entry only.
 */
export function planTransition(
  current: AlarmCase,
  t: AlarmTransition,
  ctx: TransitionContext,
): CaseChange | undefined {
  const cloudTs = t.ts - ctx.offsetMs;
  const c: AlarmCase = { ...current, updatedAt: ctx.now };
  const history = historyOf(current);
  const index = history.findIndex((o) => o.alarm === t.id);
  const entry = history[index];
  const newest = index === history.length - 1 || (index < 0 && t.id === current.id && !current.occurrences);
  let event: CaseEventKind | undefined;
  if (t.state === 'raised') {
    // The raise arrived after its clear (reordered batches): keep the condition, fix the time.
    let changed = false;
    if (entry && (entry.raisedAt === undefined || cloudTs < entry.raisedAt)) {
      entry.raisedAt = cloudTs;
      changed = true;
    }
    if (t.id === current.id && cloudTs < c.raisedAt) {
      c.raisedAt = cloudTs;
      changed = true;
    }
    if (!changed) return undefined;
  } else {
    if (entry) {
      if (t.state === 'cleared') entry.clearedAt = cloudTs;
      else {
        entry.resetAt = cloudTs;
        entry.clearedAt ??= cloudTs;
      }
    }
    if (newest) event = applyCondition(c, t, cloudTs);
  }
  if (current.occurrences) c.occurrences = history;
  return {
    case: c,
    events: event ? [event] : [],
    audit: [
      {
        caseId: c.id,
        at: ctx.now,
        action: event ?? t.state,
        actor: gatewayActor(t.gateway),
        ...diff(current, c),
        detail: {
          transition: t.state,
          ts: t.ts,
          offsetMs: ctx.offsetMs,
          ...(t.id !== current.id ? { alarm: t.id } : {}),
        },
      },
    ],
  };
}

/**
 * Where the red light's clock starts (浦东i党建: 7 days without activity on a case; docs/standards.md):
 * the last acknowledgement, feedback or reset request by a person, or the case's first receipt.
 * Re-occurrences and system stage moves are not activity.
 */
export function idleSince(c: AlarmCase): number {
  return c.lastActivityAt ?? c.receivedAt ?? Math.min(c.raisedAt, c.updatedAt);
}

/**
 * Shelving or out of service ended (by hand or at its end time): is the case announced again?
 * ISA-18.2: yes while the condition is still active (or latched), or while nobody has
 * acknowledged it; never a closed case.
 */
export function reannounce(c: AlarmCase): boolean {
  return isOpen(c) && (c.condition !== 'cleared' || !c.acked);
}

/** When a case that nobody touches is red-lit: `afterMs` of idleness after idleSince. */
export function idleDue(c: AlarmCase, afterMs: number): number {
  return idleSince(c) + afterMs;
}

// ── actions by people ────────────────────────────────────────────────────────────────────────

export function refuse(id: string, action: string, reasons: string[], unmet?: string[]): DoorstepError {
  return new DoorstepError('CLOUD_ERR_CASE_STATE', {
    id,
    action,
    reason: reasons.join('; '),
    ...(unmet ? { unmet: unmet.join(',') } : {}),
  });
}

function openOrRefuse(c: AlarmCase, action: string): void {
  if (!isOpen(c)) throw refuse(c.id, action, ['the case is closed (办结)'], ['closed']);
}

const person = (a: Actor): Person => ({ id: a.id, name: a.name });

function change(
  before: AlarmCase,
  after: AlarmCase,
  action: AuditAction,
  actor: Actor,
  at: number,
  events: CaseEventKind[],
  detail?: Record<string, unknown>,
): CaseChange {
  after.updatedAt = at;
  return {
    case: after,
    events,
    audit: [{ caseId: after.id, at, action, actor, ...diff(before, after), ...(detail ? { detail } : {}) }],
  };
}

/** Acknowledge; the gateway gets an `ack` command so it silences its local siren. */
export function ackCase(c: AlarmCase, actor: Actor, at: number, commandId: string): CaseChange {
  openOrRefuse(c, 'acknowledged');
  if (c.acked) throw refuse(c.id, 'acknowledged', [`already acknowledged by ${c.ackedBy?.name ?? '?'}`]);
  const out = change(
    c,
    { ...c, acked: true, ackedBy: person(actor), ackedAt: at, lastActivityAt: at },
    'ack',
    actor,
    at,
    ['acked'],
    {
      command: commandId,
    },
  );
  return { ...out, commands: [{ gateway: c.gateway, command: downlink(c, 'ack', actor, at, commandId) }] };
}

function downlink(
  c: AlarmCase,
  kind: 'ack' | 'reset' | 'silence',
  actor: Actor,
  at: number,
  id: string,
): QueuedCommand['command'] {
  return {
    id,
    kind,
    device: c.device,
    type: c.type,
    alarm: c.id,
    by: actor.name.slice(0, 120),
    issuedAt: at,
  };
}

/**
 * Someone opened the case through an action link: only the audit trail changes (who looked, and
 * when, is part of "every call answered"). A closed case is refused: its links no longer work.
 */
export function viewCase(
  c: AlarmCase,
  actor: Actor,
  at: number,
  detail: Record<string, unknown>,
): CaseChange {
  openOrRefuse(c, 'viewed');
  return { case: c, events: [], audit: [{ caseId: c.id, at, action: 'viewed', actor, detail }] };
}

export interface FeedbackInput {
  cause: FeedbackCause;
  note: string;
  /** A data URL; stored apart from the case, the case keeps a reference. */
  photo?: string;
}

/** OPC UA Part 9 Confirm: the person records the cause and what was done (→ 反馈). */
export function feedbackCase(c: AlarmCase, actor: Actor, at: number, input: FeedbackInput): CaseChange {
  openOrRefuse(c, 'given feedback');
  const feedback: NonNullable<AlarmCase['feedback']> = {
    cause: input.cause,
    note: input.note,
    ...(input.photo ? { photo: `/v1/cases/${encodeURIComponent(c.id)}/photo` } : {}),
    by: person(actor),
    at,
  };
  const out = change(c, { ...c, feedback, stage: 'feedback', lastActivityAt: at }, 'feedback', actor, at, [
    'feedback',
  ]);
  return input.photo ? { ...out, photo: input.photo } : out;
}

/**
 * docs/architecture.md invariant 9: nothing reaches 办结 without a recorded cause and a person. Every unmet
 * precondition is named (codes in `unmet`) so the console can say what to do next.
 */
export function closePreconditions(c: AlarmCase): { codes: string[]; reasons: string[] } {
  const codes: string[] = [];
  const reasons: string[] = [];
  if (c.condition === 'active') {
    codes.push('condition_active');
    reasons.push('the alarm condition is still active (wait for it to clear)');
  } else if (c.condition === 'latched') {
    codes.push('condition_latched');
    reasons.push('the alarm is latched: reset it first (POST …/reset)');
  }
  if (!c.acked) {
    codes.push('not_acknowledged');
    reasons.push('nobody acknowledged it');
  }
  if (!c.feedback) {
    codes.push('no_feedback');
    reasons.push('no feedback (cause and note) was recorded');
  }
  return { codes, reasons };
}

export function closeCase(c: AlarmCase, actor: Actor, at: number): CaseChange {
  openOrRefuse(c, 'closed');
  const { codes, reasons } = closePreconditions(c);
  if (codes.length > 0) throw refuse(c.id, 'closed', reasons, codes);
  return change(c, { ...c, stage: 'closed', closedBy: person(actor), closedAt: at }, 'close', actor, at, [
    'closed',
  ]);
}

/** ISA-18.2 shelving: operator only, time-limited (here ≤ 24 h), with a reason. */
export const MAX_SHELVE_MS = 24 * 3600_000;

export function shelveCase(
  c: AlarmCase,
  actor: Actor,
  at: number,
  reason: string,
  until: number,
): CaseChange {
  openOrRefuse(c, 'shelved');
  if (effective(c, at).shelved) throw refuse(c.id, 'shelved', ['it is already shelved (unshelve it first)']);
  return change(
    c,
    { ...c, shelved: { until, by: person(actor), reason } },
    'shelve',
    actor,
    at,
    ['shelved'],
    {
      reason,
    },
  );
}

export function unshelveCase(c: AlarmCase, actor: Actor, at: number): CaseChange {
  if (!effective(c, at).shelved) throw refuse(c.id, 'unshelved', ['it is not shelved']);
  const { shelved: _drop, ...rest } = c;
  return change(c, rest, 'unshelve', actor, at, ['unshelved']);
}

export function outOfServiceCase(
  c: AlarmCase,
  actor: Actor,
  at: number,
  reason: string,
  until: number | undefined,
): CaseChange {
  openOrRefuse(c, 'taken out of service');
  const outOfService = { by: person(actor), reason, ...(until !== undefined ? { until } : {}) };
  return change(c, { ...c, outOfService }, 'out_of_service', actor, at, ['out_of_service'], { reason });
}

/**
 * ISA-18.2 return to service: the maintenance is over, the point annunciates again — an alarm
 * still active is announced again (the escalation engine restarts its policy).
 */
export function returnToServiceCase(c: AlarmCase, actor: Actor, at: number): CaseChange {
  openOrRefuse(c, 'returned to service');
  if (!effective(c, at).outOfService) throw refuse(c.id, 'returned to service', ['it is not out of service']);
  const { outOfService: _drop, ...rest } = c;
  return change(c, rest, 'return_to_service', actor, at, ['returned_to_service']);
}

/** Reset and silence change nothing on the condition: the gateway acts, and its transitions follow. */
export function requestCase(
  c: AlarmCase,
  actor: Actor,
  at: number,
  kind: 'reset' | 'silence',
  commandId: string,
): CaseChange {
  const verb = kind === 'reset' ? 'reset' : 'silenced';
  openOrRefuse(c, verb);
  if (kind === 'reset') {
    if (!c.latched) throw refuse(c.id, verb, ['it is not a latched alarm: it clears by itself']);
    if (c.resetAt !== undefined) throw refuse(c.id, verb, ['it was already reset']);
  }
  // A reset asked for is progress on the case (the red light's clock restarts); a silence is not.
  const after = kind === 'reset' ? { ...c, lastActivityAt: at, updatedAt: at } : c;
  return {
    case: after,
    events: [],
    audit: [
      {
        caseId: c.id,
        at,
        action: kind === 'reset' ? 'reset_requested' : 'silence_requested',
        actor,
        detail: { command: commandId },
      },
    ],
    commands: [{ gateway: c.gateway, command: downlink(c, kind, actor, at, commandId) }],
  };
}

/**
 * The escalation engine's move to 提醒 / 督办: never backwards, never on a closed case, never for a
 * suppressed, shelved or out-of-service case (ISA-18.2: those do not annunciate). Undefined = no-op.
 */
export function stageCase(
  c: AlarmCase,
  stage: 'remind' | 'supervise',
  reason: string,
  at: number,
): CaseChange | undefined {
  const now = effective(c, at);
  if (!isOpen(c) || c.suppressed || now.shelved || now.outOfService) return undefined;
  if (STAGE_RANK[c.stage] >= STAGE_RANK[stage]) return undefined;
  return change(c, { ...c, stage }, 'stage', SYSTEM, at, ['stage'], { reason });
}
