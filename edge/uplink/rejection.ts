import type { Logger } from '../../common/log.js';
import {
  type AlarmTransition,
  DoorstepError,
  type SitePath,
  type UplinkBatchInput,
} from '../../protocol/index.js';

type InputAlarm = NonNullable<UplinkBatchInput['alarms']>[number];

import type { Outbox } from '../outbox/types.js';
import { decodeBatch, sealBatch } from './batch.js';
import type { UplinkCounters } from './stats.js';
import type { SendResult } from './transport.js';
import type { PersistedBatch, SyncOutcome } from './types.js';

/** Envelope fields: a 400 naming one of these is about our batch framing, not about any row. */
const ENVELOPE_FIELD = /^(v|gateway|site|batchSeq|sentAt)(\.|$)/;

export interface RejectionContext {
  outbox: Outbox;
  logger: Logger | undefined;
  gateway: string;
  site: SitePath;
  now(): number;
  takeBatchSeq(): number;
  /** Sends one batch; acks its rows itself on a matching 200. */
  send(batchSeq: number, body: Buffer, batch: PersistedBatch): Promise<SendResult>;
  counters: UplinkCounters;
  /** Stop attaching health for a while (the cloud rejected our health block). */
  suppressHealth(): void;
}

/**
 * Decides what a 400 means before anything is quarantined: a rejected health block or heartbeat
 * → resend the rows without health; a rejected envelope field (gateway, site, v …) → no row is at
 * fault, keep everything and back off; otherwise → isolateAndQuarantine.
 */
export async function handleRejection(
  ctx: RejectionContext,
  batch: { batchSeq: number; seqs: readonly number[]; body: Buffer },
  result: Extract<SendResult, { ok: false }>,
): Promise<SyncOutcome> {
  const field = dotted(result.error?.field ?? '');
  const { batchSeq } = batch;
  if (field.startsWith('health') || batch.seqs.length === 0) {
    ctx.suppressHealth();
    ctx.logger?.error(
      { batchSeq, error: result.error },
      'cloud rejected the health report; health suppressed',
    );
    return { kind: 'split', rows: batch.seqs.length };
  }
  if (ENVELOPE_FIELD.test(field)) {
    ctx.counters.s.consecutiveFailures++;
    ctx.logger?.error({ batchSeq, error: result.error }, 'cloud rejected the batch envelope; rows kept');
    return { kind: 'failed', batchSeq, reason: 'malformed' };
  }
  return isolateAndQuarantine(ctx, batch, result, await decodeBatch(batch.body));
}

/**
 * The cloud answered 400 for a batch: it is malformed and must never be retried as is, nor block
 * what follows (docs/field-lessons.md complaint 7). If the error's `field` names a non-alarm row, only that
 * row is quarantined. Otherwise one bad row must not take good alarms down with it: every alarm
 * of the batch is first sent again alone (one per batch, no health, a new batchSeq); those the
 * cloud accepts are acknowledged, those it rejects again are quarantined. The other rows are then
 * quarantined with the cloud's code and field (unless the cloud blamed an alarm) — kept, counted,
 * visible in health, requeue-able. If an alarm's own retry fails for another reason (network,
 * 5xx) nothing more is quarantined: the rows stay pending and the next step repeats this.
 */
