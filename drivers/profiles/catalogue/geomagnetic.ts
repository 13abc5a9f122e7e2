import { declare, numeric, r } from '../builders.js';
import { defineProfile } from '../define.js';

/** Geomagnetic sensors: vehicles standing in fire lanes, and manhole covers lifted or tilted. */

/** Modelled on geomagnetic parking detectors: occupancy, field strength, battery, signal. */
export const geomagneticParking = defineProfile({
  id: 'geomagnetic-parking',
  kind: 'geomagnetic',
  use: 'vehicle_presence',
  title: 'Geomagnetic vehicle detector (fire-lane occupancy)',
  modelledOn: 'in-ground geomagnetic parking detectors behind an RS-485 concentrator',
  ...declare(
    r.vehiclePresent({ table: 'input', address: 0, bit: 0 }),
    numeric(
      'field_strength',
      { name: 'Magnetic field deviation', unit: 'µT', range: [-2000, 2000], priority: 'diagnostic' },
      { table: 'input', address: 1, type: 'int16' },
    ),
    r.batteryPercent({ table: 'input', address: 2 }),
    r.signalDbm({ table: 'input', address: 3, type: 'int16' }),
  ),
});

/** Modelled on manhole-cover monitors: tilt angle in 0.1°, status bits for cover open, battery, fault. */
export const manholeTilt = defineProfile({
  id: 'manhole-tilt',
  kind: 'geomagnetic',
  use: 'manhole_tilt',
  title: 'Manhole cover monitor (tilt ×0.1°, cover-open bit)',
  modelledOn: 'smart manhole-cover sensors with tilt and geomagnetic lift detection',
  ...declare(
    r.tiltDegrees({ table: 'input', address: 0, type: 'int16', scale: 0.1 }),
    r.coverOpen({ table: 'input', address: 1, bit: 0 }),
    r.batteryLow({ table: 'input', address: 1, bit: 1 }),
    r.fault({ table: 'input', address: 1, bit: 2 }),
    r.batteryPercent({ table: 'input', address: 2 }),
  ),
  quality: { badWhen: ['fault'], uncertainWhen: [] },
});
