import { DoorstepError, type Quality, type Reading } from '../../protocol/index.js';
import { type Implausibility, judgeReport, type PlausibilityProfile } from '../profiles/plausibility.js';
import type { MqttFieldMapping, MqttJsonProfile } from './profile.js';

/** Why a message was rejected; each is counted separately in MqttInput stats. */
export type MqttRejectReason =
  | 'unmatched_topic'
  | 'too_large'
  | 'not_json'
  | 'not_object'
  | 'unknown_device'
  | 'wrong_type'
  | 'missing_field'
  | 'bad_timestamp'
  | 'no_points';

export type MqttDecodeResult =
  | {
      ok: true;
      sensor: string;
      device: string;
      readings: Reading[];
      ts: number;
      clockSkewed: boolean;
      /** What in this message cannot be true; those readings are uncertain, the device faulty while it lasts. */
      implausible: Implausibility[];
    }
  | { ok: false; reason: MqttRejectReason; error: DoorstepError };

export interface MqttDecodeOptions {
  /** Sensor id (the `+` level of the topic) → doorstep device id. */
  devices: Readonly<Record<string, string>>;
  /** Gateway time now, ms. */
  now: number;
  /** Largest payload parsed, bytes. */
  maxPayloadBytes?: number;
  /** A device timestamp further from the gateway clock than this is replaced by gateway time. */
  maxClockSkewMs?: number;
}

/** Small sensors publish a few hundred bytes; anything far larger is not theirs. */
export const MQTT_DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024;
/** NB/Wi-Fi sensors without RTC sync drift; a day off means the clock is wrong, not the event old. */
export const MQTT_DEFAULT_MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

/** The sensor id in `topic` if it matches `pattern` (one `+` level, README "MQTT JSON profile"), else undefined. */
export function matchTopic(pattern: string, topic: string): string | undefined {
  const want = pattern.split('/');
  const got = topic.split('/');
  if (want.length !== got.length) return undefined;
  let sensor: string | undefined;
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '+') {
      if (got[i] === '') return undefined;
      sensor = got[i];
    } else if (want[i] !== got[i]) return undefined;
  }
  return sensor;
}

function valueAt(document: Record<string, unknown>, path: string): unknown {
  let current: unknown = document;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = Object.hasOwn(current, key) ? (current as Record<string, unknown>)[key] : undefined;
  }
  return current;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function fits(field: MqttFieldMapping, value: unknown): boolean {
  switch (field.type) {
    case 'boolean':
      return typeof value === 'boolean';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
    case 'string':
      return typeof value === 'string' && value.length <= 256;
  }
}

/**
 * Decodes one message for one profile. Pure. All or nothing (docs/architecture.md invariant 12: bad input
 * changes nothing): one field of the wrong type rejects the whole message with
 * DRV_ERR_MQTT_PAYLOAD naming the field, so a half-understood message never becomes readings.
 */
export function decodeMqttMessage(
  profile: MqttJsonProfile,
  topic: string,
  payload: Uint8Array,
  options: MqttDecodeOptions,
): MqttDecodeResult {
  const reject = (reason: MqttRejectReason, text: string): MqttDecodeResult => ({
    ok: false,
    reason,
    error: new DoorstepError('DRV_ERR_MQTT_PAYLOAD', {
      topic,
      reason: text,
      profile: profile.id,
      rejected: reason,
    }),
  });
  const sensor = matchTopic(profile.topic, topic);
  if (sensor === undefined) return reject('unmatched_topic', `topic does not match ${profile.topic}`);
  const device = Object.hasOwn(options.devices, sensor) ? options.devices[sensor] : undefined;
  if (device === undefined)
    return reject('unknown_device', `sensor "${sensor.slice(0, 64)}" is bound to no device`);
  const limit = options.maxPayloadBytes ?? MQTT_DEFAULT_MAX_PAYLOAD_BYTES;
  if (payload.byteLength > limit)
    return reject('too_large', `payload of ${payload.byteLength} bytes exceeds ${limit}`);

  let document: unknown;
  try {
    document = JSON.parse(
      Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'),
    );
  } catch (error) {
    return reject('not_json', `payload is not JSON (${(error as Error).message})`);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    return reject('not_object', `payload is ${describeType(document)}, expected a JSON object`);
  }
  const json = document as Record<string, unknown>;

  let ts = options.now;
  let clockSkewed = false;
  if (profile.timestamp) {
    const raw = valueAt(json, profile.timestamp.field);
    if (raw !== undefined && raw !== null) {
      const { unit, field } = profile.timestamp;
      const parsed =
        unit === 'iso8601'
          ? typeof raw === 'string'
            ? Date.parse(raw)
            : Number.NaN
          : typeof raw === 'number'
            ? raw * (unit === 's' ? 1000 : 1)
            : Number.NaN;
      if (!Number.isFinite(parsed) || parsed < 0) {
        return reject('bad_timestamp', `field ${field} is not a timestamp in ${unit}`);
      }
      const skew = options.maxClockSkewMs ?? MQTT_DEFAULT_MAX_CLOCK_SKEW_MS;
      if (Math.abs(parsed - options.now) > skew) clockSkewed = true;
      else ts = Math.round(parsed);
    }
  }

  const readings: Reading[] = [];
  for (const field of profile.fields) {
    const raw = valueAt(json, field.field);
    if (raw === undefined || raw === null) {
      if (field.required) return reject('missing_field', `required field ${field.field} is missing`);
      continue;
    }
    if (!fits(field, raw)) {
      return reject('wrong_type', `field ${field.field} is ${describeType(raw)}, expected ${field.type}`);
    }
    let value = raw as number | boolean | string;
    let quality: Quality = 'good';
    if (typeof value === 'number') {
      value = Number((value * field.scale + field.offset).toPrecision(12));
      if (field.range && (value < field.range[0] || value > field.range[1])) quality = 'uncertain';
    }
    readings.push({ device, point: field.point, value, unit: field.unit, quality, ts });
    if (field.flagBelow && typeof value === 'number') {
      readings.push({
        device,
        point: field.flagBelow.point,
        value: value < field.flagBelow.below,
        unit: '',
        quality,
        ts,
      });
    }
  }
  if (readings.length === 0) return reject('no_points', 'no field of the profile is present');
  const judged = judgeReport(plausibilityOf(profile), readings);
  return {
    ok: true,
    sensor,
    device,
    readings: judged.readings,
    ts,
    clockSkewed,
    implausible: judged.implausible,
  };
}

const plausibility = new WeakMap<MqttJsonProfile, PlausibilityProfile>();

/** An MQTT profile's fields as points for the shared plausibility rules (drivers/profiles/plausibility.ts). */
function plausibilityOf(profile: MqttJsonProfile): PlausibilityProfile {
  let out = plausibility.get(profile);
  if (!out) {
    out = {
      checks: [],
      points: profile.fields.map((f) => ({ point: f.point, unit: f.unit, range: f.range })),
    };
    plausibility.set(profile, out);
  }
  return out;
}
