import type { Logger } from '../../common/log.js';
import {
  DoorstepError,
  type FeedKind,
  type FeedMessage,
  formatSitePath,
  type UplinkBatch,
  type UplinkResponse,
} from '../../protocol/index.js';
import type { LifecycleService } from '../alarms/lifecycle.js';
import type { CommandResult } from '../alarms/store/port.js';
import type { GatewayPrincipal } from '../auth/authenticator.js';
import type { IngestLimits } from '../config/schema.js';
import type { FeedSink } from '../feed-sink.js';
import type { CloudMetrics } from '../http/metrics.js';
import type { CloudStore } from '../store/port.js';
import type { BulkGate } from './bulk-gate.js';
import type { CommandQueue } from './command-queue.js';
import { checkDeviceCap, checkTimes, chooseOffset } from './limits.js';

export interface IngestDeps {
  store: CloudStore;
  commands: CommandQueue;
  metrics: CloudMetrics;
  clock: () => number;
  log: Logger;
  feed?: FeedSink;
  /** The alarm lifecycle (cloud/alarms): cases from transitions, command results on their trails. */
  lifecycle?: Pick<LifecycleService, 'applyTransitions' | 'recordCommandResults'>;
  /** Lets alarms overtake bulk telemetry (bulk-gate.ts). */
  bulk?: BulkGate;
  /** Time bounds and the device cap (limits.ts); the config's defaults when absent. */
  limits?: IngestLimits;
}

/** config `ingest` defaults (cloud/config/schema.ts IngestLimits), for services built without a config. */
const DEFAULT_LIMITS: IngestLimits = {
  maxAheadMs: 86_400_000,
  maxBeforeEnrolmentMs: 30 * 86_400_000,
  maxDevicesPerGateway: 2000,
};

/** Batches with more readings than this are bulk: they step aside for small requests in flight. */
const BULK_READINGS = 1000;

/** An alarm batch whose storing takes longer than this is logged with its phase times. */
const SLOW_ALARM_MS = 25;

/** Commands per response: enough for a walk test of a whole site, small enough for one response. */
const MAX_COMMANDS_PER_RESPONSE = 100;

/**
 * One sync request: validate, check the batch speaks only for its own gateway and site, store it
 * (the store dedups by (gateway, seq) — docs/architecture.md invariant 5), settle answered commands, feed the
 * tiers, and answer with the acknowledgement and the downlink.
 */
export class IngestService {
  constructor(private readonly deps: IngestDeps) {}

