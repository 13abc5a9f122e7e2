import type { Logger } from '../../common/log.js';
import { DoorstepError, type UplinkResponse } from '../../protocol/index.js';
import { faultPoint } from '../fault.js';
import { OUTBOX_CLASSES } from '../outbox/types.js';
import { alarmRetryDelayMs, backoffDelayMs } from './backoff.js';
import { checkRecords, sealBatch } from './batch.js';
import { ClockOffsetEstimator } from './clock-offset.js';
import { buildHealth } from './health.js';
import { BatchLedger, type Inflight } from './ledger.js';
import { type ResolvedUplinkOptions, resolveUplinkOptions } from './options.js';
import { handleRejection } from './rejection.js';
import { BatchSizer } from './sizer.js';
import { UplinkCounters } from './stats.js';
import { type SendResult, SyncTransport } from './transport.js';
import type { PersistedBatch, SyncOutcome, UplinkOptions, UplinkStats } from './types.js';

type Plan = { now: true } | { now: false; ms: number; phase: 'idle' | 'pacing' | 'backoff' };

const HEALTH_SUPPRESS_MS = 10 * 60_000;

/**
 * The gateway's uplink: drains the outbox to the cloud in batches, alarms first, live telemetry
 * before backlog, and deletes rows only on a matching acknowledgement. One request at a time.
 * See README.md for the batch life cycle, retry, quarantine, clock offset and downlink.
 */
export class Uplink {
  readonly #o: ResolvedUplinkOptions;
  readonly #log: Logger | undefined;
  readonly #offset = new ClockOffsetEstimator();
  readonly #ledger: BatchLedger;
  readonly #counters: UplinkCounters;
  readonly #s: UplinkCounters['s'];
  #transport: SyncTransport | undefined;
  #started = false;
  #stopSignal = new AbortController();
  #timer: unknown;
  #timerAt = 0;
  #phase: UplinkStats['state'] = 'stopped';
  #running: Promise<void> | undefined;
  #wake = false;
  #startedAt = 0;
  #lastAttemptAt = Number.NEGATIVE_INFINITY;
  #lastHealthAt = Number.NEGATIVE_INFINITY;
  #healthSuppressedUntil = 0;
  readonly #sizer: BatchSizer;
  #configVersion: string | undefined;

  constructor(options: UplinkOptions) {
    this.#o = resolveUplinkOptions(options);
    this.#log = this.#o.logger?.child({ svc: 'uplink', gateway: this.#o.gateway });
    this.#ledger = new BatchLedger(this.#o.state, this.#log);
    this.#counters = new UplinkCounters(this.#log);
    this.#s = this.#counters.s;
    this.#sizer = new BatchSizer(this.#o.batch);
    this.#configVersion = this.#o.configVersion;
  }

