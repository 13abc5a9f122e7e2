/**
 * What the worker does with one claimed row: check the step's condition against the current case,
 * resolve the targets through the duty rosters at fire time, pass each recipient through the noise
 * gate, deliver (grouping rows of one community that fall due together), move the stage, count
 * delivery failures toward the fallback, and mark the row done with its follow-ups — the outcome
 * string is the audit trail ("skipped: acked", "grouped into …", "folded").
 */
import type { Logger } from '../../common/log.js';
import { windowAt } from '../../common/time.js';
import { formatSitePath } from '../../protocol/index.js';
import type {
  AlarmCase,
  DeliveryResult,
  Notifier,
  Recipient,
  Stage,
  StageMover,
} from '../alarms/contract.js';
import { idleDue, idleSince, reannounce } from '../alarms/model.js';
import { FOLD_REASONS, type NoiseGate } from './noise.js';
import { duration, type Policy, stepReason, type Target } from './policy.js';
import type { DutyResolver } from './roster.js';
import type { EscalationStore, FoldEntry, PlanRow } from './store/port.js';

export interface RowContext {
  /** The tick's time (claims, gate decisions). */
  now: number;
  /** The time now: deliveries finish later than the tick that started them. */
  clock: () => number;
  leaseMs: number;
  /** Runs a delivery beside the tick, keeping the claims of `rowIds` alive until it ends. */
  dispatch(rowIds: readonly string[], work: Promise<void>): void;
  /** The rows of a run after its first notice, due relative to `from` (planSteps of the engine). */
  laterSteps(policy: Policy, caseId: string, run: number, from: number): PlanRow[];
  workerId: string;
  store: EscalationStore;
  duty: DutyResolver;
  notifier: Notifier;
  stageMover: StageMover;
  gate: NoiseGate;
  links: (c: AlarmCase) => { view: string; ack: string; feedback: string };
  policy(id: string, version: number): Promise<Policy>;
  currentCase(id: string): Promise<AlarmCase | undefined>;
  /** Restarts the case's policy (a new run, first notice now): shelving or out of service lapsed. */
  restart(c: AlarmCase, at: number): Promise<void>;
  log?: Logger;
}

type NotifyStage = FoldEntry['stage'];

export interface Prepared {
  row: PlanRow;
  policy: Policy;
  case: AlarmCase;
  stage: NotifyStage;
  /** Move the case to this stage (提醒 / 督办) when the row fires. */
  moveTo?: 'remind' | 'supervise';
  reason: { zh: string; en: string };
  condition: FoldEntry['condition'];
  recipients: Recipient[];
  digest: boolean;
  newAlarm: boolean;
  /** Fallback notifications skip the noise gate: they exist because nothing got through. */
  bypass: boolean;
  followUps: PlanRow[];
}

const ORDER: Record<Stage, number> = { warn: 0, remind: 1, supervise: 2, feedback: 3, closed: 4 };

/** Why a case must not be notified now, if it must not (ISA-18.2 shelved / suppressed / out of service). */
export function blocked(c: AlarmCase, now: number): string | undefined {
  if (c.stage === 'closed') return 'closed';
  if (c.test) return 'test';
  if (c.suppressed) return 'suppressed';
  if (c.shelved && c.shelved.until > now) return 'shelved';
  if (c.outOfService && (c.outOfService.until === undefined || c.outOfService.until > now))
    return 'out of service';
  return undefined;
}

async function caseOf(ctx: RowContext, id: string): Promise<AlarmCase | undefined> {
  return (await ctx.currentCase(id)) ?? (await ctx.store.getCase(id))?.snapshot;
}

