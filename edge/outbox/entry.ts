import { DoorstepError } from '../../protocol/index.js';
import type { PreparedEntry, QuarantinedRow, StoredRow } from './backend.js';
import {
  OUTBOX_CLASSES,
  type OutboxClass,
  type OutboxEntry,
  type OutboxRecord,
  type QuarantinedRecord,
} from './types.js';

const MAX_KEY_LENGTH = 256;

/**
 * Checks the envelope (class, ts, key, payload is a JSON object within the size limit) and
 * serialises the payload once. Payload shapes are the producers' contract (protocol/ schemas) and
 * are not re-validated here: that would cost more than the insert itself.
 * Throws EDGE_ERR_OUTBOX_ENTRY naming the entry's index.
 */
export function prepareEntry(entry: OutboxEntry, index: number, maxEntryBytes: number): PreparedEntry {
  if (entry === null || typeof entry !== 'object') return reject(index, 'not an object');
  const cls = entry.class as OutboxClass;
  if (!OUTBOX_CLASSES.includes(cls))
    return reject(index, `class must be one of ${OUTBOX_CLASSES.join(', ')}`);
  if (!Number.isSafeInteger(entry.ts) || entry.ts < 0)
    return reject(index, 'ts must be a non-negative integer (ms)');
  const payload: unknown = entry.payload;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    return reject(index, 'payload must be a JSON object');
  }
  let json: string;
  try {
    json = JSON.stringify(payload);
  } catch (error) {
    return reject(index, `payload is not serialisable: ${(error as Error).message}`);
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > maxEntryBytes)
    return reject(index, `payload is ${bytes} bytes, more than maxEntryBytes ${maxEntryBytes}`);
  let key = entry.key ?? null;
  if (key !== null && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)) {
    return reject(index, `key must be a string of 1–${MAX_KEY_LENGTH} characters`);
  }
  const fields = payload as Record<string, unknown>;
  if (key === null && cls === 'alarm' && typeof fields.id === 'string' && typeof fields.state === 'string') {
    // protocol/alarm.ts: (id, state) is unique — the same transition put twice is one alarm.
    key = `alarm:${fields.id}:${fields.state}`;
  }
  return { cls, ts: entry.ts, key, bytes, payload: json };
}

/**
 * The series a telemetry row belongs to (`device/point` of a Reading), for thinning. Derived from
 * the payload only when evicting, so puts do not pay for it; unreadable payloads form one group.
 */
export function seriesOf(payload: string | undefined): string | null {
  if (payload === undefined) return null;
  try {
    const fields = JSON.parse(payload) as Record<string, unknown>;
    return typeof fields.device === 'string' && typeof fields.point === 'string'
      ? `${fields.device}/${fields.point}`
      : null;
  } catch {
    return null;
  }
}

function reject(index: number, reason: string): never {
  throw new DoorstepError('EDGE_ERR_OUTBOX_ENTRY', { index, reason });
}

/** Rebuilds a record from a stored row; throws (a SyntaxError) when the payload is unreadable. */
export function toRecord(row: StoredRow): OutboxRecord {
  const record = {
    seq: row.seq,
    class: row.cls,
    ts: row.ts,
    enqueuedAt: row.enqueuedAt,
    payload: JSON.parse(row.payload),
  } as OutboxRecord;
  if (row.key !== null) record.key = row.key;
  return record;
}

/** Like toRecord for quarantined rows; an unreadable payload is returned as its raw text under `raw`. */
export function toQuarantinedRecord(row: QuarantinedRow): QuarantinedRecord {
  let payload: unknown;
  try {
    payload = JSON.parse(row.payload);
  } catch {
    payload = { kind: 'unreadable', raw: row.payload };
  }
  const record = {
    seq: row.seq,
    class: row.cls,
    ts: row.ts,
    enqueuedAt: row.enqueuedAt,
    payload,
    reason: row.reason,
    quarantinedAt: row.quarantinedAt,
  } as QuarantinedRecord;
  if (row.key !== null) record.key = row.key;
  return record;
}
