import { DoorstepError, type UplinkBatch } from '../../protocol/index.js';
import type { IngestLimits } from '../config/schema.js';
import type { CloudStore, GatewayRecord } from '../store/port.js';

/**
 * What a gateway may claim beyond the shape of its batch (protocol/sync.ts checks the shape).
 * A compromised or broken gateway must not be able to skew the district's time line or fill its
 * registry (docs/architecture.md invariant 11: a gateway's clock is never trusted for ordering or bounds).
 *
 * Times: every time in the batch, turned into cloud time with the applied offset, must lie in
 * [enrolment − maxBeforeEnrolmentMs, receivedAt + maxAheadMs]. Out of bounds is refused, never
 * clamped (cloud/README.md, "The clock-offset rule"): a clamped time would be a made-up one, and
 * a 400 naming the row lets the gateway set that row aside and deliver the rest
 * (edge/uplink/rejection.ts).
 */
/**
 * The offset to apply to a batch (cloud/README.md, "The clock-offset rule"): the gateway's own
 * estimate when it sends one. Without one (a gateway that has not had an answer yet, e.g. on first
 * contact after its RTC came up at 2000-01-01), 0 — unless its `sentAt` is itself out of bounds:
 * then `sentAt − receivedAt`, the best the cloud can tell, so the gateway gets the 200 whose
 * `serverTime` lets it measure its offset instead of being refused until its clock is set. The
 * bounds still apply to every time with the offset chosen.
 */
export function chooseOffset(
  gateway: GatewayRecord,
  batch: UplinkBatch,
  receivedAt: number,
  limits: Pick<IngestLimits, 'maxAheadMs' | 'maxBeforeEnrolmentMs'>,
): number {
  const reported = batch.health?.clockOffsetMs;
  if (reported !== undefined) return Math.round(reported);
  const inBounds =
    batch.sentAt >= gateway.createdAt - limits.maxBeforeEnrolmentMs &&
    batch.sentAt <= receivedAt + limits.maxAheadMs;
  return inBounds ? 0 : batch.sentAt - receivedAt;
}

export function checkTimes(
  gateway: GatewayRecord,
  batch: UplinkBatch,
  meta: { receivedAt: number; offsetMs: number },
  limits: Pick<IngestLimits, 'maxAheadMs' | 'maxBeforeEnrolmentMs'>,
): void {
  const earliest = gateway.createdAt - limits.maxBeforeEnrolmentMs;
  const latest = meta.receivedAt + limits.maxAheadMs;
  const check = (field: string, ts: number | undefined) => {
    if (ts === undefined) return;
    const cloudTs = ts - meta.offsetMs;
    if (Number.isFinite(cloudTs) && cloudTs >= earliest && cloudTs <= latest) return;
    const iso = (ms: number) => (Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms));
    throw new DoorstepError('CLOUD_ERR_TIME_RANGE', {
      field,
      reason: `${ts} less the clock offset ${meta.offsetMs} ms is ${iso(cloudTs)} in cloud time, outside ${iso(earliest)} … ${iso(latest)} (the gateway's enrolment less ${limits.maxBeforeEnrolmentMs} ms … the cloud clock plus ${limits.maxAheadMs} ms)`,
      gateway: gateway.id,
    });
  };
  check('sentAt', batch.sentAt);
  batch.alarms.forEach((a, i) => {
    check(`alarms[${i}].transition.ts`, a.transition.ts);
  });
  batch.events.forEach((e, i) => {
    check(`events[${i}].ts`, e.ts);
    const ev = e.event;
    if (ev.kind === 'device_state') {
      check(`events[${i}].event.state.since`, ev.state.since);
      check(`events[${i}].event.state.lastSeen`, ev.state.lastSeen);
    } else if (ev.kind === 'action_result') check(`events[${i}].event.ts`, ev.ts);
    else if (ev.kind === 'unclean_shutdown') {
      check(`events[${i}].event.previousStartedAt`, ev.previousStartedAt);
      check(`events[${i}].event.lastFlushAt`, ev.lastFlushAt);
    }
  });
  const deltas = batch.telemetry?.ts ?? [];
  let ts = 0;
  for (let i = 0; i < deltas.length; i++) {
    ts = i === 0 ? deltas[0]! : ts + deltas[i]!;
    check(`telemetry.ts[${i}]`, ts);
  }
  const health = batch.health;
  if (health) {
    check('health.outbox.oldestPendingTs', health.outbox.oldestPendingTs);
    health.devices?.forEach((d, i) => {
      check(`health.devices[${i}].since`, d.since);
      check(`health.devices[${i}].lastSeen`, d.lastSeen);
    });
  }
}

/**
 * The per-gateway device cap: a batch that would register more than `limit` devices for its
 * gateway is refused (CLOUD_ERR_DEVICE_LIMIT) naming the first row that mentions a device beyond
 * the cap. Devices come from the same places the store registers them from (store/ingest-plan.ts):
 * telemetry series, device_state events, inventory events, health.devices and alarm transitions.
 *
 * Two instances ingesting new devices of one gateway at the same moment can each pass the check;
 * the overshoot is bounded by one batch per instance, and the next batch is refused.
 */
export async function checkDeviceCap(
  store: Pick<CloudStore, 'countDevices' | 'knownDevices'>,
  gateway: GatewayRecord,
  batch: UplinkBatch,
  limit: number,
): Promise<void> {
  // Device → the first field naming it, in batch order.
  const named = new Map<string, string>();
  const note = (device: string, field: string) => {
    if (!named.has(device)) named.set(device, field);
  };
  batch.telemetry?.series.forEach(([device], i) => {
    note(device, `telemetry.series[${i}]`);
  });
  batch.events.forEach((e, i) => {
    if (e.event.kind === 'device_state') note(e.event.state.device, `events[${i}].event.state.device`);
  });
  batch.events.forEach((e, i) => {
    if (e.event.kind === 'inventory')
      e.event.devices.forEach((d, j) => {
        note(d.id, `events[${i}].event.devices[${j}].id`);
      });
  });
  batch.health?.devices?.forEach((d, i) => {
    note(d.device, `health.devices[${i}].device`);
  });
  batch.alarms.forEach((a, i) => {
    note(a.transition.device, `alarms[${i}].transition.device`);
  });
  if (named.size === 0) return;
  const registered = await store.countDevices(gateway.id);
  // The common case: even if every device named were new, the cap holds (one indexed count).
  if (registered + named.size <= limit) return;
  const known = new Set(await store.knownDevices(gateway.id, [...named.keys()]));
  let count = registered;
  for (const [device, field] of named) {
    if (known.has(device)) continue;
    count++;
    if (count > limit)
      throw new DoorstepError('CLOUD_ERR_DEVICE_LIMIT', {
        field,
        gateway: gateway.id,
        device,
        count: registered + [...named.keys()].filter((d) => !known.has(d)).length,
        limit,
      });
  }
}
