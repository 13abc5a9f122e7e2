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
import type { AlarmCase, CaseEventKind, FeedbackCause, Person, Stage } from './contract.js';
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
  | 'viewed';

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
 * A new case from the first transition seen of an alarm id (normally `raised`; a `cleared` or
 * `reset` that overtook its raise creates the case too, so nothing is lost to reordering).
 */
export function planNewCase(
  t: AlarmTransition,
  ctx: TransitionContext,
  occurrence: number,
  previousOpen: AlarmCase | undefined,
): CaseChange {
  const cloudTs = t.ts - ctx.offsetMs;
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
    occurrence,
    condition: 'active',
    acked: false,
    // Walk-test alarms are suppressed by design (ISA-18.2): shown, never escalated.
    suppressed: t.test,
    stage: 'warn',
    raisedAt: cloudTs,
    receivedAt: ctx.now,
    updatedAt: ctx.now,
    ...(t.value !== undefined ? { value: t.value } : {}),
    ...(t.message ? { message: t.message } : {}),
    ...(previousOpen ? { previousCase: previousOpen.id } : {}),
  };
  // GitLab's escalation design: a re-triggered alert restarts its policy.
  const first: CaseEventKind = previousOpen ? 'retriggered' : 'raised';
  const events: CaseEventKind[] = [first];
  const later = applyCondition(c, t, cloudTs);
  if (later) events.push(later);
  const actor = gatewayActor(t.gateway);
  return {
    case: c,
    events,
    audit: [
      {
        caseId: c.id,
        at: ctx.now,
        action: first,
        actor,
        ...diff(undefined, c),
        detail: { transition: t.state, ts: t.ts, offsetMs: ctx.offsetMs },
      },
    ],
  };
}

/** A later transition of a known alarm id; undefined when it changes nothing. */
export function planTransition(
  current: AlarmCase,
  t: AlarmTransition,
  ctx: TransitionContext,
): CaseChange | undefined {
  const cloudTs = t.ts - ctx.offsetMs;
  const c: AlarmCase = { ...current, updatedAt: ctx.now };
  let event: CaseEventKind | undefined;
  if (t.state === 'raised') {
    // The raise arrived after its clear (reordered batches): keep the condition, fix the time.
    if (cloudTs >= c.raisedAt) return undefined;
    c.raisedAt = cloudTs;
  } else event = applyCondition(c, t, cloudTs);
  return {
    case: c,
    events: event ? [event] : [],
    audit: [
      {
        caseId: c.id,
        at: ctx.now,
        action: event ?? 'raised',
        actor: gatewayActor(t.gateway),
        ...diff(current, c),
        detail: { transition: t.state, ts: t.ts, offsetMs: ctx.offsetMs },
      },
    ],
  };
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
    { ...c, acked: true, ackedBy: person(actor), ackedAt: at },
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
  const out = change(c, { ...c, feedback, stage: 'feedback' }, 'feedback', actor, at, ['feedback']);
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

/** Reset and silence change nothing on the case: the gateway acts, and its transitions follow. */
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
  return {
    case: c,
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
