import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { z } from 'zod';
import { type Logger, silentLogger } from '../../common/log.js';
import { DeviceId, DoorstepError, type Reading } from '../../protocol/index.js';
import type { Implausibility } from '../profiles/plausibility.js';
import { decodeMqttMessage, type MqttRejectReason, matchTopic } from './decode.js';
import { type MqttJsonProfile, topicPatternProblems } from './profile.js';
import { mqttProfiles } from './profiles.js';

/** One profile on one topic filter, with the sensors it may hear (sensor id → doorstep device id). */
export const MqttSubscription = z.object({
  profile: z.string().min(1),
  /** Overrides the profile's topic filter (still exactly one `+` for the sensor id). */
  topic: z.string().min(1).optional(),
  devices: z.record(z.string().min(1).max(128), DeviceId),
});
export type MqttSubscription = z.infer<typeof MqttSubscription>;

export interface MqttReadings {
  device: string;
  sensor: string;
  topic: string;
  readings: Reading[];
  /** What in the message cannot be true (drivers/profiles/plausibility.ts); empty when all agrees. */
  implausible: Implausibility[];
}

export interface MqttInputStats {
  messages: number;
  readings: number;
  /** Messages on a subscribed topic that no subscription's filter matches (overlapping filters). */
  unmatched: number;
  /** Device timestamps too far from the gateway clock, replaced by gateway time. */
  clockSkewed: number;
  rejected: Record<MqttRejectReason, number>;
}

