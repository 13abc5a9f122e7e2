import type { Quality, Reading } from '../../protocol/index.js';
import type { ConsistencyCheck } from './types.js';
import { ALARM_OUTPUTS } from './vocabulary.js';

/** A decode that contradicts itself or physics: the points it concerns and why, in words. */
export interface Implausibility {
  points: string[];
  reason: string;
}

/** What plausibility needs to know of a point: its unit, physical range and enumeration labels. */
export interface PlausiblePoint {
  readonly point: string;
  readonly unit: string;
  readonly range?: readonly [number, number] | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

/** The points and declared checks of a profile of any shape. */
export interface PlausibilityProfile {
  readonly checks: readonly ConsistencyCheck[];
  readonly points: readonly PlausiblePoint[];
}

/** Declared checks plus those the shared vocabulary implies (gas_al1/gas_al2 ⇒ gas > 0). */
export function consistencyChecks(profile: PlausibilityProfile): ConsistencyCheck[] {
  const has = new Set(profile.points.map((p) => p.point));
  const implied: ConsistencyCheck[] = [];
  for (const [alarm, { quantity, above }] of ALARM_OUTPUTS)
    if (has.has(alarm) && has.has(quantity) && !profile.checks.some((c) => c.alarm === alarm))
      implied.push({ alarm, point: quantity, above });
  return [...profile.checks, ...implied];
}

function show(value: number, unit: string): string {
  return unit ? `${value} ${unit}` : String(value);
}

/**
 * What in a set of decoded values cannot be true: a value outside its point's physical range, an
 * enumeration code the map does not list, an alarm output set while its quantity says there is
 * nothing to alarm about. Such readings are not trusted (quality uncertain) and the device is
 * reported faulty with the reason, instead of an alarm being raised — or hidden — silently.
 */
export function implausibilities(
  profile: PlausibilityProfile,
  values: ReadonlyMap<string, number | boolean | string>,
): Implausibility[] {
  const out: Implausibility[] = [];
  for (const d of profile.points) {
    const v = values.get(d.point);
    if (typeof v !== 'number') continue;
    if (d.range && (v < d.range[0] || v > d.range[1]))
      out.push({
        points: [d.point],
        reason: `${d.point} = ${show(v, d.unit)} is outside its physical range ${d.range[0]}–${d.range[1]}`,
      });
    if (d.labels && !Object.hasOwn(d.labels, String(v)))
      out.push({
        points: [d.point],
        reason: `${d.point} = ${v} is not a code of the map (${Object.keys(d.labels).join(', ')})`,
      });
  }
  const units = new Map(profile.points.map((p) => [p.point, p.unit]));
  for (const check of consistencyChecks(profile)) {
    const alarm = values.get(check.alarm);
    const value = values.get(check.point);
    if (alarm === true && typeof value === 'number' && !(value > check.above))
      out.push({
        points: [check.alarm, check.point],
        reason: `${check.alarm} is set while ${check.point} = ${show(value, units.get(check.point) ?? '')}`,
      });
  }
  return out;
}

/** A reading's quality once implausibilities are known: never better than uncertain when it is one of them. */
export function withPlausibility(
  quality: Quality,
  point: string,
  problems: readonly Implausibility[],
): Quality {
  if (quality !== 'good') return quality;
  return problems.some((p) => p.points.includes(point)) ? 'uncertain' : quality;
}

/**
 * One report of a push device (a receiver frame, an MQTT message) judged on its own — such a
 * report carries the device's whole state: the implausibilities among its readings, and the
 * readings with those concerned made uncertain. The caller makes the device faulty with
 * DRV_ERR_IMPLAUSIBLE while the list is not empty, as DeviceAcquisition does for register maps.
 */
export function judgeReport(
  profile: PlausibilityProfile,
  readings: readonly Reading[],
): { readings: Reading[]; implausible: Implausibility[] } {
  const values = new Map<string, number | boolean | string>();
  for (const r of readings) if (r.quality !== 'bad') values.set(r.point, r.value);
  const implausible = implausibilities(profile, values);
  if (implausible.length === 0) return { readings: [...readings], implausible };
  return {
    readings: readings.map((r) => ({ ...r, quality: withPlausibility(r.quality, r.point, implausible) })),
    implausible,
  };
}
