/**
 * How a device's stored health absorbs one batch's patch (ingest-plan.ts). The SQL adapters state
 * the same rules as CASE expressions in their upserts; this is the reference the memory store runs.
 * Batches can arrive late or out of order, so every field moves only forward in (cloud) time:
 * a link state replaces the stored one only if its `since` is not older, each diagnostic only if
 * its reading is not older, lastSeen only grows.
 */
import type { DevicePatch } from './ingest-plan.js';

export interface DeviceHealthState {
  state: string;
  reason: string | null;
  stateSince: number | null;
  lastSeen: number | null;
  battery: number | null;
  batteryTs: number | null;
  batteryLow: boolean | null;
  batteryLowTs: number | null;
  signal: number | null;
  signalTs: number | null;
  fault: boolean | null;
  faultTs: number | null;
  updatedAt: number;
}

const newer = (ts: number | null, than: number | null) => ts !== null && (than === null || ts >= than);

export function mergeDeviceHealth(
  stored: DeviceHealthState | undefined,
  p: DevicePatch,
  receivedAt: number,
): DeviceHealthState {
  const s: DeviceHealthState = stored ?? {
    state: 'unknown',
    reason: null,
    stateSince: null,
    lastSeen: null,
    battery: null,
    batteryTs: null,
    batteryLow: null,
    batteryLowTs: null,
    signal: null,
    signalTs: null,
    fault: null,
    faultTs: null,
    updatedAt: receivedAt,
  };
  const out = { ...s };
  const impliedOverFaulty = p.linkImplied && s.state === 'faulty';
  if (p.linkState !== null && newer(p.linkSince, s.stateSince) && !impliedOverFaulty) {
    out.state = p.linkState;
    out.reason = p.linkReason;
    out.stateSince = p.linkSince;
  }
  if (p.lastSeen !== null) out.lastSeen = Math.max(s.lastSeen ?? -Infinity, p.lastSeen);
  if (newer(p.batteryTs, s.batteryTs)) [out.battery, out.batteryTs] = [p.battery, p.batteryTs];
  if (newer(p.batteryLowTs, s.batteryLowTs))
    [out.batteryLow, out.batteryLowTs] = [p.batteryLow, p.batteryLowTs];
  if (newer(p.signalTs, s.signalTs)) [out.signal, out.signalTs] = [p.signal, p.signalTs];
  if (newer(p.faultTs, s.faultTs)) [out.fault, out.faultTs] = [p.fault, p.faultTs];
  out.updatedAt = Math.max(s.updatedAt, receivedAt);
  return out;
}
