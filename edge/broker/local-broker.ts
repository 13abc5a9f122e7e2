import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import {
  Aedes,
  type AedesOptions,
  type AedesPublishPacket,
  type AuthenticateError,
  type Client,
  type PublishPacket,
} from 'aedes';
import { type Logger, silentLogger } from '../../common/log.js';
import { DoorstepError } from '../../protocol/errors.js';
import { GatewayId } from '../../protocol/site.js';
import { AccessControl, CONNACK } from './access-control.js';
import { type LocalBrokerConfig, resolveLocalBrokerConfig } from './config.js';
import { topicFilterProblems, topicNameProblems } from './topic-filter.js';
import { parseTopic } from './topics.js';

export interface LocalBrokerOptions {
  /** The gateway's id: the root of its topic tree and the value of `%g` in ACL patterns. */
  gatewayId: string;
  /** Validated here (CFG_ERR_INVALID lists every problem with its path). */
  config: unknown;
  logger?: Logger;
}

export interface BrokerClientInfo {
  clientId: string;
  username: string | undefined;
  remoteAddress: string | undefined;
}

export interface BrokerMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface OutgoingMessage {
  topic: string;
  payload: Buffer | string;
  qos?: 0 | 1;
  retain?: boolean;
}

export interface LocalBrokerEvents {
  clientReady: [BrokerClientInfo];
  clientDisconnect: [BrokerClientInfo];
  /** Granted filters only; refused ones got 0x80 and a `denied` event. */
  subscribed: [BrokerClientInfo & { filters: string[] }];
  refused: [BrokerClientInfo & { returnCode: number; reason: string }];
  denied: [BrokerClientInfo & { action: 'publish' | 'subscribe'; topic: string; reason: string }];
  slowClient: [BrokerClientInfo & { bufferedBytes: number }];
}

type DeliverFunc = (packet: AedesPublishPacket, callback: () => void) => void;

/**
 * The gateway's local MQTT broker (aedes over node:net): authenticates users against scrypt hashes,
 * checks every publish and subscription against per-user ACLs, and lets gateway code publish and
 * subscribe directly (never subject to ACLs). QoS 1 messages for persistent sessions are kept in
 * aedes' in-memory store: they survive a subscriber's outage, not a gateway restart — the outbox
 * (SQLite) is the durable record of alarms. Constructing does no I/O; start() listens.
 */
export class LocalBroker extends EventEmitter<LocalBrokerEvents> {
  readonly gatewayId: string;
  readonly config: Readonly<LocalBrokerConfig>;
  private readonly access: AccessControl;
  private readonly logger: Logger;
  private readonly usernames = new WeakMap<Client, string | undefined>();
  /** Clients that sent an empty client id (MQTT-3.1.3-6): the broker assigned them a random one. */
  private readonly assignedIds = new WeakSet<Client>();
  private readonly clientsBySocket = new WeakMap<Socket, Client>();
  private readonly sockets = new Set<Socket>();
  private readonly internalSubscriptions = new Set<{ filter: string; deliver: DeliverFunc }>();
  private state: 'stopped' | 'starting' | 'running' | 'stopping' = 'stopped';
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private authenticating = 0;

  constructor(options: LocalBrokerOptions) {
    super();
    const gatewayId = GatewayId.safeParse(options.gatewayId);
    if (!gatewayId.success)
      throw new DoorstepError('CFG_ERR_INVALID', {
        count: 1,
        summary: `gatewayId ${JSON.stringify(options.gatewayId)}: ${gatewayId.error.issues[0]?.message}`,
      });
    this.gatewayId = gatewayId.data;
    this.config = resolveLocalBrokerConfig(options.config);
    this.access = new AccessControl(this.config, this.gatewayId);
    this.logger = (options.logger ?? silentLogger()).child({
      component: 'local-broker',
      gateway: this.gatewayId,
    });
  }