/** Checks a claimed row; returns what to deliver, or completes it as skipped and returns undefined. */
export async function prepareRow(ctx: RowContext, row: PlanRow): Promise<Prepared | undefined> {
  const skip = async (why: string) => {
    await ctx.store.complete(row.id, ctx.workerId, `skipped: ${why}`, ctx.now);
    return undefined;
  };
  const state = await ctx.store.getCase(row.caseId);
  if (!state) return skip('unknown case');
  if (row.run !== state.run) return skip('superseded by a restart');
  const c = (await ctx.currentCase(row.caseId)) ?? state.snapshot;
  const why = blocked(c, ctx.now);
  if (why) return skip(why);
  const policy = await ctx.policy(row.policyId, row.policyVersion);
  const first = policy.steps[0]!;
  if (row.kind === 'lapse') {
    // Shelving / out of service ended at its time (blocked() above: not re-shelved meanwhile).
    if (!reannounce(c)) return skip('nothing active');
    await ctx.restart(c, ctx.now);
    await ctx.store.complete(row.id, ctx.workerId, 'restarted: lapsed while still active', ctx.now);
    return undefined;
  }
  if (row.kind === 'step' && (row.step > 0 || row.repeat > 0) && (await firstNoticePending(ctx, row))) {
    // A higher tier is never told before the lower tier's 预警 was attempted: wait for it (its
    // delivery re-times this row when it ends).
    await ctx.store.release(row.id, ctx.workerId, ctx.now + Math.min(ctx.leaseMs, 1_000));
    return undefined;
  }
  const base = {
    row,
    policy,
    case: c,
    digest: false,
    newAlarm: false,
    bypass: false,
    followUps: [] as PlanRow[],
  };
  let targets: Target[];
  let p: Omit<Prepared, 'recipients'>;
  if (row.kind === 'step') {
    const step = policy.steps[row.step];
    if (!step) return skip('no such step');
    if (step.condition === 'not_acked' && c.acked) return skip('acked');
    if (step.condition === 'idle') {
      // Someone acted since the row was planned: the red light waits for its full idle time again.
      const due = idleDue(c, step.delayMs + row.repeat * (step.repeat?.everyMs ?? 0));
      if (due > ctx.now) {
        await ctx.store.release(row.id, ctx.workerId, due);
        return undefined;
      }
      // A restart (unshelved, lapse) plans the step again in its new run: once red-lit since the
      // last activity is enough.
      const since = idleSince(c);
      const told = (await ctx.store.rows(row.caseId)).some(
        (r) =>
          r.id !== row.id &&
          r.kind === 'step' &&
          r.step === row.step &&
          r.repeat === row.repeat &&
          /^(sent|grouped)/.test(r.outcome ?? '') &&
          (r.doneAt ?? 0) >= since,
      );
      if (told) return skip('red-lit already since the last activity');
    }
    // The window is checked at the planned time, so a worker catching up after a restart still fires.
    if (step.window && !windowAt(step.window, row.dueAt)) return skip('outside window');
    targets = step.targets;
    const reason = stepReason(step);
    p = {
      ...base,
      stage: step.stage,
      ...(step.stage !== 'warn' ? { moveTo: step.stage } : {}),
      reason:
        row.repeat > 0
          ? { zh: `${reason.zh}（第${row.repeat + 1}次）`, en: `${reason.en} (#${row.repeat + 1})` }
          : reason,
      condition: step.condition === 'idle' ? 'not_closed' : step.condition,
      digest: step.delivery === 'digest',
      newAlarm: row.step === 0 && row.repeat === 0,
    };
  } else if (row.kind === 'again') {
    // The condition occurred again while its case was open: the first step's people, once.
    if (c.acked) return skip('acked');
    targets = first.targets;
    p = {
      ...base,
      stage: ORDER[c.stage] <= ORDER.supervise ? (c.stage as NotifyStage) : 'warn',
      reason: { zh: `再次报警（第${row.step}次）`, en: `occurred again (#${row.step})` },
      condition: 'not_acked',
      digest: first.delivery === 'digest',
    };
  } else if (row.kind === 'ack_timeout' || row.kind === 'realarm') {
    if (!c.acked) return skip('not acked');
    if (row.kind === 'realarm' && c.condition === 'cleared') return skip('cleared');
    const every = (row.kind === 'ack_timeout' ? policy.ackTimeoutMs : policy.realarmMs) ?? 0;
    const d = duration(every);
    targets = [
      ...first.targets,
      ...(c.ackedBy && ctx.duty.person(c.ackedBy.id) ? [{ kind: 'person' as const, id: c.ackedBy.id }] : []),
    ];
    p = {
      ...base,
      stage: 'remind',
      moveTo: 'remind',
      reason:
        row.kind === 'ack_timeout'
          ? { zh: `已确认${d.zh}仍未办结`, en: `acknowledged but not closed after ${d.en}` }
          : { zh: `确认后${d.zh}仍在报警`, en: `still active ${d.en} after acknowledgement` },
      condition: 'not_closed',
      // The next one, while the case stays open (PagerDuty re-triggers on ack timeout; ISA-18.2 re-alarm).
      followUps:
        every > 0
          ? [followUp(row, { id: nextTimerId(row), step: row.step + 1, dueAt: row.dueAt + every })]
          : [],
    };
  } else {
    targets = policy.deliveryFailure.fallback;
    p = {
      ...base,
      stage: ORDER[c.stage] <= ORDER.supervise ? (c.stage as NotifyStage) : 'warn',
      reason: { zh: '通知未能送达，转交', en: 'notification could not be delivered: escalated' },
      condition: 'not_closed',
      bypass: true,
    };
  }
  const recipients = ctx.duty.resolve(targets, c.site, ctx.now);
  if (recipients.length === 0) {
    ctx.log?.warn({ case: c.id, row: row.id }, 'escalation step has no recipients');
    return skip('no recipients');
  }
  return { ...p, recipients };
}