export interface MqttInputOptions {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883` (the gateway's local broker). */
  url: string;
  subscriptions: readonly MqttSubscription[];
  profiles?: Readonly<Record<string, MqttJsonProfile>>;
  /** Passed to mqtt.connect (clientId, username, password …); doorstep sets reconnect defaults. */
  clientOptions?: IClientOptions;
  qos?: 0 | 1 | 2;
  /** start() rejects with DRV_ERR_LINK_OPEN when the first connection takes longer. */
  connectTimeoutMs?: number;
  clock?: () => number;
  logger?: Logger;
}

interface Active {
  topic: string;
  profile: MqttJsonProfile;
  devices: Readonly<Record<string, string>>;
}

const REJECT_REASONS: MqttRejectReason[] = [
  'unmatched_topic',
  'too_large',
  'not_json',
  'not_object',
  'unknown_device',
  'wrong_type',
  'missing_field',
  'bad_timestamp',
  'no_points',
];

/**
 * MQTT input for MQTT-native sensors: subscribes to each subscription's topic filter and turns
 * every message into readings through its JSON profile. Invalid messages are rejected with
 * DRV_ERR_MQTT_PAYLOAD, counted by reason and reported (onIssue); none of them can stop the input.
 * mqtt.js reconnects and resubscribes by itself after the first connection.
 */
export class MqttInput {
  private readonly options: MqttInputOptions;
  private readonly active: Active[] = [];
  private readonly configIssues: DoorstepError[] = [];
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly readingListeners = new Set<(event: MqttReadings) => void>();
  private readonly issueListeners = new Set<(error: DoorstepError) => void>();
  private readonly seen = new Map<string, number>();
  private readonly counters: MqttInputStats;
  private client: MqttClient | undefined;

  constructor(options: MqttInputOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'mqtt-input' });
    this.counters = {
      messages: 0,
      readings: 0,
      unmatched: 0,
      clockSkewed: 0,
      rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<MqttRejectReason, number>,
    };
    this.bind(options.subscriptions, options.profiles ?? mqttProfiles);
  }

  private bind(
    subscriptions: readonly MqttSubscription[],
    registry: Readonly<Record<string, MqttJsonProfile>>,
  ) {
    subscriptions.forEach((entry, index) => {
      const problems: string[] = [];
      const parsed = MqttSubscription.safeParse(entry);
      let profile: MqttJsonProfile | undefined;
      let topic = '';
      if (!parsed.success) {
        for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
      } else {
        profile = Object.hasOwn(registry, parsed.data.profile) ? registry[parsed.data.profile] : undefined;
        if (!profile) problems.push(`profile: no MQTT profile named ${parsed.data.profile}`);
        topic = parsed.data.topic ?? profile?.topic ?? '';
        for (const problem of topicPatternProblems(topic)) problems.push(`topic: ${problem}`);
      }
      if (problems.length > 0 || !parsed.success || !profile) {
        const summary = problems.map((p) => `subscriptions.${index}.${p}`).join('; ');
        this.configIssues.push(new DoorstepError('CFG_ERR_INVALID', { count: problems.length, summary }));
        return;
      }
      this.active.push({ topic, profile: { ...profile, topic }, devices: parsed.data.devices });
    });
  }

  /** Subscriptions refused at construction, one CFG_ERR_INVALID each; the others run. */
  issues(): readonly DoorstepError[] {
    return this.configIssues;
  }

  onReadings(listener: (event: MqttReadings) => void): () => void {
    this.readingListeners.add(listener);
    return () => this.readingListeners.delete(listener);
  }

  /** Every rejected message, as DRV_ERR_MQTT_PAYLOAD. */
  onIssue(listener: (error: DoorstepError) => void): () => void {
    this.issueListeners.add(listener);
    return () => this.issueListeners.delete(listener);
  }

  /** Device id → gateway time of its last accepted message, for an offline rule. */
  lastSeen(): ReadonlyMap<string, number> {
    return this.seen;
  }

  stats(): MqttInputStats {
    return { ...this.counters, rejected: { ...this.counters.rejected } };
  }

  /** Connects, subscribes, and resolves once subscribed. */
  async start(): Promise<void> {
    if (this.client) return;
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const client = connect(this.options.url, {
      reconnectPeriod: 1000,
      connectTimeout: timeoutMs,
      ...this.options.clientOptions,
    });
    this.client = client;
    client.on('message', (topic, payload) => this.handleMessage(topic, payload));
    client.on('error', (error) => this.logger.warn({ err: error }, 'mqtt client error'));
    client.on('reconnect', () => this.logger.debug('mqtt reconnecting'));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not connected within ${timeoutMs} ms`)), timeoutMs);
        client.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      const topics = Object.fromEntries(this.active.map((a) => [a.topic, { qos: this.options.qos ?? 1 }]));
      if (this.active.length > 0) await client.subscribeAsync(topics);
    } catch (error) {
      this.client = undefined;
      await client.endAsync(true);
      throw new DoorstepError(
        'DRV_ERR_LINK_OPEN',
        { link: `mqtt:${this.options.url}`, reason: (error as Error).message },
        { cause: error },
      );
    }
    this.logger.info(
      { url: this.options.url, topics: this.active.map((a) => a.topic) },
      'mqtt input started',
    );
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.endAsync();
  }

  private handleMessage(topic: string, payload: Buffer): void {
    this.counters.messages++;
    const now = this.clock();
    const candidates = this.active.filter((a) => matchTopic(a.topic, topic) !== undefined);
    if (candidates.length === 0) {
      this.counters.unmatched++;
      return;
    }
    // Overlapping filters: the first subscription whose devices know the sensor decodes it.
    let result: ReturnType<typeof decodeMqttMessage> | undefined;
    for (const candidate of candidates) {
      result = decodeMqttMessage(candidate.profile, topic, payload, { devices: candidate.devices, now });
      if (result.ok || result.reason !== 'unknown_device') break;
    }
    if (!result) return;
    if (!result.ok) {
      this.counters.rejected[result.reason]++;
      this.logger.debug({ topic, reason: result.reason }, result.error.message);
      for (const listener of this.issueListeners) safely(this.logger, () => listener(result.error));
      return;
    }
    if (result.clockSkewed) this.counters.clockSkewed++;
    this.counters.readings += result.readings.length;
    this.seen.set(result.device, now);
    const event: MqttReadings = {
      device: result.device,
      sensor: result.sensor,
      topic,
      readings: result.readings,
      implausible: result.implausible,
    };
    for (const listener of this.readingListeners) safely(this.logger, () => listener(event));
  }
}

function safely(logger: Logger, call: () => void): void {
  try {
    call();
  } catch (error) {
    logger.error({ err: error }, 'mqtt input listener threw');
  }
}
