import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import {
  AlarmTransition,
  GatewayEvent,
  type GatewayHealthReport,
  packTelemetry,
  Reading,
  type SitePath,
  SYNC_PROTOCOL_VERSION,
  type UplinkAlarm,
  type UplinkBatchInput,
  type UplinkEvent,
} from '../../protocol/index.js';
import type { OutboxClass, OutboxRecord } from '../outbox/types.js';
import type { PersistedBatch } from './types.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export interface InvalidRow {
  seq: number;
  cls: OutboxClass;
  reason: string;
}

/**
 * Checks every record against the sync schemas before it leaves the gateway, so a producer's bad
 * row is quarantined here with its own reason instead of making the cloud reject (and the uplink
 * quarantine) the whole batch around it (docs/field-lessons.md complaint 7).
 */
export function checkRecords(
  records: readonly OutboxRecord[],
  gateway: string,
): { sendable: OutboxRecord[]; invalid: InvalidRow[] } {
  const sendable: OutboxRecord[] = [];
  const invalid: InvalidRow[] = [];
  for (const record of records) {
    const reason = problemOf(record, gateway);
    if (reason === undefined) sendable.push(record);
    else invalid.push({ seq: record.seq, cls: record.class, reason });
  }
  return { sendable, invalid };
}

function problemOf(record: OutboxRecord, gateway: string): string | undefined {
  if (!Number.isSafeInteger(record.ts) || record.ts < 0) return `ts ${record.ts} is not a timestamp`;
  const parsed =
    record.class === 'alarm'
      ? AlarmTransition.safeParse(record.payload)
      : record.class === 'event'
        ? GatewayEvent.safeParse(record.payload)
        : Reading.safeParse(record.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `${issue?.path.join('.') || 'payload'}: ${issue?.message ?? 'invalid'}`;
  }
  if (record.class === 'alarm' && record.payload.gateway !== gateway)
    return `alarm names gateway ${record.payload.gateway}, this is ${gateway}`;
  return undefined;
}

export function countByClass(records: readonly OutboxRecord[]): Record<OutboxClass, number> {
  const counts: Record<OutboxClass, number> = { alarm: 0, event: 0, telemetry: 0 };
  for (const r of records) counts[r.class]++;
  return counts;
}

/**
 * The UplinkBatch for these records: alarms {seq, transition}, events {seq, ts, event}, telemetry
 * packed into columns in seq order (packTelemetry delta-codes seq and needs it ascending; the
 * outbox hands telemetry newest-first so the live edge is in the batch, not so it is packed so).
 */
export function buildBatch(input: {
  gateway: string;
  site: SitePath;
  batchSeq: number;
  sentAt: number;
  records: readonly OutboxRecord[];
  health?: GatewayHealthReport | undefined;
}): UplinkBatchInput {
  const alarms: UplinkAlarm[] = [];
  const events: UplinkEvent[] = [];
  const readings: Array<Reading & { seq: number }> = [];
  for (const r of input.records) {
    if (r.class === 'alarm') alarms.push({ seq: r.seq, transition: r.payload });
    else if (r.class === 'event') events.push({ seq: r.seq, ts: r.ts, event: r.payload as GatewayEvent });
    else readings.push({ ...r.payload, seq: r.seq });
  }
  alarms.sort((a, b) => a.seq - b.seq);
  events.sort((a, b) => a.seq - b.seq);
  readings.sort((a, b) => a.seq - b.seq);
  const batch: UplinkBatchInput = {
    v: SYNC_PROTOCOL_VERSION,
    gateway: input.gateway,
    site: input.site,
    batchSeq: input.batchSeq,
    sentAt: input.sentAt,
    alarms,
    events,
  };
  if (readings.length > 0) batch.telemetry = packTelemetry(readings);
  if (input.health) batch.health = input.health;
  return batch;
}

/** JSON then gzip (zlib default level 6: most of level 9's gain at a fraction of the CPU). */
export async function encodeBatch(batch: UplinkBatchInput): Promise<{ body: Buffer; rawBytes: number }> {
  const json = Buffer.from(JSON.stringify(batch), 'utf8');
  return { body: await gzipAsync(json), rawBytes: json.length };
}

/** The alarms of an encoded batch (for isolating them after a 400 of a batch restored from disk). */
export async function decodeBatch(body: Buffer): Promise<UplinkBatchInput> {
  return JSON.parse((await gunzipAsync(body)).toString('utf8')) as UplinkBatchInput;
}

/** Builds, encodes and describes one batch: the body to send and the record the ledger persists. */
export async function sealBatch(input: Parameters<typeof buildBatch>[0]): Promise<{
  persisted: PersistedBatch;
  body: Buffer;
}> {
  const { body, rawBytes } = await encodeBatch(buildBatch(input));
  const persisted: PersistedBatch = {
    batchSeq: input.batchSeq,
    sentAt: input.sentAt,
    seqs: input.records.map((r) => r.seq),
    counts: countByClass(input.records),
    rawBytes,
    body: body.toString('base64'),
  };
  return { persisted, body };
}