/** Is the first notice (step 0, repeat 0) of the row's run still open (not yet attempted)? */
async function firstNoticePending(ctx: RowContext, row: PlanRow): Promise<boolean> {
  const rows = await ctx.store.rows(row.caseId);
  return rows.some(
    (r) => r.kind === 'step' && r.run === row.run && r.step === 0 && r.repeat === 0 && r.doneAt === undefined,
  );
}

const isFirstNotice = (row: PlanRow) => row.kind === 'step' && row.step === 0 && row.repeat === 0;

/**
 * A 预警 that reached nobody — every recipient's every channel failed, an open circuit breaker
 * included (cloud/notify/lanes.ts) — is tried again this much later, for as long as the case's run
 * is younger than `FIRST_NOTICE_RETRY_WINDOW_MS`. An open circuit fails attempts at once so that the
 * fallback takes over without waiting; but a policy without a fallback, or a fallback behind the
 * same dead endpoint, would otherwise leave the first notice undelivered until the 提醒 timer
 * (docs/architecture.md invariant 8: the first notice is never held, and never dropped).
 */
export const FIRST_NOTICE_RETRY_MS = 10_000;
export const FIRST_NOTICE_RETRY_WINDOW_MS = 10 * 60_000;

/**
 * 提醒 / 督办 count from the moment the 预警 was delivered (or failed everywhere), not from the
 * raise: later rows of the run move to `at` + their delay.
 */
async function retimeAfterFirstNotice(ctx: RowContext, p: Prepared, at: number): Promise<void> {
  const rows = ctx.laterSteps(p.policy, p.case.id, p.row.run, at);
  await ctx.store.retime(rows.map((r) => ({ id: r.id, dueAt: r.dueAt })));
}

/** A new row derived from a claimed one: same case and policy, never claimed, not done. */
function followUp(row: PlanRow, patch: Partial<PlanRow> & { id: string; dueAt: number }): PlanRow {
  const { caseId, policyId, policyVersion, kind, step, repeat, run } = row;
  return { caseId, policyId, policyVersion, kind, step, repeat, run, ...patch };
}

function nextTimerId(row: PlanRow): string {
  return row.id.replace(
    /:(\d+)(:r\d+)?$/,
    (_m, n: string, r: string | undefined) => `:${Number(n) + 1}${r ?? ''}`,
  );
}

interface Outgoing {
  primary: Prepared;
  members: Prepared[];
  recipients: Recipient[];
}

