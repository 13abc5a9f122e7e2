import { z } from 'zod';
import { DeviceId, PointId } from './site.js';

/** What kind of sensor a device is; every default rule pack is keyed by this. */
export const SensorKind = z.enum(['smoke', 'gas', 'water_pressure', 'door', 'geomagnetic']);
export type SensorKind = z.infer<typeof SensorKind>;

/**
 * Geomagnetic sensors serve two uses with different rules: a vehicle standing over a fire-lane
 * sensor (occupancy) and a manhole cover lifted or tilted.
 */
export const GeomagneticUse = z.enum(['vehicle_presence', 'manhole_tilt']);
export type GeomagneticUse = z.infer<typeof GeomagneticUse>;

/**
 * good: decoded from a valid reply; uncertain: decoded but the device flags it (warm-up,
 * maintenance, out of range); bad: the device reports a fault for this point.
 * A poll that fails produces no reading at all, only a device-state change.
 */
export const Quality = z.enum(['good', 'uncertain', 'bad']);
export type Quality = z.infer<typeof Quality>;

export const ReadingValue = z.union([z.number(), z.boolean(), z.string().max(256)]);
export type ReadingValue = z.infer<typeof ReadingValue>;

/** One value of one point of one device at one time (gateway clock, ms since the epoch). */
export const Reading = z.object({
  device: DeviceId,
  point: PointId,
  value: ReadingValue,
  unit: z.string().max(16),
  quality: Quality,
  ts: z.number().int().nonnegative(),
});
export type Reading = z.infer<typeof Reading>;

/**
 * Diagnostic point names shared by every profile, so that health views and the "low battery",
 * "tamper", "fault", "heartbeat lost" rules work for any device family.
 */
export const DIAGNOSTIC_POINTS = {
  battery: 'battery', // % remaining, or boolean low-battery flag (`battery_low`)
  batteryLow: 'battery_low',
  tamper: 'tamper',
  fault: 'fault',
  signal: 'signal', // dBm or 0–100 link quality
  heartbeat: 'heartbeat',
} as const;

/** Units used across doorstep; profiles normalise device units to these. */
export const UNITS = {
  lel: '%LEL',
  mpa: 'MPa',
  percent: '%',
  degree: '°',
  dbm: 'dBm',
  none: '',
} as const;

/**
 * Point names every profile of a kind produces, so default rule packs, the cloud and Node-RED can
 * rely on them whatever the device family. Profiles may add more points.
 */
export const STANDARD_POINTS = {
  smoke: { alarm: 'smoke' }, // boolean: the detector is in fire alarm
  gas: { concentration: 'gas', al1: 'gas_al1', al2: 'gas_al2' }, // %LEL; device's own alarm levels
  water_pressure: { pressure: 'pressure' }, // MPa, always normalised
  door: { open: 'door_open' }, // boolean
  geomagnetic: { vehicle: 'vehicle_present', tilt: 'tilt', coverOpen: 'cover_open' }, // bool, degrees, bool
  diagnostics: {
    battery: 'battery', // % remaining
    batteryLow: 'battery_low', // boolean
    tamper: 'tamper', // boolean
    fault: 'fault', // boolean (device-reported fault; details in fault_code)
    faultCode: 'fault_code', // number, device-specific
    signal: 'signal', // dBm
    heartbeat: 'heartbeat', // toggling bit or counter; its absence is the alarm
  },
} as const;
