/** Builders for cloud-store tests and the benchmark: gateways, batches, alarms, readings. */

import type { GatewayRecord } from '../../../cloud/store/port.js';
import {
  type AlarmTransition,
  type GatewayHealthReport,
  packTelemetry,
  type Quality,
  type SitePath,
  UplinkBatch,
  type UplinkBatchInput,
} from '../../../protocol/index.js';

export const T0 = 1_700_000_040_000; // a minute boundary: 1_700_000_040_000 % 60_000 === 0

export function site(district: string, town: string, community: string): SitePath {
  return { district, town, community };
}

export function gateway(id: string, at: SitePath, createdAt = T0): GatewayRecord {
  return { id, site: at, status: 'active', createdAt };
}

export interface ReadingSpec {
  seq: number;
  device: string;
  point: string;
  value: number | boolean | string;
  ts: number;
  unit?: string;
  quality?: Quality;
}

export function readings(specs: ReadingSpec[]): UplinkBatchInput['telemetry'] {
  return packTelemetry(
    [...specs]
      .sort((a, b) => a.seq - b.seq)
      .map((r) => ({ ...r, unit: r.unit ?? '', quality: r.quality ?? 'good' })),
  );
}

/** `n` gas readings with seqs from..from+n-1, one per second, over `devices` devices. */
export function gasReadings(from: number, n: number, devices = 5, ts0 = T0): ReadingSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: from + i,
    device: `gas-${(from + i) % devices}`,
    point: 'gas',
    value: ((from + i) % 50) / 10,
    unit: '%LEL',
    ts: ts0 + (from + i) * 1000,
  }));
}

export function alarm(
  gw: string,
  id: string,
  state: AlarmTransition['state'],
  ts: number,
  extra: Partial<AlarmTransition> = {},
): AlarmTransition {
  return {
    id,
    gateway: gw,
    device: 'smoke-1',
    point: 'smoke',
    type: 'smoke',
    severity: 'critical',
    state,
    value: state === 'raised',
    ts,
    test: false,
    latched: true,
    ...extra,
  };
}

export function healthReport(extra: Partial<GatewayHealthReport> = {}): GatewayHealthReport {
  return {
    software: 'doorstep 0.1.0',
    uptimeS: 100,
    outbox: { pending: { alarm: 0, event: 2, telemetry: 40 }, dropped: { telemetry: 3 }, quarantined: 1 },
    clockOffsetMs: 250,
    ...extra,
  };
}

export function batch(
  gw: string,
  at: SitePath,
  batchSeq: number,
  body: Partial<UplinkBatchInput> = {},
): UplinkBatch {
  return UplinkBatch.parse({ v: 1, gateway: gw, site: at, batchSeq, sentAt: T0, ...body });
}