/** Gates, groups and delivers prepared rows, then completes them. */
export async function deliverPrepared(ctx: RowContext, items: readonly Prepared[]): Promise<void> {
  const outgoing = new Map<string, Outgoing>();
  const foldedOnly: Prepared[] = [];
  for (const p of items) {
    const now: Recipient[] = [];
    for (const r of p.recipients) {
      const d = p.bypass
        ? ({ send: true } as const)
        : await ctx.gate.decide(r.id, p.case, { digest: p.digest, newAlarm: p.newAlarm }, ctx.now);
      if (d.send) now.push(r);
      else
        await ctx.store.fold(
          r.id,
          d.foldKey,
          d.dueAt,
          { rowId: p.row.id, caseId: p.case.id, stage: p.stage, condition: p.condition, reason: p.reason },
          { id: p.policy.id, version: p.policy.version },
        );
    }
    if (now.length === 0) {
      foldedOnly.push(p);
      continue;
    }
    // Rows of one community falling due together with the same stage and recipients: one message.
    const ids = now.map((r) => r.id).sort();
    const key =
      p.row.kind === 'step'
        ? `${p.stage}|${formatSitePath(p.case.site)}|${ids.join(',')}`
        : `row|${p.row.id}`;
    const out = outgoing.get(key);
    if (out) out.members.push(p);
    else outgoing.set(key, { primary: p, members: [p], recipients: now });
  }
  for (const p of items) await moveStage(ctx, p);
  for (const p of foldedOnly)
    await ctx.store.complete(p.row.id, ctx.workerId, 'folded', ctx.now, p.followUps);
  // Every message leaves at once and on its own: a slow channel holds only its own delivery.
  for (const out of outgoing.values())
    ctx.dispatch(
      out.members.map((m) => m.row.id),
      send(ctx, out),
    );
}

async function moveStage(ctx: RowContext, p: Prepared): Promise<void> {
  if (!p.moveTo || ORDER[p.case.stage] >= ORDER[p.moveTo]) return;
  try {
    await ctx.stageMover.setStage(
      p.case.id,
      p.moveTo,
      `escalation ${p.policy.id} v${p.policy.version}: ${p.reason.en}`,
      ctx.now,
    );
  } catch (error) {
    ctx.log?.error({ err: error, case: p.case.id }, 'stage move failed');
  }
}

/**
 * Delivers one message, each recipient on its own: a recipient whose every channel failed counts
 * toward the fallback at once, without waiting for the others (EdgeX: escalate on delivery
 * failure). The rows are recorded `sent` only when no delivery is still claimed by another
 * sender (`in_progress`): such a row is given back and tried again after the lease, when the
 * notifier either finds it delivered or takes the stale claim over.
 */
async function send(ctx: RowContext, out: Outgoing): Promise<void> {
  const { primary } = out;
  const request = {
    id: primary.row.id,
    stage: primary.stage,
    cases: out.members.map((m) => m.case),
    reason: primary.reason,
    links: ctx.links(primary.case),
  };
  const firsts = out.members.filter((m) => isFirstNotice(m.row));
  let retimed = false;
  const retime = async () => {
    if (retimed || firsts.length === 0) return;
    retimed = true;
    const at = ctx.clock();
    for (const m of firsts) await retimeAfterFirstNotice(ctx, m, at);
  };
  const handle = async (id: string, results: DeliveryResult[]) => {
    const inProgress = results.some((x) => x.skipped === 'in_progress');
    const ok = results.some((x) => x.ok);
    if (ok) await retime();
    // Failed: every channel failed after its attempts or its open circuit, or there is none.
    const failed = !ok && !inProgress;
    if (failed && primary.row.kind !== 'fallback') await countFailure(ctx, primary);
    return { id, ok, inProgress, failed };
  };
  const handled = new Map<string, ReturnType<typeof handle>>();
  const onRecipient = (id: string, results: DeliveryResult[]) => {
    if (!handled.has(id)) handled.set(id, handle(id, results));
  };
  const results = await ctx.notifier.deliver({ ...request, recipients: out.recipients }, { onRecipient });
  // A notifier that does not report recipients one by one: all of them now.
  for (const r of out.recipients)
    onRecipient(
      r.id,
      results.filter((x) => x.recipient === r.id),
    );
  const outcomes = await Promise.all(handled.values());
  if (isFirstNotice(primary.row) && outcomes.length > 0 && outcomes.every((o) => o.failed)) {
    const state = await ctx.store.getCase(primary.case.id);
    const now = ctx.clock();
    if (state && now - state.triggeredAt < FIRST_NOTICE_RETRY_WINDOW_MS) {
      ctx.log?.warn(
        { row: primary.row.id, recipients: outcomes.map((o) => o.id) },
        'the first notice reached nobody: tried again shortly',
      );
      for (const m of out.members)
        await ctx.store.release(m.row.id, ctx.workerId, now + FIRST_NOTICE_RETRY_MS);
      return;
    }
  }
  await retime(); // failed everywhere: the timers start now all the same
  await ctx.gate.recordSend(
    out.recipients.map((r) => r.id),
    primary.case,
    ctx.clock(),
  );
  const now = ctx.clock();
  if (outcomes.some((o) => o.inProgress)) {
    const held = outcomes.filter((o) => o.inProgress).map((o) => o.id);
    ctx.log?.warn(
      { row: primary.row.id, recipients: held },
      'notification still claimed by another sender: not recorded as sent, tried again after the lease',
    );
    for (const m of out.members) await ctx.store.release(m.row.id, ctx.workerId, now + ctx.leaseMs);
    return;
  }
  const failed = outcomes.filter((o) => o.failed).map((o) => o.id);
  const sentTo = `sent to ${out.recipients.map((r) => r.id).join(', ')}${failed.length ? `; failed: ${failed.join(', ')}` : ''}`;
  for (const m of out.members)
    await ctx.store.complete(
      m.row.id,
      ctx.workerId,
      m === primary ? sentTo : `grouped into ${primary.row.id}`,
      now,
      m.followUps,
    );
}

