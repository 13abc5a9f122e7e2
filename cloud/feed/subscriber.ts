import { curveKeyPair, Subscriber } from 'zeromq';
import { z } from 'zod';
import { DoorstepError } from '../../protocol/errors.js';
import { FeedKind, FeedMessage, feedPrefixes } from '../../protocol/feed.js';
import { ScopePath } from '../../protocol/site.js';
import { CurveKey } from './curve.js';
import { FeedEndpoint } from './publisher.js';

export const FeedSubscriberOptions = z
  .object({
    /** The publisher's endpoint; `*` ports cannot be connected to. */
    endpoint: FeedEndpoint.refine((e) => !e.endsWith(':*'), 'needs a concrete port'),
    /** district, district/town or district/town/community. */
    scope: ScopePath,
    kinds: z.array(FeedKind).min(1).optional(),
    curve: z
      .object({
        serverPublicKey: CurveKey,
        /** This client's key pair; needed when the publisher has an allow-list. Default: a fresh pair. */
        clientPublicKey: CurveKey.optional(),
        clientSecretKey: CurveKey.optional(),
      })
      .strict()
      .refine((c) => (c.clientPublicKey === undefined) === (c.clientSecretKey === undefined), {
        message: 'clientPublicKey and clientSecretKey go together',
      })
      .optional(),
    /** zeromq's receive queue (ZMQ_RCVHWM); a full one pushes back onto the publisher. */
    receiveHighWaterMark: z.number().int().min(1).default(1000),
  })
  .strict();
export type FeedSubscriberOptions = z.input<typeof FeedSubscriberOptions>;

/** Why a CURVE handshake with the publisher failed (wrong or missing server key, key not allowed). */
export interface HandshakeFailure {
  type: 'auth' | 'protocol' | 'other';
  reason: string;
}

/**
 * Subscribes to one scope of the tier feed and yields validated FeedMessages. Subscriptions are
 * `feedPrefixes(scope, kinds)`: byte prefixes ending in "/", so `pudong/zhang` never matches
 * `pudong/zhangjiang`. Bodies that fail validation are skipped and counted, never yielded.
 */
export class FeedSubscriber {
  readonly options: z.output<typeof FeedSubscriberOptions>;
  private socket: Subscriber | undefined;
  private failureListeners: ((f: HandshakeFailure) => void)[] = [];
  private readonly counts = { received: 0, invalid: 0, handshakeFailures: 0 };

  /** Validates the options (CLOUD_ERR_FEED_CONNECT naming each problem); no I/O. */
  constructor(options: FeedSubscriberOptions) {
    const parsed = FeedSubscriberOptions.safeParse(options);
    if (!parsed.success)
      throw new DoorstepError('CLOUD_ERR_FEED_CONNECT', {
        endpoint: String(options.endpoint),
        reason: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
      });
    this.options = parsed.data;
  }

  /** Connects and subscribes; zeromq connects in the background and reconnects by itself. */
  connect(): void {
    if (this.socket) return;
    const { endpoint, scope, kinds, curve, receiveHighWaterMark } = this.options;
    const clientKeys =
      curve?.clientPublicKey && curve.clientSecretKey
        ? { publicKey: curve.clientPublicKey, secretKey: curve.clientSecretKey }
        : curve
          ? curveKeyPair()
          : undefined;
    const socket = new Subscriber({
      receiveHighWaterMark,
      linger: 0,
      ...(curve && clientKeys
        ? {
            curveServerKey: curve.serverPublicKey,
            curvePublicKey: clientKeys.publicKey,
            curveSecretKey: clientKeys.secretKey,
          }
        : {}),
    });
    const failed = (type: HandshakeFailure['type']) => (event: { error?: Error }) => {
      this.counts.handshakeFailures++;
      const failure = { type, reason: event.error?.message ?? type };
      for (const listener of this.failureListeners) listener(failure);
    };
    socket.events.on('handshake:error:auth', failed('auth'));
    socket.events.on('handshake:error:protocol', failed('protocol'));
    socket.events.on('handshake:error:other', failed('other'));
    socket.subscribe(...feedPrefixes(scope, kinds));
    try {
      socket.connect(endpoint);
    } catch (error) {
      socket.close();
      throw new DoorstepError(
        'CLOUD_ERR_FEED_CONNECT',
        { endpoint, reason: error instanceof Error ? error.message : String(error) },
        { cause: error },
      );
    }
    this.socket = socket;
  }

  /** Called on every failed handshake; zeromq keeps retrying, so this may fire repeatedly. */
  onHandshakeFailure(listener: (failure: HandshakeFailure) => void): void {
    this.failureListeners.push(listener);
  }

  /** The next valid message in scope. Rejects when the subscriber is closed. */
  async receive(): Promise<FeedMessage> {
    for (;;) {
      const socket = this.socket;
      if (!socket || socket.closed)
        throw new DoorstepError('CLOUD_ERR_FEED_STATE', { state: 'closed', operation: 'receive' });
      const [, body] = await socket.receive();
      const message = this.parse(body);
      if (message) return message;
    }
  }

  /** Every valid message in scope until close(). */
  async *messages(): AsyncGenerator<FeedMessage> {
    const socket = this.socket;
    if (!socket) throw new DoorstepError('CLOUD_ERR_FEED_STATE', { state: 'idle', operation: 'messages' });
    try {
      for await (const [, body] of socket) {
        const message = this.parse(body);
        if (message) yield message;
      }
    } catch (error) {
      // Closing the socket under a pending receive ends the stream; other errors are real.
      if (!socket.closed) throw error;
    }
  }

  private parse(body: Buffer | undefined): FeedMessage | undefined {
    this.counts.received++;
    try {
      const parsed = FeedMessage.safeParse(JSON.parse(body?.toString('utf8') ?? ''));
      if (parsed.success) return parsed.data;
    } catch {
      // Not JSON: counted below like any other invalid body.
    }
    this.counts.invalid++;
    return undefined;
  }

  stats(): { received: number; invalid: number; handshakeFailures: number } {
    return { ...this.counts };
  }

  close(): void {
    this.socket?.close();
  }
}
