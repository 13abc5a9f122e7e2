/**
 * createNotifier: delivers a NotificationRequest to every recipient × address, in parallel, each
 * with its own attempts, exponential backoff and a timeout per attempt. Every attempt is stored.
 * Idempotent: a delivery (request id + recipient + address) is claimed in the store before the
 * first send, so a delivered one is never sent again and one being sent by another instance is
 * left to it (docs/architecture.md invariant 10: two cloud instances never notify twice).
 *
 * When the store itself fails, messages are still sent — at 3 a.m. a duplicate is better than
 * silence — and the failure is logged (CLOUD_ERR_NOTIFY_STORE).
 */
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { delayAfterFailuresMs } from '../../common/backoff.js';
import { type Logger, silentLogger } from '../../common/log.js';
import { DoorstepError, type SitePath } from '../../protocol/index.js';
import {
  type AlarmCase,
  type ChannelAddress,
  CLAIM_LEASE_MS,
  type DeliveryResult,
  type NotificationRequest,
  type Notifier,
  type Recipient,
} from '../alarms/contract.js';
import { cloudFault } from '../fault.js';
import type { AddressOf, Channel, ChannelKind, SendOutcome, Timers } from './channels/channel.js';
import { realTimers, scrub } from './channels/channel.js';
import { DingtalkChannel } from './channels/dingtalk.js';
import { describeError } from './channels/http.js';
import { WebhookChannel } from './channels/webhook.js';
import { WecomChannel } from './channels/wecom.js';
import type { Lang } from './labels.js';
import { DEFAULT_LANE, type LaneSettings, Lanes } from './lanes.js';
import { type Message, renderMessage } from './message.js';
import { addressApplies, isE164, PHONE_HINT } from './phone.js';
import type { AttemptStatus, DeliveryKey, NotificationStore } from './store/port.js';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  factor: number;
  maxDelayMs: number;
}

export type ChannelSet = { [K in ChannelKind]?: Channel<K> };

export interface NotifierDeps {
  store: NotificationStore;
  /** Defaults: webhook, WeCom and DingTalk; e-mail only when given (it needs SMTP settings). */
  channels?: ChannelSet;
  language?: Lang;
  publicUrl?: string;
  /**
   * Each case's action link for one recipient (cloud/phone: signed for that person and case).
   * With it, every recipient gets a message of their own; without it, one per language.
   */
  caseLink?: (c: AlarmCase, recipient: Recipient) => string;
  timeoutMs?: number;
  /** Per channel kind: its own attempt timeout and endpoint concurrency. */
  perChannel?: { [K in ChannelKind]?: { timeoutMs?: number; concurrency?: number } };
  /** Every endpoint's queue and circuit breaker (lanes.ts). */
  endpoints?: Partial<LaneSettings>;
  /** Attempts in flight per channel kind, over all its endpoints. */
  channelConcurrency?: number;
  /** The delivery claim's lease, renewed while the delivery runs (CLAIM_LEASE_MS). */
  leaseMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Cloud clock (stored times, signatures). */
  clock?: () => number;
  /** Monotonic ms for latencies (performance.now by default). */
  monotonic?: () => number;
  /** Timeouts and backoff run on these (tests inject their own). */
  timers?: Timers;
  /** Display names of the sites involved, by path; failures only cost the names. */
  siteNames?: (sites: SitePath[]) => Promise<ReadonlyMap<string, string>>;
  log?: Logger;
}

export interface NotifierService extends Notifier {
  close(): Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 2_000, factor: 2, maxDelayMs: 60_000 };

/** Delay before attempt n + 1 (n ≥ 1): base · factorⁿ⁻¹, capped. */
export function backoffDelay(policy: RetryPolicy, n: number): number {
  return delayAfterFailuresMs(
    { initialMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, factor: policy.factor },
    n,
  );
}

function destination(address: ChannelAddress): string {
  switch (address.kind) {
    case 'webhook':
      return address.url;
    case 'wecom':
    case 'dingtalk':
      return address.webhookUrl;
    case 'email':
      return address.address.trim().toLowerCase();
    case 'sms':
    case 'voice':
    case 'smpp':
      return address.phone;
  }
}

