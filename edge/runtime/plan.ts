import type { LoadedProfile } from '../../drivers/profiles/file.js';
import type { GatewayConfigResult } from '../config/load.js';
import { ReportByExceptionFilter } from '../outbox/report-by-exception.js';
import { type DeviceRules, resolveSiteRules } from '../rules/resolve.js';

type Config = GatewayConfigResult['config'];

/** Effective rules per device: pack defaults ← site overrides ← device overrides (edge/rules). */
export function resolveRules(config: Pick<Config, 'devices' | 'rules'>): {
  devices: DeviceRules[];
  problems: { path: string; message: string }[];
} {
  const devices = config.devices.filter((d) => d.enabled);
  const perDevice: Record<string, Record<string, unknown>> = {};
  for (const d of devices) if (d.rules) perDevice[d.id] = d.rules;
  return resolveSiteRules(
    devices.map((d) => ({
      id: d.id,
      kind: d.kind,
      ...(d.use ? { use: d.use } : {}),
      ...(d.zone ? { zone: d.zone } : {}),
      pack: {
        ...(d.gasLowSetPointLel !== undefined ? { gasLowSetPointLel: d.gasLowSetPointLel } : {}),
        ...(d.pressureSpanMpa !== undefined ? { pressureSpanMpa: d.pressureSpanMpa } : {}),
        ...(d.heartbeatPeriodMs !== undefined ? { heartbeatPeriodMs: d.heartbeatPeriodMs } : {}),
      },
    })),
    { site: config.rules.site, devices: perDevice },
  );
}

/** Point names and ranges a device's profile declares, whatever kind of profile it is. */
function pointsOf(resolved: LoadedProfile): { point: string; range?: readonly [number, number] }[] {
  if (resolved.type === 'register') return resolved.profile.points;
  if (resolved.type === 'frame') return Object.values(resolved.profile.descriptors);
  return resolved.profile.fields.map((f) => ({
    point: f.point,
    ...(f.range ? { range: f.range } : {}),
  }));
}

/**
 * Report-by-exception (to spare 4G data): a numeric point is sent when it moved more than
 * `deadbandPercent` of its declared range, any other value on change, and every point at least once
 * per `heartbeatMs`. The alarm rules still see every reading.
 */
export function telemetryFilter(config: Config): ReportByExceptionFilter {
  const { deadbandPercent, heartbeatMs } = config.telemetry;
  const points = config.devices.flatMap((d) =>
    pointsOf(d.resolved).map((p) => ({
      device: d.id,
      point: p.point,
      heartbeatMs,
      ...(p.range && deadbandPercent > 0 && p.range[1] > p.range[0]
        ? { deadband: { percentOfSpan: deadbandPercent, spanMin: p.range[0], spanMax: p.range[1] } }
        : {}),
    })),
  );
  return new ReportByExceptionFilter({ points, maxSeries: Math.max(10_000, points.length * 2) });
}