/** One more failed send for the case; at the policy's count the fallback row goes in, due now. */
async function countFailure(ctx: RowContext, primary: Prepared): Promise<PlanRow | undefined> {
  const total = await ctx.store.addFailedSends(primary.case.id, 1);
  const state = await ctx.store.getCase(primary.case.id);
  if (!state || total < primary.policy.deliveryFailure.afterFailedSends) return undefined;
  const row = followUp(primary.row, {
    id: `${primary.case.id}:${primary.policy.version}:fallback${state.run > 1 ? `:r${state.run}` : ''}`,
    kind: 'fallback',
    step: 0,
    repeat: 0,
    run: state.run,
    dueAt: ctx.clock(),
  });
  await ctx.store.insert([row]);
  return row;
}

/** A folded notification falls due: one message with every case still worth telling. */
export async function flushFold(ctx: RowContext, row: PlanRow): Promise<void> {
  const entries = JSON.parse(row.payload ?? '[]') as FoldEntry[];
  const recipient = row.recipient ? ctx.duty.recipient(row.recipient) : undefined;
  if (!recipient) {
    await ctx.store.complete(row.id, ctx.workerId, 'skipped: unknown recipient', ctx.now);
    return;
  }
  const cases = new Map<string, AlarmCase>();
  let stage: NotifyStage = 'warn';
  for (const e of entries) {
    const c = await caseOf(ctx, e.caseId);
    if (!c || blocked(c, ctx.now) || (e.condition === 'not_acked' && c.acked)) continue;
    cases.set(c.id, c);
    if (ORDER[e.stage] > ORDER[stage]) stage = e.stage;
  }
  const list = [...cases.values()];
  const first = list[0];
  if (!first) {
    await ctx.store.complete(row.id, ctx.workerId, 'skipped: nothing left to tell', ctx.now);
    return;
  }
  const kind = (row.foldKey ?? 'group').split(':')[0] ?? 'group';
  const results = await ctx.notifier.deliver({
    id: row.id,
    stage,
    cases: list,
    recipients: [recipient],
    reason: FOLD_REASONS[kind] ?? FOLD_REASONS.group!,
    links: ctx.links(first),
  });
  await ctx.gate.recordSend([recipient.id], first, ctx.clock());
  // Claimed by another sender: left claimed and no longer renewed, so retaken after the lease.
  if (results.some((x) => x.skipped === 'in_progress')) return;
  await ctx.store.complete(
    row.id,
    ctx.workerId,
    `sent ${list.length} case(s) to ${recipient.id}`,
    ctx.clock(),
  );
}
