import type { Logger } from '../../common/log.js';
import { DoorstepError } from '../../protocol/index.js';
import { OUTBOX_CLASSES, type OutboxClass } from '../outbox/types.js';
import { FAILURE_REASONS, type FailureReason, type PersistedBatch, type UplinkStats } from './types.js';

export type CounterFields = Omit<
  UplinkStats,
  'state' | 'batchLimits' | 'nextBatchSeq' | 'clockOffsetMs' | 'clockOffsetSamples'
>;

const zeroByClass = (): Record<OutboxClass, number> => ({ alarm: 0, event: 0, telemetry: 0 });

/** The uplink's counters (stats()) and its failure log lines. */
export class UplinkCounters {
  readonly s: CounterFields;
  readonly #log: Logger | undefined;

  constructor(log: Logger | undefined) {
    this.#log = log;
    const failed = Object.fromEntries(FAILURE_REASONS.map((r) => [r, 0])) as Record<FailureReason, number>;
    this.s = {
      batches: { sent: 0, acked: 0, heartbeats: 0, failed },
      rowsSent: zeroByClass(),
      rowsAcked: zeroByClass(),
      bytes: { raw: 0, wire: 0 },
      lastSuccessAt: undefined,
      lastFailure: undefined,
      consecutiveFailures: 0,
      backoff: undefined,
      quarantined: { batches: 0, rows: 0, alarmsIsolated: 0, alarmsRescued: 0 },
      splits: 0,
      lastAppliedOffsetMs: undefined,
    };
  }

  sent(batch: PersistedBatch, wireBytes: number): void {
    this.s.batches.sent++;
    for (const c of OUTBOX_CLASSES) this.s.rowsSent[c] += batch.counts[c];
    this.s.bytes.raw += batch.rawBytes;
    this.s.bytes.wire += wireBytes;
  }

  acked(batch: PersistedBatch, at: number): void {
    this.s.batches.acked++;
    if (batch.seqs.length === 0) this.s.batches.heartbeats++;
    for (const c of OUTBOX_CLASSES) this.s.rowsAcked[c] += batch.counts[c];
    this.s.lastSuccessAt = at;
    this.s.consecutiveFailures = 0;
  }

  failure(at: number, reason: FailureReason, detail: string, batchSeq = 0, status?: number): void {
    this.s.batches.failed[reason]++;
    // 400 and 413 lead to quarantine or a split, not to waiting: they do not grow the backoff.
    if (reason !== 'malformed' && reason !== 'too_large') this.s.consecutiveFailures++;
    this.s.lastFailure = { at, reason, detail };
    const code = reason === 'auth' ? 'EDGE_ERR_UPLINK_AUTH' : 'EDGE_ERR_UPLINK_SEND';
    const error = new DoorstepError(code, { batchSeq, reason, status: status ?? '-', detail });
    // The first failure of an outage warns; the retries that follow are debug (no log flood offline).
    const level = reason === 'auth' || this.s.consecutiveFailures <= 1 ? 'warn' : 'debug';
    this.#log?.[level]({ code, failures: this.s.consecutiveFailures }, error.message);
  }

  quarantinedBatch(rows: number): void {
    this.s.quarantined.batches++;
    this.s.quarantined.rows += rows;
  }
}