/** `kind:` + 16 hex of sha256(destination): stable, and free of the robot key itself. */
export function addressKey(address: ChannelAddress): string {
  return `${address.kind}:${createHash('sha256').update(destination(address)).digest('hex').slice(0, 16)}`;
}

function checkAddress(address: ChannelAddress): string | undefined {
  if (address.kind === 'email')
    return /^[^\s@<>]+@[^\s@<>]+$/.test(address.address) ? undefined : 'not an e-mail address';
  if (address.kind === 'sms' || address.kind === 'voice' || address.kind === 'smpp')
    return isE164(address.phone) ? undefined : `not an E.164 phone number (${PHONE_HINT})`;
  try {
    const url = new URL(destination(address));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return `unsupported scheme ${url.protocol}`;
  } catch {
    return 'not a URL';
  }
  if ((address.kind === 'webhook' || address.kind === 'dingtalk') && !address.secret) return 'no secret';
  return undefined;
}

export function createNotifier(deps: NotifierDeps): NotifierService {
  const store = deps.store;
  const channels: ChannelSet = {
    webhook: new WebhookChannel(),
    wecom: new WecomChannel(),
    dingtalk: new DingtalkChannel(),
    ...deps.channels,
  };
  const fallbackLang = deps.language ?? 'zh';
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...deps.retry };
  const clock = deps.clock ?? Date.now;
  const monotonic = deps.monotonic ?? (() => performance.now());
  const timers = deps.timers ?? realTimers;
  const log = deps.log ?? silentLogger();
  const instance = randomUUID();
  let calls = 0;

  const sleep = (ms: number) => new Promise<void>((resolve) => timers.setTimeout(resolve, ms));
  // Short, and renewed every third of it while the delivery runs: a dead sender's claim lapses
  // within seconds, a live one keeps it however slow its channel (the escalation rows use the same
  // lease, so a row is never retaken while its delivery is still held by a live sender).
  const leaseMs = deps.leaseMs ?? CLAIM_LEASE_MS;
  const timeoutFor = (kind: ChannelKind) => deps.perChannel?.[kind]?.timeoutMs ?? timeoutMs;
  const lanes = new Lanes(
    (kind) => ({
      ...DEFAULT_LANE,
      ...deps.endpoints,
      ...(deps.perChannel?.[kind as ChannelKind]?.concurrency
        ? { concurrency: deps.perChannel[kind as ChannelKind]!.concurrency! }
        : {}),
    }),
    deps.channelConcurrency ?? 32,
    clock,
  );

  const storeFailed = (operation: string, error: unknown) =>
    log.error(
      { err: new DoorstepError('CLOUD_ERR_NOTIFY_STORE', { operation, reason: describe(error) }) },
      'notification store failed',
    );

  async function attemptOnce<K extends ChannelKind>(
    channel: Channel<K>,
    address: AddressOf<K>,
    request: NotificationRequest,
    recipient: Recipient,
    message: Message,
    target: string,
  ): Promise<SendOutcome & { status: AttemptStatus; latencyMs: number; at: number }> {
    const timeoutMs = timeoutFor(channel.kind);
    const controller = new AbortController();
    const timer = timers.setTimeout(
      () =>
        controller.abort(
          new DoorstepError('CLOUD_ERR_NOTIFY_TIMEOUT', { channel: channel.kind, target, timeoutMs }),
        ),
      timeoutMs,
    );
    const at = clock();
    const start = monotonic();
    let outcome: SendOutcome;
    try {
      outcome = await channel.send(address, {
        request,
        recipient,
        message,
        signal: controller.signal,
        now: at,
      });
    } catch (error) {
      outcome = { ok: false, error: describeError(error, controller.signal), retryable: true };
    } finally {
      timers.clearTimeout(timer);
    }
    const latencyMs = Math.max(0, monotonic() - start);
    const status: AttemptStatus = outcome.ok ? 'ok' : controller.signal.aborted ? 'timeout' : 'failed';
    const error = outcome.error === undefined ? undefined : scrub(outcome.error, channel.secrets(address));
    return { ...outcome, ...(error !== undefined ? { error } : {}), status, latencyMs, at };
  }

  async function deliverOne(
    request: NotificationRequest,
    recipient: Recipient,
    address: ChannelAddress,
    message: Message,
  ): Promise<DeliveryResult> {
    const kind = address.kind;
    const channel = channels[kind] as Channel<typeof kind> | undefined;
    const key: DeliveryKey = {
      requestId: request.id,
      recipient: recipient.id,
      addressKey: addressKey(address),
    };
    const target = channel ? channel.redact(address as never) : `${kind}:[not configured]`;
    const owner = `${instance}/${++calls}`;
    const base = { recipient: recipient.id, channel: kind, target };
    const ctx = { request: request.id, recipient: recipient.id, channel: kind, target };

    let claimed = true;
    let attemptsSoFar = 0;
    let renewal: ReturnType<typeof setInterval> | undefined;
    try {
      const now = clock();
      const claim = await store.claim({
        key,
        channel: kind,
        target,
        caseIds: request.cases.map((c) => c.id),
        owner,
        now,
        leaseUntil: now + leaseMs,
      });
      if (!claim.claimed) {
        log.info({ ...ctx, state: claim.state }, 'notification already handled, not sent again');
        return claim.state === 'delivered'
          ? { ...base, ok: true, attempts: 0, skipped: 'delivered' }
          : {
              ...base,
              ok: false,
              attempts: 0,
              skipped: 'in_progress',
              error: 'being delivered by another instance',
            };
      }
      attemptsSoFar = claim.attemptsSoFar;
      // Real time (not the injected timers): the lease is about this process being alive.
      renewal = setInterval(
        () => {
          store.renew(key, owner, clock() + leaseMs).catch((error) => storeFailed('renew', error));
        },
        Math.max(1, Math.floor(leaseMs / 3)),
      );
      renewal.unref?.();
    } catch (error) {
      claimed = false;
      storeFailed('claim', error);
    }
    try {
      return await attemptAll();
    } finally {
      clearInterval(renewal);
    }

    async function attemptAll(): Promise<DeliveryResult> {
      const record = async (
        n: number,
        r: Omit<
          Parameters<NotificationStore['recordAttempt']>[0],
          keyof DeliveryKey | 'channel' | 'target' | 'attempt'
        >,
      ) => {
        try {
          await store.recordAttempt({ ...key, channel: kind, target, attempt: n, ...r });
        } catch (error) {
          storeFailed('recordAttempt', error);
        }
      };
      const finish = async (ok: boolean, attempts: number, error?: string) => {
        if (!claimed) return;
        try {
          const held = await store.finish(key, owner, { ok, attempts, ...(error ? { error } : {}) }, clock());
          if (!held) log.warn(ctx, 'notification claim was taken over before it finished');
        } catch (e) {
          storeFailed('finish', e);
        }
      };

      // Problems no retry can fix are still stored as one failed attempt: the console shows them.
      const invalid = channel ? checkAddress(address) : undefined;
      if (!channel || invalid) {
        const err = channel
          ? new DoorstepError('CLOUD_ERR_NOTIFY_ADDRESS', {
              channel: kind,
              recipient: recipient.id,
              reason: invalid,
            })
          : new DoorstepError('CLOUD_ERR_NOTIFY_CHANNEL', {
              channel: kind,
              reason: 'no sender for this kind',
            });
        await record(attemptsSoFar + 1, { status: 'failed', latencyMs: 0, error: err.message, at: clock() });
        await finish(false, attemptsSoFar + 1, err.message);
        log.error({ ...ctx, code: err.code }, err.message);
        return { ...base, ok: false, attempts: 1, error: err.message };
      }

      let last: { error?: string; retryable: boolean } = { retryable: true };
      // Its endpoint's lane: its own queue, concurrency and circuit breaker (lanes.ts).
      const lane = lanes.lane(kind, kind === 'email' ? 'smtp' : addressKey(address));
      const priority = priorityOf(request);
      for (let i = 1; i <= policy.attempts; i++) {
        const n = attemptsSoFar + i;
        const ran = await lane.run(priority, lanes.kindSlots(kind), () =>
          attemptOnce(channel, address as never, request, recipient, message, target),
        );
        // An open circuit: failed at once, not worth another try now — the fallback takes over.
        const r =
          'refused' in ran
            ? {
                ok: false,
                error: ran.error,
                retryable: false,
                status: 'failed' as const,
                latencyMs: 0,
                at: clock(),
              }
            : ran;
        await record(n, {
          status: r.status,
          ...(r.httpStatus !== undefined ? { httpStatus: r.httpStatus } : {}),
          ...(r.errcode !== undefined ? { errcode: r.errcode } : {}),
          latencyMs: r.latencyMs,
          ...(r.error !== undefined ? { error: r.error } : {}),
          at: r.at,
        });
        if (r.ok) {
          await finish(true, n);
          log.info({ ...ctx, attempt: n, latencyMs: Math.round(r.latencyMs) }, 'notification delivered');
          return { ...base, ok: true, attempts: i };
        }
        last = r;
        log.warn({ ...ctx, attempt: n, status: r.status, error: r.error }, 'notification attempt failed');
        if (!r.retryable || i === policy.attempts) {
          const err = new DoorstepError('CLOUD_ERR_NOTIFY_FAILED', {
            ...ctx,
            attempts: i,
            reason: r.error ?? 'unknown',
          });
          await finish(false, n, r.error);
          log.error({ ...ctx, code: err.code }, err.message);
          return { ...base, ok: false, attempts: i, error: r.error ?? 'unknown' };
        }
        cloudFault('notify:retry-wait');
        await sleep(backoffDelay(policy, i));
      }
      // Unreachable with attempts ≥ 1; kept so a policy of 0 attempts still reports a failure.
      await finish(false, attemptsSoFar, last.error);
      return {
        ...base,
        ok: false,
        attempts: 0,
        error: last.error ?? 'no attempt allowed by the retry policy',
      };
    }
  }

  return {
    async deliver(request, options) {
      let names: ReadonlyMap<string, string> | undefined;
      if (deps.siteNames)
        names = await deps.siteNames(request.cases.map((c) => c.site)).catch((error) => {
          log.warn({ request: request.id, error: describe(error) }, 'site names unavailable; slugs shown');
          return undefined;
        });
      const messages = new Map<string, Message>();
      const caseLink = deps.caseLink;
      const messageFor = (lang: Lang, recipient: Recipient) => {
        // Links signed for a person make the message theirs alone.
        const key = caseLink ? `${lang}\u0000${recipient.id}` : lang;
        let m = messages.get(key);
        if (!m) {
          m = renderMessage(request, lang, {
            ...(names ? { siteNames: names } : {}),
            ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
            ...(caseLink ? { caseLink: (c: AlarmCase) => caseLink(c, recipient) } : {}),
          });
          messages.set(key, m);
        }
        return m;
      };
      const perRecipient: Promise<DeliveryResult[]>[] = [];
      for (const recipient of request.recipients) {
        if (recipient.channels.length === 0)
          log.error(
            { request: request.id, recipient: recipient.id },
            'recipient has no address: not notified',
          );
        const lang: Lang = recipient.lang === 'en' || recipient.lang === 'zh' ? recipient.lang : fallbackLang;
        // A phone address may be limited to some severities and stages (a voice call: critical, 提醒).
        const jobs = recipient.channels
          .filter((a) => addressApplies(a, request))
          .map((address) => deliverOne(request, recipient, address, messageFor(lang, recipient)));
        // Each recipient is reported when its own addresses are done, not when everyone's are.
        perRecipient.push(
          Promise.all(jobs).then((results) => {
            try {
              options?.onRecipient?.(recipient.id, results);
            } catch (error) {
              log.error({ err: error, request: request.id }, 'onRecipient callback failed');
            }
            return results;
          }),
        );
      }
      return (await Promise.all(perRecipient)).flat();
    },
    async close() {
      for (const channel of Object.values(channels)) await channel?.close?.();
    },
  };
}

const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, info: 3 } as const;

/** Lower leaves a queue first: first notices before reminders, critical before the rest. */
function priorityOf(request: NotificationRequest): number {
  const rank = Math.min(4, ...request.cases.map((c) => SEVERITY_RANK[c.severity] ?? 4));
  return (request.stage === 'warn' ? 0 : 10) + rank;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
