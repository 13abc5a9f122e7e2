/**
 * Turns one validated UplinkBatch into the rows every adapter stores: readings (expanded from the
 * columnar telemetry), events, alarm transitions, the devices seen, one health patch per device
 * and the gateway's report. Pure and adapter-independent, so the memory, SQLite and PostgreSQL
 * stores cannot disagree on what a batch means; they differ only in how they insert it.
 *
 * Times: the gateway's `ts` is kept as sent; `cloudTs = ts − offsetMs` (offset = gateway − cloud,
 * see UplinkResponse.appliedOffsetMs). Health times (lastSeen, link `since`) are cloud time.
 */
import {
  type AlarmTransition,
  DeviceLinkState,
  DoorstepError,
  expandTelemetry,
  type GatewayHealthReport,
  QUALITY_CODE,
  type UplinkBatch,
} from '../../protocol/index.js';
import { sitePathString } from './common.js';
import type { GatewayRecord } from './port.js';

/** value_kind in storage: 0 number, 1 boolean (stored as 0/1 in the numeric column), 2 text. */
export type ValueKind = 0 | 1 | 2;

export interface ReadingInsert {
  seq: number;
  /** Index of (device, point, unit) in IngestPlan.series. */
  key: number;
  device: string;
  point: string;
  unit: string;
  /** g / u / b, as on the wire. */
  q: string;
  kind: ValueKind;
  num: number | null;
  text: string | null;
  ts: number;
  cloudTs: number;
}

export interface EventInsert {
  seq: number;
  ts: number;
  cloudTs: number;
  kind: string;
  body: string;
  /** Set when the event is a valid `device_state` event. */
  deviceState?: DeviceLinkState;
}

export interface AlarmInsert {
  seq: number;
  transition: AlarmTransition;
  cloudTs: number;
  body: string;
}

/** What one batch says about one device; null = says nothing. All times cloud time. */
export interface DevicePatch {
  device: string;
  linkState: string | null;
  linkReason: string | null;
  linkSince: number | null;
  /**
   * The link state is only implied by a reading ("it answered, so online"). A faulty device
   * answers too, with readings from its working blocks: an implied online never replaces a stored
   * `faulty` (see withoutImpliedOverFaulty); only the gateway's own word does.
   */
  linkImplied: boolean;
  lastSeen: number | null;
  battery: number | null;
  batteryTs: number | null;
  batteryLow: boolean | null;
  batteryLowTs: number | null;
  signal: number | null;
  signalTs: number | null;
  fault: boolean | null;
  faultTs: number | null;
}

export interface IngestPlan {
  gateway: string;
  sitePath: string;
  batchSeq: number;
  receivedAt: number;
  offsetMs: number;
  readings: ReadingInsert[];
  /** The batch's series dictionary: (device, point, unit) by ReadingInsert.key. */
  series: ReadonlyArray<readonly [string, string, string]>;
  events: EventInsert[];
  alarms: AlarmInsert[];
  /** Every device the batch mentions, sorted (a fixed lock order against deadlocks). */
  devices: string[];
  /** One patch per device in `devices`, same order. */
  patches: DevicePatch[];
  /** The gateway's report without its per-device list (that goes to device health). */
  report: Omit<GatewayHealthReport, 'devices'> | null;
}

function emptyPatch(device: string): DevicePatch {
  return {
    device,
    linkState: null,
    linkReason: null,
    linkSince: null,
    linkImplied: false,
    lastSeen: null,
    battery: null,
    batteryTs: null,
    batteryLow: null,
    batteryLowTs: null,
    signal: null,
    signalTs: null,
    fault: null,
    faultTs: null,
  };
}

const later = (candidate: number, current: number | null) => current === null || candidate >= current;

/** Rejects records that name another gateway than the credentials' one (invariant 10: changes nothing). */
function checkGateway(gateway: GatewayRecord, batch: UplinkBatch): void {
  const mismatch = (got: string, field: string) =>
    new DoorstepError('CLOUD_ERR_STORE_GATEWAY_MISMATCH', { expected: gateway.id, got, field });
  if (batch.gateway !== gateway.id) throw mismatch(batch.gateway, 'gateway');
  batch.alarms.forEach((a, i) => {
    if (a.transition.gateway !== gateway.id)
      throw mismatch(a.transition.gateway, `alarms.${i}.transition.gateway`);
  });
}