export async function isolateAndQuarantine(
  ctx: RejectionContext,
  batch: { batchSeq: number; seqs: readonly number[] },
  result: Extract<SendResult, { ok: false }>,
  decoded: UplinkBatchInput,
): Promise<SyncOutcome> {
  const reason = new DoorstepError('EDGE_ERR_UPLINK_REJECTED', {
    batchSeq: batch.batchSeq,
    code: result.error?.code ?? `HTTP ${result.status ?? 400}`,
    field: result.error?.field ?? '-',
    detail: result.error?.message ?? result.detail,
  }).message;
  const alarms: InputAlarm[] = (decoded.alarms ?? []).filter((a) => batch.seqs.includes(a.seq));
  const alarmSeqs = new Set(alarms.map((a) => a.seq));
  const rest = batch.seqs.filter((seq) => !alarmSeqs.has(seq));
  const field = dotted(result.error?.field ?? '');
  const pinned = rowAt(decoded, field);
  if (pinned !== undefined && !alarmSeqs.has(pinned) && batch.seqs.includes(pinned)) {
    // The cloud named the row: set aside just that one; the others stay pending and go next batch.
    const moved = ctx.outbox.quarantine([pinned], reason);
    countBatch(ctx, moved);
    ctx.logger?.error({ batchSeq: batch.batchSeq, seq: pinned, reason }, 'row rejected by the cloud');
    return { kind: 'quarantined', rows: moved, delivered: 0, reason };
  }
  let quarantined = 0;
  let delivered = 0;
  if (alarms.length === 1 && rest.length === 0) {
    // Already alone: the cloud has rejected exactly this alarm.
    quarantined += ctx.outbox.quarantine([alarms[0]!.seq], reason);
  } else {
    for (const alarm of alarms) {
      ctx.counters.s.quarantined.alarmsIsolated++;
      const single = await sendAlone(ctx, alarm);
      if (single.ok) {
        delivered++;
        ctx.counters.s.quarantined.alarmsRescued++;
      } else if (single.reason === 'malformed') {
        const again = single.error ? `${single.error.code} at ${single.error.field ?? '-'}` : single.detail;
        quarantined += ctx.outbox.quarantine([alarm.seq], `${reason} (alone: ${again})`);
      } else {
        ctx.logger?.warn(
          { seq: alarm.seq, reason: single.reason },
          'isolated alarm not delivered; will retry',
        );
        if (quarantined > 0) countBatch(ctx, quarantined);
        return {
          kind: 'failed',
          batchSeq: batch.batchSeq,
          reason: single.reason,
          ...(single.retryAfterMs === undefined ? {} : { retryAfterMs: single.retryAfterMs }),
        };
      }
    }
  }
  // When the cloud blamed an alarm, the other rows were never judged: they stay pending (a bad one
  // among them gets named by the next 400). Without such a pointer they are quarantined, or one
  // unnamed bad row would block sync forever.
  if (!/^alarms\.\d+/.test(field)) quarantined += ctx.outbox.quarantine(rest, reason);
  countBatch(ctx, quarantined);
  ctx.logger?.error(
    { batchSeq: batch.batchSeq, quarantined, alarmsDelivered: delivered, reason },
    'batch rejected',
  );
  return { kind: 'quarantined', rows: quarantined, delivered, reason };
}

/**
 * The cloud names fields with indexes in brackets (`telemetry.ts[4]`, `alarms[0].transition.ts`:
 * protocol/validation.ts formatPath); the matching here is on dots (`telemetry.ts.4`). Both are
 * read the same way, or a row the cloud named would not be found and the whole batch around it
 * would be set aside.
 */
function dotted(field: string): string {
  return field.replace(/\[(\d+)\]/g, '.$1');
}

/** The seq of the row a 400's `field` points at (`events.3…`, `telemetry.<column>.17`), if any. */
function rowAt(decoded: UplinkBatchInput, field: string): number | undefined {
  const event = /^events\.(\d+)(\.|$)/.exec(field);
  if (event) return decoded.events?.[Number(event[1])]?.seq;
  const row = /^telemetry\.(seq|key|ts|value|q)\.(\d+)$/.exec(field);
  if (!row || !decoded.telemetry) return undefined;
  // seq is delta-coded (protocol/sync.ts): the row's seq is the running sum up to its index.
  const index = Number(row[2]);
  const deltas = decoded.telemetry.seq;
  if (index >= deltas.length) return undefined;
  let seq = 0;
  for (let i = 0; i <= index; i++) seq += deltas[i]!;
  return seq;
}

function countBatch(ctx: RejectionContext, rows: number): void {
  ctx.counters.quarantinedBatch(rows);
}

async function sendAlone(ctx: RejectionContext, alarm: InputAlarm): Promise<SendResult> {
  const batchSeq = ctx.takeBatchSeq();
  const sentAt = ctx.now();
  const transition = alarm.transition as AlarmTransition;
  const record = {
    class: 'alarm' as const,
    seq: alarm.seq,
    ts: transition.ts,
    enqueuedAt: sentAt,
    payload: transition,
  };
  const { gateway, site } = ctx;
  const { persisted, body } = await sealBatch({ gateway, site, batchSeq, sentAt, records: [record] });
  return ctx.send(batchSeq, body, persisted);
}