  /** Loads batch numbering and any unacknowledged batch (resent first, as is), then starts draining. */
  start(): void {
    if (this.#started) return;
    const { clock } = this.#o;
    this.#ledger.load(this.#o.gateway, clock.now());
    this.#transport = new SyncTransport({
      baseUrl: this.#o.baseUrl,
      timeoutMs: this.#o.requestTimeoutMs,
      clock,
    });
    this.#stopSignal = new AbortController();
    this.#started = true;
    this.#startedAt = clock.now();
    this.#schedule(0, 'idle');
  }

  /** Stops timers, aborts the request in flight (its rows stay in the outbox) and closes sockets. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#clearTimer();
    this.#stopSignal.abort();
    await this.settled();
    this.#transport?.close();
    this.#phase = 'stopped';
  }

  /**
   * Call after putting an alarm: sends now if idle (GB 26875.1-2011 §4.1.2.1: fire alarm to the
   * centre within 10 s). During backoff it brings the retry forward, but no sooner than
   * alarmRetryMs after the last attempt, so an alarm storm cannot hammer a dead link.
   */
  notify(): void {
    if (!this.#started) return;
    if (this.#running) {
      this.#wake = true;
      return;
    }
    if (this.#phase === 'backoff') {
      const now = this.#o.clock.now();
      const due = Math.max(now, this.#lastAttemptAt + this.#o.alarmRetryMs);
      if (due < this.#timerAt) this.#schedule(due - now, 'backoff');
      return;
    }
    void this.#run();
  }

  /** One sync step now (tests): waits for the step in progress, runs one, and re-plans. */
  async syncNow(): Promise<SyncOutcome> {
    if (!this.#started) throw new DoorstepError('EDGE_ERR_UPLINK_STOPPED', { operation: 'syncNow' });
    await this.settled();
    this.#clearTimer();
    let outcome: SyncOutcome = { kind: 'idle' };
    this.#running = (async () => {
      outcome = await this.#stepSafely();
      if (!this.#started) return;
      const plan = this.#plan(outcome);
      this.#schedule(plan.now ? 0 : plan.ms, plan.now ? 'idle' : plan.phase);
    })().finally(() => {
      this.#running = undefined;
    });
    await this.#running;
    return outcome;
  }

  /** Resolves when no step is running (tests, stop()). */
  async settled(): Promise<void> {
    while (this.#running) await this.#running.catch(() => undefined);
  }

  stats(): UplinkStats {
    return {
      ...structuredClone(this.#s),
      state: this.#phase,
      batchLimits: this.#sizer.limits,
      nextBatchSeq: this.#ledger.nextBatchSeq,
      clockOffsetMs: this.#offset.offsetMs,
      clockOffsetSamples: this.#offset.samples,
    };
  }

  // ── the loop ────────────────────────────────────────────────────────────────────────────────

  #run(): Promise<void> {
    if (!this.#started) return Promise.resolve();
    if (this.#running) {
      this.#wake = true;
      return this.#running;
    }
    this.#clearTimer();
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Steps back to back while there is work (docs/field-lessons.md complaint 8: no new message needed to drain). */
  async #loop(): Promise<void> {
    for (;;) {
      this.#wake = false;
      const outcome = await this.#stepSafely();
      if (!this.#started) return;
      const plan = this.#plan(outcome);
      if (plan.now || (this.#wake && plan.phase !== 'backoff')) {
        await new Promise((resolve) => setImmediate(resolve)); // let acquisition run between batches
        continue;
      }
      let ms = plan.ms;
      if (this.#wake && plan.phase === 'backoff')
        ms = Math.min(ms, Math.max(0, this.#lastAttemptAt + this.#o.alarmRetryMs - this.#o.clock.now()));
      this.#schedule(ms, plan.phase);
      return;
    }
  }

  #plan(outcome: SyncOutcome): Plan {
    const o = this.#o;
    if (outcome.kind === 'failed') {
      const floor =
        outcome.reason === 'auth'
          ? o.backoff.authMinMs
          : Math.min(outcome.retryAfterMs ?? 0, o.backoff.maxMs);
      let ms = backoffDelayMs(o.backoff, this.#s.consecutiveFailures, o.random, floor);
      // Telemetry backoff never delays an alarm: while one is pending, knock again within
      // alarmRetryMaxMs, also past a Retry-After (the cloud takes alarms before anything else).
      // Auth failures keep their floor: a wrong secret is not cured by asking faster.
      if (outcome.reason !== 'auth' && this.#alarmPending())
        ms = Math.min(
          ms,
          alarmRetryDelayMs(o.alarmRetryMs, o.alarmRetryMaxMs, this.#s.consecutiveFailures, o.random),
        );
      this.#s.backoff = { delayMs: ms, nextAttemptAt: o.clock.now() + ms };
      return { now: false, ms, phase: 'backoff' };
    }
    this.#s.backoff = undefined;
    if (outcome.kind === 'quarantined' || outcome.kind === 'split') return { now: true };
    if (outcome.kind === 'acked' && outcome.full) {
      if (o.backlogPace === 'max') return { now: true };
      const ms = Math.round((outcome.rows / o.backlogPace.rowsPerSecond) * 1000);
      return ms < 1 ? { now: true } : { now: false, ms, phase: 'pacing' };
    }
    const untilHeartbeat = this.#lastAttemptAt + o.heartbeatMs - o.clock.now();
    return { now: false, ms: Math.max(0, Math.min(o.intervalMs, untilHeartbeat)), phase: 'idle' };
  }

  #alarmPending(): boolean {
    try {
      return this.#o.outbox.stats().pending.alarm.rows > 0;
    } catch {
      return false;
    }
  }

  #schedule(ms: number, phase: 'idle' | 'pacing' | 'backoff'): void {
    this.#clearTimer();
    if (!this.#started) return;
    this.#phase = phase;
    this.#timerAt = this.#o.clock.now() + ms;
    this.#timer = this.#o.timers.setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, ms);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#o.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #stepSafely(): Promise<SyncOutcome> {
    this.#phase = 'sending';
    try {
      return await this.#step();
    } catch (error) {
      // An outbox or state failure must not kill the loop: count it as a failure and back off —
      // named for what it is: a full disk is not a network problem.
      const reason = isStorageError(error) ? 'storage' : 'internal';
      this.#log?.error({ err: error, reason }, 'uplink step failed');
      this.#counters.failure(this.#o.clock.now(), reason, String((error as Error).message));
      return { kind: 'failed', batchSeq: this.#ledger.inflight?.persisted.batchSeq ?? 0, reason };
    }
  }

  // ── one step: pick or build a batch, send it, act on the answer ─────────────────────────────

  async #step(): Promise<SyncOutcome> {
    let batch = this.#ledger.inflight;
    if (batch && this.#mustRebuild(batch)) {
      this.#ledger.setInflight(undefined);
      batch = undefined;
    }
    if (!batch) {
      const built = await this.#buildNext();
      if (!('persisted' in built)) return built;
      batch = built;
    }
    const result = await this.#exchange(batch.persisted.batchSeq, batch.body, batch.persisted);
    if (!this.#started) return { kind: 'idle' };
    if (result.ok) {
      this.#ledger.setInflight(undefined);
      const p = batch.persisted;
      this.#sizer.acked();
      return {
        kind: 'acked',
        batchSeq: p.batchSeq,
        rows: p.seqs.length,
        full: batch.full,
        heartbeat: p.seqs.length === 0,
      };
    }
    if (result.reason === 'too_large') return this.#tooLarge(batch);
    if (result.reason === 'malformed') {
      this.#ledger.setInflight(undefined);
      const { batchSeq, seqs } = batch.persisted;
      return handleRejection(this.#rejectionContext(), { batchSeq, seqs, body: batch.body }, result);
    }
    return {
      kind: 'failed',
      batchSeq: batch.persisted.batchSeq,
      reason: result.reason,
      ...retryAfter(result),
    };
  }

  /**
   * A pending batch is resent as is (same batchSeq and bytes) unless an alarm arrived that it does
   * not hold — every batch starts with whatever alarms are pending (GB 26875.1-2011 §4.1.2.3) — or
   * it is a heartbeat and there is data now. Abandoning is safe: the cloud deduplicates rows by
   * (gateway, seq), and the abandoned number is never used again.
   */
  #mustRebuild(batch: Inflight): boolean {
    const pending = this.#o.outbox.stats().pending;
    if (batch.persisted.seqs.length === 0) return OUTBOX_CLASSES.some((c) => pending[c].rows > 0);
    if (pending.alarm.rows === 0) return false;
    if (pending.alarm.rows > batch.persisted.counts.alarm) return true;
    // As many alarms is not the same alarms: a batch acked just before a crash comes back from the
    // state file (the ack and the state file are two writes) while a newer alarm waits. Alarms come
    // first in nextBatch, so this reads just the pending alarm rows.
    const inBatch = new Set(batch.persisted.seqs);
    return this.#o.outbox.nextBatch({ maxRows: pending.alarm.rows }).seqs.some((seq) => !inBatch.has(seq));
  }

  async #buildNext(): Promise<Inflight | SyncOutcome> {
    const o = this.#o;
    const now = o.clock.now();
    const limits = this.#sizer.limits;
    const next = o.outbox.nextBatch({
      maxRows: limits.rows,
      maxBytes: limits.bytes,
      telemetryOrder: 'newest-first',
    });
    const { sendable, invalid } = checkRecords(next.records, o.gateway);
    for (const bad of invalid) {
      const reason = new DoorstepError('EDGE_ERR_UPLINK_ROW', { ...bad }).message;
      this.#s.quarantined.rows += o.outbox.quarantine([bad.seq], reason);
      this.#log?.warn(
        { seq: bad.seq, cls: bad.cls, reason: bad.reason },
        'outbox row not sendable; quarantined',
      );
    }
    if (invalid.length > 0 && sendable.length === 0)
      return { kind: 'quarantined', rows: invalid.length, delivered: 0, reason: 'invalid rows' };
    if (sendable.length === 0 && now - this.#lastAttemptAt < o.heartbeatMs) return { kind: 'idle' };
    const heartbeat = sendable.length === 0;
    const withHealth =
      now >= this.#healthSuppressedUntil && (heartbeat || now - this.#lastHealthAt >= o.healthEveryMs);
    const health = withHealth
      ? buildHealth({
          outbox: o.outbox,
          software: o.software,
          uptimeS: (now - this.#startedAt) / 1000,
          clockOffsetMs: this.#offset.offsetMs,
          provider: o.healthReport,
          logger: this.#log,
        })
      : undefined;
    if (health) this.#lastHealthAt = now;
    const batchSeq = this.#ledger.takeBatchSeq();
    const { gateway, site } = o;
    const sealed = await sealBatch({ gateway, site, batchSeq, sentAt: now, records: sendable, health });
    const payloadBytes = next.bytes;
    const full = next.records.length >= limits.rows || payloadBytes >= limits.bytes * 0.9;
    const inflight: Inflight = { ...sealed, payloadBytes, full };
    this.#ledger.setInflight(inflight);
    return inflight;
  }

  /**
   * One POST and everything a 200 brings: offset sample, applied offset, commands, config version —
   * and, only when ackedBatchSeq is this batch's, outbox.ack(seqs). Anything else leaves the rows.
   */
  async #exchange(batchSeq: number, body: Buffer, batch: PersistedBatch): Promise<SendResult> {
    const o = this.#o;
    const transport = this.#transport;
    if (!transport) throw new DoorstepError('EDGE_ERR_UPLINK_STOPPED', { operation: 'send' });
    const rows = batch.seqs.length;
    this.#lastAttemptAt = o.clock.now();
    let secret: string;
    try {
      secret = await o.credentials();
    } catch (error) {
      const detail = `credential provider failed: ${(error as Error).message}`;
      this.#counters.failure(o.clock.now(), 'auth', detail);
      const at = o.clock.now();
      return { ok: false, reason: 'auth', detail, sentAt: at, receivedAt: at };
    }
    this.#counters.sent(batch, body.length);
    let result = await transport.post(body, secret, this.#stopSignal.signal);
    if (result.ok) {
      this.#takeResponse(result.response, result.sentAt, result.receivedAt);
      if (result.response.ackedBatchSeq === batchSeq) {
        const alarms = batch.counts.alarm > 0;
        if (alarms) faultPoint('uplink:before-ack');
        o.outbox.ack(batch.seqs);
        if (alarms) faultPoint('uplink:after-ack');
        this.#counters.acked(batch, result.receivedAt);
      } else {
        const { sentAt, receivedAt } = result;
        const detail = `response acknowledges batch ${result.response.ackedBatchSeq}, not ${batchSeq}`;
        result = { ok: false, reason: 'bad_response', status: 200, detail, sentAt, receivedAt };
      }
    }
    if (!result.ok && !(this.#stopSignal.signal.aborted && result.reason === 'network'))
      this.#counters.failure(o.clock.now(), result.reason, result.detail, batchSeq, result.status);
    const response = result.ok ? { response: result.response } : {};
    const info = {
      batchSeq,
      status: result.status,
      outcome: result.ok ? ('acked' as const) : result.reason,
      rttMs: result.receivedAt - result.sentAt,
      rows,
      rawBytes: batch.rawBytes,
      wireBytes: body.length,
      ...response,
    };
    this.#callback('onResponse', () => o.onResponse?.(info));
    return result;
  }

  #takeResponse(response: UplinkResponse, sentAt: number, receivedAt: number): void {
    this.#offset.add(sentAt, receivedAt, response.serverTime);
    this.#s.lastAppliedOffsetMs = response.appliedOffsetMs;
    // The gateway answers each command with a `command_result` event put in the outbox.
    if (response.commands.length > 0)
      this.#callback('onCommands', () => this.#o.onCommands?.(response.commands));
    const config = response.config;
    if (config && config.version !== this.#configVersion) {
      this.#configVersion = config.version;
      this.#callback('onConfigVersion', () => this.#o.onConfigVersion?.(config.version, config.url));
    }
  }

  /** 413: abandon the batch and halve the limits; one row that is still too large is quarantined. */
  #tooLarge(batch: Inflight): SyncOutcome {
    this.#ledger.setInflight(undefined);
    const rows = batch.persisted.seqs.length;
    this.#s.splits++;
    if (rows <= 1) {
      if (rows === 0) this.#healthSuppressedUntil = this.#o.clock.now() + HEALTH_SUPPRESS_MS;
      const reason = `cloud answered 413 for batch ${batch.persisted.batchSeq} of one row (${batch.persisted.rawBytes} bytes)`;
      const moved = this.#o.outbox.quarantine(batch.persisted.seqs, reason);
      this.#counters.quarantinedBatch(moved);
      return { kind: 'quarantined', rows: moved, delivered: 0, reason };
    }
    const limits = this.#sizer.halve(rows, batch.payloadBytes);
    this.#log?.warn({ limits }, 'cloud answered 413; batch limits halved');
    return { kind: 'split', rows };
  }

  #rejectionContext() {
    return {
      outbox: this.#o.outbox,
      logger: this.#log,
      gateway: this.#o.gateway,
      site: this.#o.site,
      now: () => this.#o.clock.now(),
      takeBatchSeq: () => this.#ledger.takeBatchSeq(),
      send: (seq: number, body: Buffer, persisted: PersistedBatch) => this.#exchange(seq, body, persisted),
      counters: this.#counters,
      suppressHealth: () => {
        this.#healthSuppressedUntil = this.#o.clock.now() + HEALTH_SUPPRESS_MS;
      },
    };
  }

  /** A throwing callback is the gateway's bug; it must not stop sync. */
  #callback(name: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#log?.error({ err: error, callback: name }, 'uplink callback threw');
    }
  }
}

/** SQLite result codes, file-system errnos and the outbox's own errors: the gateway's storage failed. */
function isStorageError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('SQLITE_') ||
    code.startsWith('EDGE_ERR_OUTBOX') ||
    code === 'EDGE_ERR_UPLINK_STATE' ||
    ['ENOSPC', 'EIO', 'EROFS', 'EDQUOT'].includes(code)
  );
}

function retryAfter(result: Extract<SendResult, { ok: false }>): { retryAfterMs?: number } {
  return result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs };
}
