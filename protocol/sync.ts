import { z } from 'zod';
import { AlarmTransition } from './alarm.js';
import { DeviceLinkState } from './device.js';
import { InventoryEvent } from './inventory.js';
import { type Quality, ReadingValue } from './reading.js';
import { DeviceId, GatewayId, PointId, SitePath } from './site.js';

/**
 * The edge → cloud sync contract (one HTTP POST per batch, gzip-compressed JSON). Gateways behind
 * 4G NAT always initiate; the cloud's answer carries acknowledgements and the downlink.
 *
 * Exactly once (docs/architecture.md invariant 5): every record carries its outbox `seq`, unique and monotonic
 * per gateway and never reused. The cloud stores a record at most once per (gateway, seq) and an
 * alarm transition at most once per (alarm id, state); a retried, replayed or reordered batch
 * stores nothing twice. Rows leave the gateway's outbox only when a response acknowledges their
 * batch (`ackedBatchSeq`).
 */

/**
 * The sync contract's version, sent as `v` in every batch and echoed in every response.
 * - 1: alarms, events (device_state, command_result, action_result, unclean_shutdown), telemetry, health.
 * - 2: adds the `inventory` event (protocol/inventory.ts). A gateway speaking 1 keeps working: the
 *   cloud accepts every version in SYNC_PROTOCOL_VERSIONS and answers in the batch's own version;
 *   an `inventory` event in a version-1 batch is refused (400 naming it).
 * The cloud is upgraded before its gateways (an older cloud refuses a version-2 batch).
 */
export const SYNC_PROTOCOL_VERSION = 2;
export const SYNC_PROTOCOL_VERSIONS = [1, 2] as const;
export type SyncProtocolVersion = (typeof SYNC_PROTOCOL_VERSIONS)[number];
const Version = z.union([z.literal(1), z.literal(2)]);

const Seq = z.number().int().positive();
/**
 * Milliseconds since the epoch, at most the last instant a JavaScript Date can hold (ECMA-262
 * §21.4.1.1: ±8.64e15 ms). Whether a time is plausible for this gateway now is the cloud's call
 * (cloud/README.md, "The clock-offset rule"), not the schema's.
 */
const Ts = z.number().int().nonnegative().max(8.64e15);
/**
 * The largest gateway − cloud clock offset a gateway may report: a century either way, wide
 * enough for a gateway whose RTC came up at 1970 after losing power, far below values (±1e308)
 * that turn every stored time into nonsense.
 */
export const MAX_CLOCK_OFFSET_MS = 100 * 365.25 * 86_400_000;

export const UplinkAlarm = z.object({ seq: Seq, transition: AlarmTransition }).strict();
export type UplinkAlarm = z.infer<typeof UplinkAlarm>;

/** A device id as it appears in events and health: a slug, or `-` for "no device" (a reload). */
const EventDevice = DeviceId.or(z.literal('-'));
/** A catalogue error code or a short reason, as gateways put in `reason` and `error` fields. */
const ShortText = (max: number) => z.string().max(max);

/**
 * A device's link state as a gateway reports it (device_state events, `health.devices`): the
 * edge's DeviceLinkState with its device id held to a slug and its texts bounded, and nothing
 * else — an unknown field is refused, not stored.
 */
export const WireDeviceLinkState = DeviceLinkState.extend({
  device: DeviceId,
  reason: ShortText(64).optional(),
  detail: ShortText(1024).optional(),
}).strict();
export type WireDeviceLinkState = z.infer<typeof WireDeviceLinkState>;

/** The commands a gateway answers (DownlinkCommand.kind, and the same commands from its local MQTT API). */
const CommandKind = z.enum(['ack', 'silence', 'reset', 'walk_test']);

/**
 * Gateway events, one strict schema per kind (an unknown kind or field is refused with 400 naming
 * it, never stored):
 * - `device_state` {state: WireDeviceLinkState} — a device went online, faulty or offline (or its
 *   reason changed);
 * - `command_result` {id?, command?, ok?, error?, device?, by?, source?} — `id` is the
 *   DownlinkCommand's id (absent for local MQTT commands); the cloud stops re-sending a command
 *   once answered;
 * - `action_result` {action, alarm, device, type, step, ok, error?, ts} — a local output was switched;
 * - `unclean_shutdown` {previousStartedAt, lastFlushAt?, windowMs, estimatedReadings} — the
 *   previous run ended without a clean stop (kill -9, power loss): the telemetry still in memory
 *   then is lost, at most `windowMs` after `lastFlushAt`, about `estimatedReadings` readings
 *   (edge/outbox/README.md).
 * - `inventory` {generation, part, parts, devices} — one part of the gateway's full device list
 *   (protocol/inventory.ts; sync version 2).
 */
export const DeviceStateEvent = z
  .object({ kind: z.literal('device_state'), state: WireDeviceLinkState })
  .strict();
export const CommandResultEvent = z
  .object({
    kind: z.literal('command_result'),
    id: z.string().min(1).max(64).optional(),
    command: CommandKind.optional(),
    ok: z.boolean().optional(),
    error: ShortText(512).optional(),
    device: DeviceId.optional(),
    by: ShortText(120).optional(),
    source: z.enum(['local', 'cloud']).optional(),
  })
  .strict();