  /** `batch` was parsed with the UplinkBatch schema (the router does it, naming the field at fault). */
  async sync(principal: GatewayPrincipal, batch: UplinkBatch): Promise<UplinkResponse> {
    const { store, clock, metrics } = this.deps;
    const gw = principal.gateway;
    // A gateway can never write as another: the body's ids must match the credential's gateway.
    if (batch.gateway !== gw.id)
      throw new DoorstepError('CLOUD_ERR_GATEWAY_MISMATCH', {
        field: 'gateway',
        claimed: batch.gateway,
        gateway: gw.id,
      });
    batch.alarms.forEach((a, i) => {
      if (a.transition.gateway !== gw.id)
        throw new DoorstepError('CLOUD_ERR_GATEWAY_MISMATCH', {
          field: `alarms[${i}].transition.gateway`,
          claimed: a.transition.gateway,
          gateway: gw.id,
        });
    });
    if (formatSitePath(batch.site) !== formatSitePath(gw.site))
      throw new DoorstepError('CLOUD_ERR_SITE_MISMATCH', {
        field: 'site',
        claimed: formatSitePath(batch.site),
        gateway: gw.id,
        site: formatSitePath(gw.site),
      });

    const receivedAt = clock();
    // The offset rule (cloud/README.md): trust the gateway's own estimate of (gateway − cloud),
    // reported with the batch (bounded by the schema); without one, timestamps are stored as sent
    // unless sentAt itself is out of bounds (chooseOffset). Every time it yields must then lie
    // between the enrolment and the cloud clock plus a day, else the batch is refused naming the
    // field (limits.ts) — nothing is stored.
    const limits = this.deps.limits ?? DEFAULT_LIMITS;
    const offsetMs = chooseOffset(gw, batch, receivedAt, limits);
    checkTimes(gw, batch, { receivedAt, offsetMs }, limits);
    await checkDeviceCap(store, gw, batch, limits.maxDevicesPerGateway);
    // A backlog batch lets alarms that arrived meanwhile be stored first (GB 26875.1-2011 §4.1.2.3).
    const bulk = (batch.telemetry?.seq.length ?? 0) > BULK_READINGS ? this.deps.bulk : undefined;
    await bulk?.whenNoSmall();
    // Phase times of alarm batches, logged when the answer is slow (target: stored within 50 ms).
    const t0 = performance.now();
    const result = await store.ingestBatch(gw, batch, {
      receivedAt,
      offsetMs,
      ...(bulk ? { smallInFlight: bulk.smallInFlight } : {}),
    });
    const t1 = performance.now();

    const isNew = result.stored.alarms + result.stored.events + result.stored.telemetry > 0;
    metrics.ingestBatches.inc({ result: isNew ? 'stored' : 'duplicate' });
    metrics.ingestReadings.inc(result.stored.telemetry);
    metrics.ingestAlarms.inc(result.stored.alarms);
    for (const cls of ['alarms', 'events', 'telemetry'] as const)
      if (result.duplicates[cls] > 0) metrics.ingestDuplicates.inc({ class: cls }, result.duplicates[cls]);

    // The device registry (cloud/store/README.md "The device registry"): every inventory part of
    // the batch, retried or not — applying a part is idempotent, so a batch resent after a failure
    // here still reaches the registry before it is acknowledged. Before the alarm cases: a case
    // opened by this batch takes its location label from the inventory that came with it.
    for (const { event } of batch.events) {
      if (event.kind !== 'inventory') continue;
      try {
        const applied = await store.applyInventory(gw, event, receivedAt);
        if (applied.added + applied.moved + applied.removed > 0)
          this.deps.log.info(
            { gateway: gw.id, generation: event.generation, part: event.part, ...applied },
            'device inventory applied',
          );
      } catch (error) {
        throw new DoorstepError(
          'CLOUD_ERR_UNAVAILABLE',
          {
            reason: `the device registry could not be updated: ${error instanceof Error ? error.message : String(error)}`,
          },
          { cause: error },
        );
      }
    }

    const lifecycle = this.deps.lifecycle;
    if (lifecycle && batch.alarms.length > 0) {
      // Every transition of the batch, not only result.newAlarms: the lifecycle is idempotent by
      // (gateway, alarm id, state), so a batch retried after a failure here (the store already
      // has it, newAlarms would be empty) still gets its cases — nothing acknowledged is lost.
      try {
        await lifecycle.applyTransitions(
          batch.alarms.map((a) => a.transition),
          { site: gw.site, offsetMs },
        );
      } catch (error) {
        // Not acknowledged: the gateway keeps the batch and retries (docs/architecture.md invariant 4).
        throw new DoorstepError(
          'CLOUD_ERR_UNAVAILABLE',
          {
            reason: `alarm cases could not be updated: ${error instanceof Error ? error.message : String(error)}`,
          },
          { cause: error },
        );
      }
    }

    const results: CommandResult[] = batch.events.flatMap(({ event }) => {
      // protocol/sync.ts: a command_result carries the DownlinkCommand's id in `id`.
      if (event.kind !== 'command_result' || event.id === undefined) return [];
      const { id, ok, error, command } = event;
      return [
        {
          id,
          ...(ok !== undefined ? { ok } : {}),
          ...(error !== undefined ? { error } : {}),
          ...(command !== undefined ? { command } : {}),
        },
      ];
    });
    if (results.length > 0) {
      // The case trail first (it settles store-queued commands), then the queue itself.
      await lifecycle?.recordCommandResults(gw.id, results);
      await this.deps.commands.markDelivered(
        gw.id,
        results.map((r) => r.id),
      );
    }

    const t2 = performance.now();

    this.publish(gw.id, batch, result.newAlarms, result.newDeviceStates, receivedAt);

    const response: UplinkResponse = {
      // Answered in the batch's own version: a gateway of an older version keeps understanding it.
      v: batch.v,
      ackedBatchSeq: batch.batchSeq,
      stored: result.stored,
      duplicates: result.duplicates,
      serverTime: receivedAt,
      appliedOffsetMs: offsetMs,
      commands: await this.deps.commands.pendingFor(gw.id, MAX_COMMANDS_PER_RESPONSE),
    };
    const t3 = performance.now();
    if (batch.alarms.length > 0 && t3 - t0 > SLOW_ALARM_MS)
      this.deps.log.warn(
        {
          gateway: gw.id,
          batchSeq: batch.batchSeq,
          storeMs: Math.round(t1 - t0),
          casesMs: Math.round(t2 - t1),
          commandsMs: Math.round(t3 - t2),
        },
        'slow alarm sync',
      );
    return response;
  }

  /** Counts a refused sync request; malformed batches also count in the gateway's health. */
  async rejected(gateway: string | undefined, code: string, malformed: boolean): Promise<void> {
    this.deps.metrics.ingestBatches.inc({ result: 'rejected' });
    this.deps.metrics.ingestRejections.inc({ code });
    if (gateway && malformed) {
      try {
        await this.deps.store.recordRejectedBatch(gateway, this.deps.clock());
      } catch (error) {
        this.deps.log.warn({ err: error, gateway }, 'cannot record a rejected batch');
      }
    }
  }

  /**
   * Feed publication happens after the batch is stored and never fails the request: the feed is
   * a view for the tiers; the store (and the alarm lifecycle reading it) is the record.
   */
  private publish(
    gateway: string,
    batch: UplinkBatch,
    alarms: readonly object[],
    devices: readonly object[],
    ts: number,
  ): void {
    const feed = this.deps.feed;
    if (!feed) return;
    const send = (kind: FeedKind, data: object) => {
      const msg: FeedMessage = { v: 1, kind, site: batch.site, gateway, ts, data: { ...data } };
      try {
        feed.publish(msg);
      } catch (error) {
        this.deps.log.warn({ err: error, kind, gateway }, 'feed publish failed');
      }
    };
    for (const alarm of alarms) send('alarm', alarm);
    for (const device of devices) send('device', device);
    if (batch.health) send('gateway', { batchSeq: batch.batchSeq, lastSyncAt: ts, report: batch.health });
  }
}
