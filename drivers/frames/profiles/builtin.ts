import { STANDARD_POINTS, UNITS } from '../../../protocol/index.js';
import { defineFrameProfile } from './schema.js';

/**
 * The wireless detectors doorstep knows, one declarative table each. Detector type codes and
 * state codes are doorstep's own layout (README "Detector types"); a receiver speaking other
 * codes gets its own profile, not a code change. Every profile exported here must be in
 * `frameProfiles` (registry.ts) — a test checks it.
 */

const FAULT = { name: 'Fault', valueType: 'boolean', unit: '', priority: 'normal' } as const;

/** Wireless smoke alarm (GB 20517-2025). State 3 is the test button: reported, never a fire. */
export const wirelessSmoke = defineFrameProfile({
  id: 'wireless-smoke',
  description: 'Wireless photoelectric smoke alarm via a 433 MHz / LoRa receiver',
  kind: 'smoke',
  detectorType: 0x01,
  hasTamper: true, // removed from its base
  points: {
    [STANDARD_POINTS.smoke.alarm]: { name: 'Smoke alarm', valueType: 'boolean', priority: 'critical' },
    [STANDARD_POINTS.diagnostics.fault]: FAULT,
    self_test: { name: 'Test button pressed', valueType: 'boolean', priority: 'normal' },
  },
  states: {
    0: { label: 'normal', set: { smoke: false, fault: false, self_test: false } },
    1: { label: 'fire alarm', set: { smoke: true, fault: false, self_test: false } },
    // A faulty detector cannot vouch for "no smoke": the smoke point is reported with quality bad.
    2: { label: 'fault', set: { smoke: false, fault: true, self_test: false }, bad: ['smoke'] },
    3: { label: 'test button', set: { smoke: false, fault: false, self_test: true } },
  },
});

/** Wireless door contact (fire door monitoring, GB 29364). */
export const wirelessDoor = defineFrameProfile({
  id: 'wireless-door',
  description: 'Wireless magnetic door contact via a 433 MHz / LoRa receiver',
  kind: 'door',
  detectorType: 0x02,
  hasTamper: true, // cover opened
  points: {
    [STANDARD_POINTS.door.open]: { name: 'Door open', valueType: 'boolean', priority: 'critical' },
    [STANDARD_POINTS.diagnostics.fault]: FAULT,
  },
  states: {
    0: { label: 'closed', set: { door_open: false, fault: false } },
    1: { label: 'open', set: { door_open: true, fault: false } },
    2: { label: 'fault', set: { door_open: false, fault: true }, bad: ['door_open'] },
  },
});

/** Geomagnetic vehicle detector over a fire lane. */
export const geomagneticVehicle = defineFrameProfile({
  id: 'geomagnetic-vehicle',
  description: 'Geomagnetic vehicle presence detector (fire lane) via a LoRa receiver',
  kind: 'geomagnetic',
  use: 'vehicle_presence',
  detectorType: 0x03,
  hasTamper: false,
  points: {
    [STANDARD_POINTS.geomagnetic.vehicle]: {
      name: 'Vehicle present',
      valueType: 'boolean',
      priority: 'critical',
    },
    [STANDARD_POINTS.diagnostics.fault]: FAULT,
  },
  states: {
    0: { label: 'free', set: { vehicle_present: false, fault: false } },
    1: { label: 'occupied', set: { vehicle_present: true, fault: false } },
    2: { label: 'fault', set: { vehicle_present: false, fault: true }, bad: ['vehicle_present'] },
  },
});

/** Manhole cover monitor: tilt in 0.1° plus the detector's own cover-open judgement. */
export const manholeCover = defineFrameProfile({
  id: 'manhole-cover',
  description: 'Manhole cover tilt / open monitor via a LoRa receiver',
  kind: 'geomagnetic',
  use: 'manhole_tilt',
  detectorType: 0x04,
  hasTamper: false,
  points: {
    [STANDARD_POINTS.geomagnetic.tilt]: {
      name: 'Cover tilt',
      valueType: 'number',
      unit: UNITS.degree,
      range: [0, 180],
      priority: 'critical',
    },
    [STANDARD_POINTS.geomagnetic.coverOpen]: {
      name: 'Cover open',
      valueType: 'boolean',
      priority: 'critical',
    },
    [STANDARD_POINTS.diagnostics.fault]: FAULT,
  },
  states: {
    0: { label: 'closed', set: { cover_open: false, fault: false } },
    1: { label: 'cover open', set: { cover_open: true, fault: false } },
    2: { label: 'fault', set: { cover_open: false, fault: true }, bad: ['cover_open'] },
  },
  value: { point: STANDARD_POINTS.geomagnetic.tilt, scale: 0.1 },
});