export const ActionResultEvent = z
  .object({
    kind: z.literal('action_result'),
    action: ShortText(64),
    alarm: ShortText(96),
    device: EventDevice,
    type: ShortText(64),
    step: z.enum(['activate', 'release']),
    ok: z.boolean(),
    error: ShortText(512).optional(),
    ts: Ts,
  })
  .strict();
export const UncleanShutdownEvent = z
  .object({
    kind: z.literal('unclean_shutdown'),
    previousStartedAt: Ts,
    lastFlushAt: Ts.optional(),
    /** One telemetry flush interval at most (edge config `telemetry.flushIntervalMs`). */
    windowMs: z.number().int().nonnegative().max(3_600_000),
    estimatedReadings: z.number().int().nonnegative().max(10_000_000),
  })
  .strict();
export const GatewayEvent = z.discriminatedUnion('kind', [
  DeviceStateEvent,
  CommandResultEvent,
  ActionResultEvent,
  UncleanShutdownEvent,
  InventoryEvent,
]);
export type GatewayEvent = z.infer<typeof GatewayEvent>;

export const UplinkEvent = z.object({ seq: Seq, ts: Ts, event: GatewayEvent }).strict();
export type UplinkEvent = z.infer<typeof UplinkEvent>;

/**
 * Telemetry in columns, so that gzip sees long runs of alike values (target ≤ 16 bytes a reading
 * on the wire): a dictionary of series (device, point, unit) and parallel arrays of equal length.
 * `seq` and `ts` are delta-coded: the first element is absolute, each next one the difference to
 * the previous (deltas may be negative for ts; seq deltas are positive, rows come in seq order).
 * `q` holds one character per reading: g(ood), u(ncertain), b(ad).
 */
export const TelemetryColumns = z
  .object({
    series: z.array(z.tuple([DeviceId, PointId, z.string().max(16)])).max(100_000),
    seq: z.array(z.number().int()),
    key: z.array(z.number().int().nonnegative()),
    ts: z.array(z.number().int()),
    value: z.array(ReadingValue),
    q: z.string().regex(/^[gub]*$/),
  })
  .strict()
  .superRefine((t, ctx) => {
    const n = t.seq.length;
    for (const field of ['key', 'ts', 'value'] as const) {
      if (t[field].length !== n)
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `has ${t[field].length} entries, seq has ${n}`,
        });
    }
    if (t.q.length !== n)
      ctx.addIssue({ code: 'custom', path: ['q'], message: `has ${t.q.length} entries, seq has ${n}` });
    t.key.forEach((k, i) => {
      if (k >= t.series.length)
        ctx.addIssue({ code: 'custom', path: ['key', i], message: `series index ${k} is not in series[]` });
    });
    t.seq.forEach((s, i) => {
      // Rows come in seq order, so every delta is positive; the first (absolute) seq is ≥ 1 too.
      if (s < 1)
        ctx.addIssue({
          code: 'custom',
          path: ['seq', i],
          message: i === 0 ? 'first seq must be ≥ 1' : 'seq deltas must be ≥ 1',
        });
    });
  });
export type TelemetryColumns = z.infer<typeof TelemetryColumns>;

export const QUALITY_CODE: Record<Quality, string> = { good: 'g', uncertain: 'u', bad: 'b' };
export const QUALITY_FROM_CODE: Record<string, Quality> = { g: 'good', u: 'uncertain', b: 'bad' };

/** What the gateway says about itself with every batch (shown in the cloud's gateway health). */
export const GatewayHealthReport = z
  .object({
    software: z.string().max(64),
    uptimeS: z.number().nonnegative().max(MAX_CLOCK_OFFSET_MS),
    outbox: z
      .object({
        pending: z.record(z.enum(['alarm', 'event', 'telemetry']), z.number().int().nonnegative()),
        dropped: z.record(z.string(), z.number().int().nonnegative()),
        quarantined: z.number().int().nonnegative(),
        oldestPendingTs: Ts.optional(),
      })
      .strict(),
    /** Gateway clock minus cloud clock, ms, as the gateway estimates it from responses. */
    clockOffsetMs: z.number().min(-MAX_CLOCK_OFFSET_MS).max(MAX_CLOCK_OFFSET_MS).optional(),
    devices: z.array(WireDeviceLinkState).max(5000).optional(),
  })
  .strict();
export type GatewayHealthReport = z.infer<typeof GatewayHealthReport>;

export const UplinkBatch = z
  .object({
    v: Version,
    gateway: GatewayId,
    site: SitePath,
    /** Monotonic per gateway; a resend of an unacknowledged batch keeps its number. */
    batchSeq: Seq,
    /** Gateway clock when the batch was (first) sent. */
    sentAt: Ts,
    alarms: z.array(UplinkAlarm).max(10_000).default([]),
    events: z.array(UplinkEvent).max(10_000).default([]),
    telemetry: TelemetryColumns.optional(),
    health: GatewayHealthReport.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.v >= 2) return;
    b.events.forEach((e, i) => {
      if (e.event.kind === 'inventory')
        ctx.addIssue({
          code: 'custom',
          path: ['events', i, 'event', 'kind'],
          message: 'an inventory event needs sync protocol version 2 (v: 2)',
        });
    });
  });