  async start(): Promise<void> {
    if (this.state !== 'stopped') return;
    this.state = 'starting';
    const { limits, host, port } = this.config;
    const aedes = await Aedes.createBroker(this.aedesOptions()).catch((error: unknown) => {
      this.state = 'stopped';
      throw error;
    });
    this.watch(aedes);
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      this.guardSlowReader(socket);
      aedes.handle(socket);
    });
    // A hard cap on TCP sockets, counting those that have not sent CONNECT yet (connectTimeout ends them).
    server.maxConnections = limits.maxConnections * 2;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      this.state = 'stopped';
      throw new DoorstepError(
        'EDGE_ERR_BROKER_LISTEN',
        { host, port, reason: (error as Error).message },
        { cause: error },
      );
    }
    server.on('error', (error) => this.logger.error({ err: error }, 'local broker listener failed'));
    this.aedes = aedes;
    this.server = server;
    this.state = 'running';
    this.logger.info({ ...this.address(), users: this.config.users.length }, 'local MQTT broker listening');
  }

  /** Disconnects every client, stops listening and drops the in-memory sessions. */
  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    const { aedes, server } = this;
    const closed = new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
    await new Promise<void>((resolve) => aedes?.close(() => resolve()) ?? resolve());
    // aedes closes registered clients only; sockets that never sent CONNECT are ended here.
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.internalSubscriptions.clear();
    this.aedes = undefined;
    this.server = undefined;
    this.state = 'stopped';
    this.logger.info('local MQTT broker stopped');
  }

  address(): { host: string; port: number } {
    const bound = this.server?.address();
    if (!bound || typeof bound === 'string')
      throw new DoorstepError('EDGE_ERR_BROKER_STATE', { state: this.state, operation: 'address()' });
    return { host: bound.address, port: bound.port };
  }

  connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  /** Publishes as the gateway itself: never subject to ACLs or payload limits. */
  async publish(message: OutgoingMessage): Promise<void> {
    const aedes = this.requireRunning('publish');
    const problems = topicNameProblems(message.topic);
    if (problems.length > 0)
      throw new DoorstepError('EDGE_ERR_BROKER_PUBLISH', {
        topic: message.topic,
        reason: problems.join('; '),
      });
    const packet: PublishPacket = {
      cmd: 'publish',
      topic: message.topic,
      payload: typeof message.payload === 'string' ? Buffer.from(message.payload, 'utf8') : message.payload,
      qos: message.qos ?? 0,
      retain: message.retain ?? false,
      dup: false,
    };
    // Resolves once aedes has stored it (retained / offline sessions) and handed it to every
    // subscriber's send queue; a slow subscriber cannot hold this up (see guardSlowReader).
    await new Promise<void>((resolve, reject) =>
      aedes.publish(packet, (error) =>
        error
          ? reject(
              new DoorstepError(
                'EDGE_ERR_BROKER_PUBLISH',
                { topic: message.topic, reason: error.message },
                { cause: error },
              ),
            )
          : resolve(),
      ),
    );
  }

  /**
   * Subscribes gateway code directly (aedes broker.subscribe: no ACL, no retained replay). The
   * handler runs for every matching message; its errors are logged, never thrown into the broker.
   * Resolves to an unsubscribe function.
   */
  async subscribe(
    filter: string,
    handler: (message: BrokerMessage) => void | Promise<void>,
  ): Promise<() => Promise<void>> {
    const aedes = this.requireRunning('subscribe');
    const problems = topicFilterProblems(filter);
    if (problems.length > 0)
      throw new DoorstepError('EDGE_ERR_BROKER_TOPIC', {
        what: `subscription ${filter}`,
        reason: problems.join('; '),
      });
    const deliver: DeliverFunc = (packet, done) => {
      const message: BrokerMessage = {
        topic: packet.topic,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        qos: packet.qos,
        retain: packet.retain,
      };
      try {
        const pending = handler(message);
        if (pending instanceof Promise)
          pending.catch((error) =>
            this.logger.error({ err: error, topic: packet.topic }, 'internal subscriber failed'),
          );
      } catch (error) {
        this.logger.error({ err: error, topic: packet.topic }, 'internal subscriber failed');
      }
      // Acknowledge at once: a slow handler must not hold one of aedes' delivery slots.
      done();
    };
    await new Promise<void>((resolve) => aedes.subscribe(filter, deliver, () => resolve()));
    const entry = { filter, deliver };
    this.internalSubscriptions.add(entry);
    return async () => {
      if (!this.internalSubscriptions.delete(entry) || this.aedes !== aedes) return;
      await new Promise<void>((resolve) => aedes.unsubscribe(filter, deliver, () => resolve()));
    };
  }

  private aedesOptions(): AedesOptions {
    const { limits } = this.config;
    return {
      id: `doorstep-${this.gatewayId}`,
      concurrency: limits.concurrency,
      queueLimit: limits.queueLimit,
      drainTimeout: limits.drainTimeoutMs,
      connectTimeout: limits.connectTimeoutMs,
      preConnect: (client, packet, done) => {
        // Remember which clients sent no id: aedes gives them a random one before authenticate.
        if (!packet.clientId) this.assignedIds.add(client);
        done(null, true);
      },
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, subscription, done) => {
        const topic = subscription.topic;
        if (this.access.maySubscribe(this.usernames.get(client), topic)) return done(null, subscription);
        this.deny(client, 'subscribe', topic, 'not in the user’s subscribe ACL');
        // MQTT 3.1.1 §3.9.3: a refused filter gets return code 0x80 in SUBACK; the rest still apply.
        done(null, null);
      },
    };
  }

  private requireRunning(operation: string): Aedes {
    if (this.state !== 'running' || !this.aedes)
      throw new DoorstepError('EDGE_ERR_BROKER_STATE', { state: this.state, operation });
    return this.aedes;
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const refuse = (returnCode: number, reason: string) => {
      const info = { ...this.describe(client), username: username || undefined };
      // The password is never logged, not even its length.
      this.logger.warn({ ...info, returnCode, reason }, 'MQTT connection refused');
      this.emit('refused', { ...info, returnCode, reason });
      done(Object.assign(new Error(reason), { returnCode }) as AuthenticateError, null);
    };
    const connected = this.aedes?.connectedClients ?? 0;
    if (connected + this.authenticating >= this.config.limits.maxConnections) {
      refuse(CONNACK.serverUnavailable, `connection limit (${this.config.limits.maxConnections}) reached`);
      return;
    }
    this.authenticating++;
    this.access.authenticate(username, password).then(
      (decision) => {
        this.authenticating--;
        if (!decision.ok) return refuse(decision.returnCode, decision.reason);
        if (!this.access.mayUseClientId(decision.username, client.id, this.assignedIds.has(client)))
          return refuse(CONNACK.identifierRejected, 'client id belongs to another user (see clientIdPrefix)');
        this.usernames.set(client, decision.username);
        this.clientsBySocket.set(client.conn as Socket, client);
        done(null, true);
      },
      (error: unknown) => {
        this.authenticating--;
        this.logger.error({ err: error }, 'password check failed');
        refuse(CONNACK.serverUnavailable, 'password check failed');
      },
    );
  }

  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (error?: Error | null) => void,
  ): void {
    // A null client is a will left by a session this broker no longer knows: nobody to check it against.
    if (!client) {
      done(new Error('will of an unknown client refused'));
      return;
    }
    const size =
      typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
    const limit = this.config.limits.maxPayloadBytes;
    if (size > limit) {
      this.refusePublish(client, packet.topic, `payload of ${size} bytes exceeds ${limit}`, done);
      return;
    }
    if (!this.access.mayPublish(this.usernames.get(client), packet.topic)) {
      this.refusePublish(client, packet.topic, 'not in the user’s publish ACL', done);
      return;
    }
    // MQTT 3.1.1 §3.3.1.3: a retained command would be replayed to every later subscriber, so a
    // "walk test on" could be obeyed again hours later. Commands are never retained.
    const kind = parseTopic(packet.topic)?.kind;
    if (packet.retain && (kind === 'command' || kind === 'command_result')) packet.retain = false;
    done(null);
  }

  /**
   * MQTT 3.1.1 §3.3.5 (MQTT-3.3.5-2): an unauthorised PUBLISH is either acknowledged and dropped or
   * the connection is closed. aedes closes it, which the client notices; nothing is forwarded.
   */
  private refusePublish(
    client: Client,
    topic: string,
    reason: string,
    done: (error?: Error | null) => void,
  ): void {
    this.deny(client, 'publish', topic, reason);
    done(new Error(`publish on ${topic} refused: ${reason}`));
  }

  private deny(client: Client, action: 'publish' | 'subscribe', topic: string, reason: string): void {
    const info = this.describe(client);
    this.logger.warn({ ...info, action, topic, reason }, `MQTT ${action} denied`);
    this.emit('denied', { ...info, action, topic, reason });
  }

  /**
   * The per-client send queue. aedes completes a delivery only when the subscriber's socket has
   * drained, and a message only when all its deliveries have; so one subscriber that stops reading
   * holds aedes' delivery slots and stalls every other subscriber and the gateway's own publishes
   * (pitfall in docs/field-lessons.md) until drainTimeout. Here the socket's own buffer is the
   * client's queue: a write is reported as accepted while the unsent bytes stay within
   * clientBufferBytes, so aedes never waits on one client; past that the client is disconnected.
   * QoS 1 messages of a persistent session stay in its session until acknowledged (MQTT 3.1.1
   * §4.4), so the client gets them when it reconnects; QoS 0 ones are dropped, as QoS 0 allows.
   */
  private guardSlowReader(socket: Socket): void {
    const limit = this.config.limits.clientBufferBytes;
    const write = socket.write as (...args: unknown[]) => boolean;
    let closing = false;
    socket.write = ((...args: unknown[]) => {
      if (write.apply(socket, args) || socket.writableLength <= limit || closing) return true;
      closing = true;
      const client = this.clientsBySocket.get(socket);
      const info = {
        ...(client
          ? this.describe(client)
          : { clientId: '', username: undefined, remoteAddress: socket.remoteAddress }),
        bufferedBytes: socket.writableLength,
      };
      this.logger.warn(info, 'subscriber is not reading; disconnecting it');
      this.emit('slowClient', info);
      // On the next turn: aedes may be in the middle of writing one packet in several writes.
      setImmediate(() => socket.destroy());
      return true;
    }) as Socket['write'];
  }

  private watch(aedes: Aedes): void {
    aedes.on('clientReady', (client) => this.emit('clientReady', this.describe(client)));
    aedes.on('clientDisconnect', (client) => this.emit('clientDisconnect', this.describe(client)));
    aedes.on('subscribe', (subscriptions, client) => {
      const filters = subscriptions.filter((s) => s.qos >= 0 && s.qos <= 2).map((s) => s.topic);
      if (filters.length > 0) this.emit('subscribed', { ...this.describe(client), filters });
    });
    aedes.on('clientError', (client, error) =>
      this.logger.debug({ ...this.describe(client), err: error.message }, 'MQTT client error'),
    );
    aedes.on('connectionError', (client, error) =>
      this.logger.debug(
        { remoteAddress: (client.conn as Socket).remoteAddress, err: error.message },
        'MQTT connection error',
      ),
    );
  }

  private describe(client: Client): BrokerClientInfo {
    return {
      clientId: client.id,
      username: this.usernames.get(client),
      remoteAddress: (client.conn as Socket | undefined)?.remoteAddress,
    };
  }
}
