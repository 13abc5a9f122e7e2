import { Context, Publisher } from 'zeromq';
import { z } from 'zod';
import { DoorstepError } from '../../protocol/errors.js';
import { FeedKind, FeedMessage, feedTopic } from '../../protocol/feed.js';
import { ScopePath, scopeContains } from '../../protocol/site.js';
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

/** Loopback and ipc endpoints: traffic that never leaves the machine. */
const LOCAL_ENDPOINT = /^(tcp:\/\/(127\.0\.0\.1|localhost|\[::1\]):|ipc:\/\/)/;

/** Subscribers bound to part of the district: their own socket, their own keys. */
export const ScopedOutletConfig = z
  .object({
    /** What they may see: `district/town` or `district/town/community`. */
    scope: ScopePath,
    endpoint: FeedEndpoint,
    /** The subscribers' CURVE public keys; listed here, they are refused at every other outlet. */
    clientPublicKeys: z.array(CurveKey).min(1),
  })
  .strict();

export const FeedPublisherConfig = z
  .object({
    /** Where the district-wide socket binds; the default picks a free loopback port. */
    endpoint: FeedEndpoint.default('tcp://127.0.0.1:*'),
    /** zeromq's per-subscriber queue limit (ZMQ_SNDHWM), in messages. */
    sendHighWaterMark: z.number().int().min(1).default(1000),
    /** Messages waiting for the one in-flight send; beyond it publish() drops and counts. */
    queueLimit: z.number().int().min(1).default(10_000),
    /**
     * CURVE (RFC 26) with a ZAP allow-list per socket: `clientPublicKeys` see the whole district at
     * `endpoint`; each `scoped` entry is a socket of its own that carries only its scope's messages
     * to only its keys.
     */
    curve: z
      .object({
        serverSecretKey: CurveKey,
        serverPublicKey: CurveKey,
        clientPublicKeys: z.array(CurveKey).default([]),
        scoped: z.array(ScopedOutletConfig).default([]),
      })
      .strict()
      .optional(),
    /**
     * Without CURVE anyone who reaches the port reads the whole district's alarms, so the feed
     * refuses to start unless this is set and the endpoint is loopback or ipc.
     */
    plaintextLoopback: z.boolean().default(false),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.curve) return;
    if (!config.plaintextLoopback)
      ctx.addIssue({
        code: 'custom',
        path: ['curve'],
        message:
          'a feed without CURVE would hand every alarm to anyone who connects: configure curve (keys per subscriber), or set plaintextLoopback: true for a loopback endpoint',
      });
    else if (!LOCAL_ENDPOINT.test(config.endpoint))
      ctx.addIssue({
        code: 'custom',
        path: ['endpoint'],
        message: `plaintextLoopback allows only a loopback (127.0.0.1, localhost, [::1]) or ipc:// endpoint, not ${config.endpoint}`,
      });
  });
export type FeedPublisherConfig = z.input<typeof FeedPublisherConfig>;
type ResolvedConfig = z.output<typeof FeedPublisherConfig>;

export type CountByKind = Record<FeedKind, number>;

export interface FeedPublisherStats {
  /** Messages accepted by publish(). */
  published: number;
  /**
   * Handed over to zeromq, once per outlet the message went to (the district socket and every
   * scoped socket whose scope contains it): queued for every subscriber whose subscription matched.
   */
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
  /** The outlets whose scope contains the message's site. */
  outlets: Outlet[];
}

/** One PUB socket: the district-wide one (scope undefined) or a scoped one. */
interface Outlet {
  scope: string | undefined;
  socket: Publisher;
  endpoint: string;
}

const DISTRICT_DOMAIN = 'doorstep-feed';

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
  private outlets: Outlet[] = [];
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

  /** The district-wide endpoint actually bound (a `tcp://HOST:*` config resolves to the chosen port). */
  get endpoint(): string {
    const district = this.outlets[0];
    if (district === undefined)
      throw new DoorstepError('CLOUD_ERR_FEED_STATE', { state: this.state, operation: 'endpoint' });
    return district.endpoint;
  }

  /** The endpoint bound for a scoped outlet (by its configured scope). */
  scopedEndpoint(scope: string): string {
    const outlet = this.outlets.find((o) => o.scope === scope);
    if (outlet === undefined)
      throw new DoorstepError('CLOUD_ERR_FEED_STATE', {
        state: this.state,
        operation: `endpoint of ${scope}`,
      });
    return outlet.endpoint;
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
    // A private Context keeps the ZAP handler (bound to a fixed inproc name) to these sockets only.
    const context = new Context();
    const plan = [
      { scope: undefined, endpoint, domain: DISTRICT_DOMAIN, keys: curve?.clientPublicKeys ?? [] },
      ...(curve?.scoped ?? []).map((o, i) => ({
        scope: o.scope,
        endpoint: o.endpoint,
        domain: `doorstep-feed-${i}`,
        keys: o.clientPublicKeys,
      })),
    ];
    const outlets: Outlet[] = [];
    let binding = endpoint;
    try {
      if (curve) {
        this.zap = new ZapAllowList(context, new Map(plan.map((p) => [p.domain, p.keys])));
        await this.zap.start();
      }
      for (const p of plan) {
        binding = p.endpoint;
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
                zapDomain: p.domain,
              }
            : {}),
        });
        outlets.push({ scope: p.scope, socket, endpoint: p.endpoint });
        await socket.bind(p.endpoint);
        outlets[outlets.length - 1]!.endpoint = socket.lastEndpoint ?? p.endpoint;
      }
    } catch (error) {
      for (const o of outlets) o.socket.close();
      await this.zap?.stop();
      this.zap = undefined;
      this.state = 'stopped';
      throw new DoorstepError(
        'CLOUD_ERR_FEED_BIND',
        { endpoint: binding, reason: error instanceof Error ? error.message : String(error) },
        { cause: error },
      );
    }
    this.outlets = outlets;
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
      // Scoped outlets carry only their scope's messages, whatever prefix a subscriber asks for.
      outlets: this.outlets.filter((o) => o.scope === undefined || scopeContains(o.scope, message.site)),
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
        if (item === undefined) continue;
        for (const { socket } of item.outlets) {
          if (socket.closed) {
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
    for (const o of this.outlets) o.socket.close();
    this.outlets = [];
    await this.zap?.stop();
    this.state = 'stopped';
  }
}