export function planIngest(
  gateway: GatewayRecord,
  batch: UplinkBatch,
  meta: { receivedAt: number; offsetMs: number },
): IngestPlan {
  checkGateway(gateway, batch);
  const { offsetMs } = meta;
  const patches = new Map<string, DevicePatch>();
  const patch = (device: string) => {
    let p = patches.get(device);
    if (!p) {
      p = emptyPatch(device);
      patches.set(device, p);
    }
    return p;
  };
  const applyLink = (s: DeviceLinkState) => {
    const p = patch(s.device);
    const since = s.since - offsetMs;
    if (later(since, p.linkSince)) {
      p.linkState = s.state;
      p.linkReason = s.state === 'online' ? null : (s.reason ?? null);
      p.linkSince = since;
      p.linkImplied = false;
    }
    if (s.lastSeen !== undefined) p.lastSeen = Math.max(p.lastSeen ?? -Infinity, s.lastSeen - offsetMs);
  };

  const readings: ReadingInsert[] = [];
  const implied = new Map<string, number>();
  const keys = batch.telemetry?.key ?? [];
  for (const [i, r] of (batch.telemetry ? expandTelemetry(batch.telemetry) : []).entries()) {
    const cloudTs = r.ts - offsetMs;
    const v = r.value;
    const kind: ValueKind = typeof v === 'number' ? 0 : typeof v === 'boolean' ? 1 : 2;
    readings.push({
      seq: r.seq,
      key: keys[i]!,
      device: r.device,
      point: r.point,
      unit: r.unit,
      q: QUALITY_CODE[r.quality],
      kind,
      num: kind === 0 ? (v as number) : kind === 1 ? (v ? 1 : 0) : null,
      text: kind === 2 ? (v as string) : null,
      ts: r.ts,
      cloudTs,
    });
    const p = patch(r.device);
    // Any reading means the device answered: lastSeen, and "online" unless a later link change says otherwise.
    p.lastSeen = Math.max(p.lastSeen ?? -Infinity, cloudTs);
    implied.set(r.device, Math.max(implied.get(r.device) ?? -Infinity, cloudTs));
    // Diagnostic points shared by every profile (protocol/reading.ts STANDARD_POINTS.diagnostics).
    if (r.point === 'battery') {
      if (typeof v === 'number' && later(cloudTs, p.batteryTs)) [p.battery, p.batteryTs] = [v, cloudTs];
      if (typeof v === 'boolean' && later(cloudTs, p.batteryLowTs))
        [p.batteryLow, p.batteryLowTs] = [v, cloudTs];
    } else if (r.point === 'battery_low' && typeof v !== 'string' && later(cloudTs, p.batteryLowTs)) {
      [p.batteryLow, p.batteryLowTs] = [v !== false && v !== 0, cloudTs];
    } else if (r.point === 'signal' && typeof v === 'number' && later(cloudTs, p.signalTs)) {
      [p.signal, p.signalTs] = [v, cloudTs];
    } else if (r.point === 'fault' && typeof v !== 'string' && later(cloudTs, p.faultTs)) {
      [p.fault, p.faultTs] = [v !== false && v !== 0, cloudTs];
    }
  }

  const events: EventInsert[] = batch.events.map((e) => {
    const out: EventInsert = {
      seq: e.seq,
      ts: e.ts,
      cloudTs: e.ts - offsetMs,
      kind: e.event.kind,
      body: JSON.stringify(e.event),
    };
    if (e.event.kind === 'device_state') {
      const parsed = DeviceLinkState.safeParse(e.event.state);
      if (parsed.success) {
        out.deviceState = parsed.data;
        applyLink(parsed.data);
      }
    }
    return out;
  });
  for (const s of batch.health?.devices ?? []) applyLink(s);
  // A reading newer than every link change reported means the device is online now — unless it
  // is faulty: a faulty device answers, and its working blocks still deliver readings.
  for (const [device, ts] of implied) {
    const p = patch(device);
    if (p.linkState === 'faulty') continue;
    if (p.linkSince === null || ts > p.linkSince) {
      p.linkState = 'online';
      p.linkReason = null;
      p.linkSince = ts;
      p.linkImplied = true;
    }
  }

  const alarms: AlarmInsert[] = batch.alarms.map((a) => {
    patch(a.transition.device);
    return {
      seq: a.seq,
      transition: a.transition,
      cloudTs: a.transition.ts - offsetMs,
      body: JSON.stringify(a.transition),
    };
  });

  const devices = [...patches.keys()].sort();
  let report: IngestPlan['report'] = null;
  if (batch.health) {
    const { devices: _devices, ...rest } = batch.health;
    report = rest;
  }
  return {
    gateway: gateway.id,
    sitePath: sitePathString(gateway.site),
    batchSeq: batch.batchSeq,
    receivedAt: meta.receivedAt,
    offsetMs,
    readings,
    series: batch.telemetry?.series ?? [],
    events,
    alarms,
    devices,
    patches: devices.map((d) => patches.get(d)!),
    report,
  };
}

/**
 * The plan without the implied "online" of devices stored as `faulty` (`faulty`: their ids): a
 * reading from a device's working block does not end its fault; the gateway says when it ends.
 * Adapters call it inside the ingest transaction with the stored states.
 */
export function withoutImpliedOverFaulty(plan: IngestPlan, faulty: ReadonlySet<string>): IngestPlan {
  if (faulty.size === 0 || !plan.patches.some((p) => p.linkImplied && faulty.has(p.device))) return plan;
  return {
    ...plan,
    patches: plan.patches.map((p) =>
      p.linkImplied && faulty.has(p.device)
        ? { ...p, linkState: null, linkReason: null, linkSince: null, linkImplied: false }
        : p,
    ),
  };
}

/** Devices of the plan whose link state is only implied by readings (the ones to check for `faulty`). */
export function impliedDevices(plan: IngestPlan): string[] {
  return plan.patches.filter((p) => p.linkImplied).map((p) => p.device);
}