export type UplinkBatch = z.infer<typeof UplinkBatch>;
export type UplinkBatchInput = z.input<typeof UplinkBatch>;

/** A command from the cloud to a gateway, delivered in a response, answered by a `command_result` event. */
export const DownlinkCommand = z
  .object({
    id: z.string().min(1).max(64),
    kind: z.enum(['ack', 'silence', 'reset', 'walk_test']),
    device: DeviceId,
    /** Alarm type (ack, silence, reset). */
    type: z.string().max(64).optional(),
    /** Alarm id the command is about, when known. */
    alarm: z.string().max(96).optional(),
    /** walk_test on/off. */
    on: z.boolean().optional(),
    /** Who asked, for the gateway's log and the local broker. */
    by: z.string().max(120),
    issuedAt: Ts,
  })
  .strict();
export type DownlinkCommand = z.infer<typeof DownlinkCommand>;

export const UplinkResponse = z
  .object({
    /** The version of the batch it answers. */
    v: Version,
    /** Every record of this batch is durably stored (now or before): the gateway may delete them. */
    ackedBatchSeq: Seq,
    stored: z
      .object({ alarms: z.number().int(), events: z.number().int(), telemetry: z.number().int() })
      .strict(),
    duplicates: z
      .object({ alarms: z.number().int(), events: z.number().int(), telemetry: z.number().int() })
      .strict(),
    /** Cloud clock when the batch was received, ms. */
    serverTime: Ts,
    /** The offset (gateway − cloud, ms) the cloud applied when it stored this batch's timestamps. */
    appliedOffsetMs: z.number(),
    commands: z.array(DownlinkCommand).default([]),
    /** Versions the gateway should have; a newer one means "fetch it". */
    config: z
      .object({ version: z.string().max(64), url: z.string().max(512).optional() })
      .strict()
      .optional(),
  })
  .strict();
export type UplinkResponse = z.infer<typeof UplinkResponse>;

/** Error body of every 4xx/5xx from the cloud: a code from the catalogue and the field at fault. */
export const ErrorBody = z
  .object({
    error: z
      .object({
        code: z.string(),
        message: z.string(),
        /** Dotted path of the offending field, when one is at fault. */
        field: z.string().optional(),
      })
      .strict(),
  })
  .strict();
export type ErrorBody = z.infer<typeof ErrorBody>;

/** A reading as the cloud stores it: the gateway's values plus where it came from. */
export interface StoredReading {
  gateway: string;
  seq: number;
  device: string;
  point: string;
  value: number | boolean | string;
  unit: string;
  quality: Quality;
  /** Gateway clock, as sent. */
  ts: number;
  /** The offset (gateway − cloud) applied: cloud time = ts − offsetMs. */
  offsetMs: number;
}

/** Expands columnar telemetry back into rows (cloud side, and tests). */
export function expandTelemetry(t: TelemetryColumns): Array<{
  seq: number;
  device: string;
  point: string;
  unit: string;
  value: number | boolean | string;
  quality: Quality;
  ts: number;
}> {
  const out = new Array(t.seq.length);
  let seq = 0;
  let ts = 0;
  for (let i = 0; i < t.seq.length; i++) {
    seq = i === 0 ? t.seq[0]! : seq + t.seq[i]!;
    ts = i === 0 ? t.ts[0]! : ts + t.ts[i]!;
    const [device, point, unit] = t.series[t.key[i]!]!;
    out[i] = {
      seq,
      device,
      point,
      unit,
      value: t.value[i]!,
      quality: QUALITY_FROM_CODE[t.q[i]!] ?? 'good',
      ts,
    };
  }
  return out;
}

/** Builds columnar telemetry from rows sorted by seq (edge side, and tests). */
export function packTelemetry(
  rows: ReadonlyArray<{
    seq: number;
    device: string;
    point: string;
    unit: string;
    value: number | boolean | string;
    quality: Quality;
    ts: number;
  }>,
): TelemetryColumns {
  const index = new Map<string, number>();
  const t: TelemetryColumns = { series: [], seq: [], key: [], ts: [], value: [], q: '' };
  let q = '';
  let prevSeq = 0;
  let prevTs = 0;
  rows.forEach((r, i) => {
    const name = `${r.device}\u0000${r.point}\u0000${r.unit}`;
    let k = index.get(name);
    if (k === undefined) {
      k = t.series.length;
      index.set(name, k);
      t.series.push([r.device, r.point, r.unit]);
    }
    t.seq.push(i === 0 ? r.seq : r.seq - prevSeq);
    t.ts.push(i === 0 ? r.ts : r.ts - prevTs);
    t.key.push(k);
    t.value.push(r.value);
    q += QUALITY_CODE[r.quality];
    prevSeq = r.seq;
    prevTs = r.ts;
  });
  t.q = q;
  return t;
}
