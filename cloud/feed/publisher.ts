import { Context, Publisher } from 'zeromq';
import { z } from 'zod';
import { DoorstepError } from '../../protocol/errors.js';
import { FeedKind, FeedMessage, feedTopic } from '../../protocol/feed.js';
import type { FeedSink } from '../feed-sink.js';
import { CurveKey, ZapAllowList } from './curve.js';

/** The sink the cloud service publishes into (cloud/feed-sink.ts); re-exported for convenience. */
export type { FeedSink };

/** tcp://HOST:PORT, tcp://HOST:* (a free port, see `endpoint`), or ipc://PATH. */
export const FeedEndpoint = z
  .string()
  .regex(
    /^(tcp:\/\/[^\s/:]+:(\*|\d{1,5})|ipc:\/\/\S+)$/,
    'must be tcp://HOST:PORT, tcp://HOST:* or ipc://PATH',
  );

export const FeedPublisherConfig = z
  .object({
    /** Where the PUB socket binds; the default picks a free loopback port. */
    endpoint: FeedEndpoint.default('tcp://127.0.0.1:*'),
    /** zeromq's per-subscriber queue limit (ZMQ_SNDHWM), in messages. */
    sendHighWaterMark: z.number().int().min(1).default(1000),
    /** Messages waiting for the one in-flight send; beyond it publish() drops and counts. */
    queueLimit: z.number().int().min(1).default(10_000),
    /**
     * Server-side CURVE: clients must know `serverPublicKey`. With `clientPublicKeys`, a ZAP
     * handler additionally admits only those clients.
     */
    curve: z
      .object({
        serverSecretKey: CurveKey,
        serverPublicKey: CurveKey,
        clientPublicKeys: z.array(CurveKey).min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type FeedPublisherConfig = z.input<typeof FeedPublisherConfig>;
type ResolvedConfig = z.output<typeof FeedPublisherConfig>;

export type CountByKind = Record<FeedKind, number>;

export interface FeedPublisherStats {
  /** Messages accepted by publish(). */
  published: number;
  /** Handed over to zeromq: queued for every subscriber whose subscription matched (or none). */
  sent: number;
  /** Waiting in the internal queue. */
  queued: number;
  dropped: {
    /** A matching subscriber's queue was at the high-water mark (send failed with EAGAIN). */
    hwm: CountByKind;
    /** The internal queue held `queueLimit` messages. */
    queueFull: CountByKind;
    /** zeromq refused the send for another reason (e.g. the socket closed under it). */
    error: CountByKind;
  };
  droppedTotal: number;
  /** CURVE handshakes the ZAP allow-list refused. */
  authDenied: number;
}

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';
interface Pending {
  kind: FeedKind;
  topic: string;
  body: string;
}

function zeroByKind(): CountByKind {
  return Object.fromEntries(FeedKind.options.map((k) => [k, 0])) as CountByKind;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * The tier feed's ZeroMQ PUB socket. Two frames per message: the topic (`feedTopic`) and the
 * FeedMessage as JSON.
 *
 * A plain PUB socket drops silently at its high-water mark, so the socket is set to `noDrop` with
 * `sendTimeout: 0`: a send that would be dropped fails at once with EAGAIN instead, and is
 * counted. zeromq allows one send at a time per socket, so sends go through an internal queue
 * drained by a single loop.
 */
export class ZmqFeedPublisher implements FeedSink {
  private readonly config: ResolvedConfig;
  private state: State = 'idle';
  private socket: Publisher | undefined;
  private zap: ZapAllowList | undefined;
  private queue: (Pending | undefined)[] = [];
  private head = 0;
  private draining: Promise<void> | undefined;
  private readonly counts = {
    published: 0,
    sent: 0,
    hwm: zeroByKind(),
    queueFull: zeroByKind(),
    error: zeroByKind(),
  };
  private bound: string | undefined;

  /** Validates the configuration (throws CFG_ERR_INVALID listing every problem); no I/O. */
  constructor(config: FeedPublisherConfig = {}) {
    const parsed = FeedPublisherConfig.safeParse(config);
    if (!parsed.success)
      throw new DoorstepError('CFG_ERR_INVALID', {
        count: parsed.error.issues.length,
        summary: `feed: ${describeIssues(parsed.error)}`,
      });
    this.config = parsed.data;
  }

  /** The endpoint actually bound (a `tcp://HOST:*` config resolves to the chosen port). */
  get endpoint(): string {
    if (this.bound === undefined)
      throw new DoorstepError('CLOUD_ERR_FEED_STATE', { state: this.state, operation: 'endpoint' });
    return this.bound;
  }

  /** The key clients need for CURVE (`curveServerKey`), or undefined without CURVE. */
  get serverPublicKey(): string | undefined {
    return this.config.curve?.serverPublicKey;
  }

  async start(): Promise<void> {
    if (this.state !== 'idle' && this.state !== 'stopped')
      throw new DoorstepError('CLOUD_ERR_FEED_STATE', { state: this.state, operation: 'start' });
    this.state = 'starting';
    const { endpoint, sendHighWaterMark, curve } = this.config;
    // A private Context keeps the ZAP handler (bound to a fixed inproc name) to this socket only.
    const context = new Context();
    const socket = new Publisher({
      context,
      sendHighWaterMark,
      sendTimeout: 0,
      noDrop: true,
      // A live feed: what subscribers have not taken when we stop is worthless; do not hold exit.
      linger: 0,
      ...(curve
        ? {
            curveServer: true,
            curveSecretKey: curve.serverSecretKey,
            curvePublicKey: curve.serverPublicKey,
            zapDomain: 'doorstep-feed',
          }
        : {}),
    });
    try {
      if (curve?.clientPublicKeys) {
        this.zap = new ZapAllowList(context, curve.clientPublicKeys);
        await this.zap.start();
      }
      await socket.bind(endpoint);
    } catch (error) {
      socket.close();
      await this.zap?.stop();
      this.zap = undefined;
      this.state = 'stopped';
      throw new DoorstepError(
        'CLOUD_ERR_FEED_BIND',
        { endpoint, reason: error instanceof Error ? error.message : String(error) },
        { cause: error },
      );
    }
    this.socket = socket;
    this.bound = socket.lastEndpoint ?? endpoint;
    this.state = 'running';
  }

  /**
   * Validates and queues one message; never blocks. Throws CLOUD_ERR_FEED_MESSAGE for an invalid
   * message and CLOUD_ERR_FEED_STATE when not running (nothing is queued in either case).
   */
  publish(msg: FeedMessage): void {
    if (this.state !== 'running')
      throw new DoorstepError('CLOUD_ERR_FEED_STATE', { state: this.state, operation: 'publish' });
    const parsed = FeedMessage.safeParse(msg);
    if (!parsed.success)
      throw new DoorstepError('CLOUD_ERR_FEED_MESSAGE', { reason: describeIssues(parsed.error) });
    const message = parsed.data;
    this.counts.published++;
    if (this.queue.length - this.head >= this.config.queueLimit) {
      this.counts.queueFull[message.kind]++;
      return;
    }
    this.queue.push({
      kind: message.kind,
      topic: feedTopic(message.kind, message.site, message.gateway),
      body: JSON.stringify(message),
    });
    this.draining ??= this.drain();
  }

  /** Resolves once every queued message was sent or counted as dropped. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.head < this.queue.length) {
        const item = this.queue[this.head];
        this.queue[this.head] = undefined;
        this.head++;
        const socket = this.socket;
        if (item === undefined) continue;
        if (socket === undefined || socket.closed) {
          this.counts.error[item.kind]++;
          continue;
        }
        try {
          // The only send in flight on this socket: the loop awaits each one.
          await socket.send([item.topic, item.body]);
          this.counts.sent++;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (code === 'EAGAIN') this.counts.hwm[item.kind]++;
          else this.counts.error[item.kind]++;
        }
        // Reclaim the consumed front now and then so a long-lived queue does not grow forever.
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
      }
      this.queue = [];
      this.head = 0;
    } finally {
      this.draining = undefined;
    }
  }

  stats(): FeedPublisherStats {
    const { hwm, queueFull, error } = this.counts;
    const sum = (c: CountByKind) => Object.values(c).reduce((a, b) => a + b, 0);
    return {
      published: this.counts.published,
      sent: this.counts.sent,
      queued: this.queue.length - this.head,
      dropped: { hwm: { ...hwm }, queueFull: { ...queueFull }, error: { ...error } },
      droppedTotal: sum(hwm) + sum(queueFull) + sum(error),
      authDenied: this.zap?.denied ?? 0,
    };
  }

  /** Sends what is queued (each send succeeds or fails at once), then closes. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'idle' || this.state === 'stopped') return;
    this.state = 'stopping';
    await this.flush();
    this.socket?.close();
    this.socket = undefined;
    await this.zap?.stop();
    this.bound = undefined;
    this.state = 'stopped';
  }
}
