/**
 * What the worker does with one claimed row: check the step's condition against the current case,
 * resolve the targets through the duty rosters at fire time, pass each recipient through the noise
 * gate, deliver (grouping rows of one community that fall due together), move the stage, count
 * delivery failures toward the fallback, and mark the row done with its follow-ups — the outcome
 * string is the audit trail ("skipped: acked", "grouped into …", "folded").
 */
import type { Logger } from 'pino';
import { formatSitePath } from '../../protocol/index.js';
import type { AlarmCase, Notifier, Recipient, Stage, StageMover } from '../alarms/contract.js';
import { FOLD_REASONS, type NoiseGate } from './noise.js';
import { duration, type Policy, stepReason, type Target } from './policy.js';
import type { DutyResolver } from './roster.js';
import type { EscalationStore, FoldEntry, PlanRow } from './store/port.js';
import { windowAt } from './time.js';

export interface RowContext {
  now: number;
  workerId: string;
  store: EscalationStore;
  duty: DutyResolver;
  notifier: Notifier;
  stageMover: StageMover;
  gate: NoiseGate;
  links: (c: AlarmCase) => { view: string; ack: string; feedback: string };
  policy(id: string, version: number): Promise<Policy>;
  currentCase(id: string): Promise<AlarmCase | undefined>;
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
      condition: step.condition,
      digest: step.delivery === 'digest',
      newAlarm: row.step === 0 && row.repeat === 0,
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
  for (const out of outgoing.values()) await send(ctx, out);
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

async function send(ctx: RowContext, out: Outgoing): Promise<void> {
  const { primary } = out;
  const results = await ctx.notifier.deliver({
    id: primary.row.id,
    stage: primary.stage,
    cases: out.members.map((m) => m.case),
    recipients: out.recipients,
    reason: primary.reason,
    links: ctx.links(primary.case),
  });
  await ctx.gate.recordSend(
    out.recipients.map((r) => r.id),
    primary.case,
    ctx.now,
  );
  // A recipient failed when every channel failed after the notifier's retries (or it has none);
  // "in progress" elsewhere is not a failure.
  const failed = out.recipients.filter((r) => {
    const mine = results.filter((x) => x.recipient === r.id);
    if (mine.some((x) => x.skipped === 'in_progress')) return false;
    return mine.length === 0 || mine.every((x) => !x.ok);
  });
  const followUps = [...primary.followUps];
  if (failed.length > 0 && primary.row.kind !== 'fallback') {
    const total = await ctx.store.addFailedSends(primary.case.id, failed.length);
    const state = await ctx.store.getCase(primary.case.id);
    if (state && total >= primary.policy.deliveryFailure.afterFailedSends)
      followUps.push(
        followUp(primary.row, {
          id: `${primary.case.id}:${primary.policy.version}:fallback${state.run > 1 ? `:r${state.run}` : ''}`,
          kind: 'fallback',
          step: 0,
          repeat: 0,
          run: state.run,
          dueAt: ctx.now,
        }),
      );
  }
  const sentTo = `sent to ${out.recipients.map((r) => r.id).join(', ')}${failed.length ? `; failed: ${failed.map((r) => r.id).join(', ')}` : ''}`;
  for (const m of out.members)
    await ctx.store.complete(
      m.row.id,
      ctx.workerId,
      m === primary ? sentTo : `grouped into ${primary.row.id}`,
      ctx.now,
      m === primary ? followUps : m.followUps,
    );
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
  await ctx.notifier.deliver({
    id: row.id,
    stage,
    cases: list,
    recipients: [recipient],
    reason: FOLD_REASONS[kind] ?? FOLD_REASONS.group!,
    links: ctx.links(first),
  });
  await ctx.gate.recordSend([recipient.id], first, ctx.now);
  await ctx.store.complete(row.id, ctx.workerId, `sent ${list.length} case(s) to ${recipient.id}`, ctx.now);
}
