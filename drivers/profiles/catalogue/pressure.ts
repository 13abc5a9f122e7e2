import { declare, flag, numeric, r } from '../builders.js';
import { defineProfile } from '../define.js';

/**
 * Fire-water pressure transmitters. Pressure is always normalised to MPa (the unit of GB
 * 50974-2014), whatever unit the device is set to.
 */

/** Device unit codes → factor into MPa. */
const UNIT_FACTORS_TO_MPA = { '0': 1, '1': 0.001, '2': 0.1, '3': 0.00689476 }; // MPa, kPa, bar, psi

/**
 * Modelled on RS-485 pressure transmitters whose unit and decimal places are holding registers
 * read at start-up; the value is an int16 scaled by 10^-decimals in the device's unit.
 */
export const pressureInt16Decimals = defineProfile({
  id: 'pressure-int16-decimals',
  kind: 'water_pressure',
  title: 'Pressure transmitter, int16 with unit and decimal-places registers',
  modelledOn:
    'RS-485 diffused-silicon pressure transmitters (value, unit code and decimals as holding registers)',
  startup: [
    { key: 'unit_code', table: 'holding', address: 2, allowed: [0, 1, 2, 3] },
    { key: 'decimals', table: 'holding', address: 3, allowed: [0, 1, 2, 3, 4] },
  ],
  ...declare(
    r.pressureMpa({
      table: 'holding',
      address: 4,
      type: 'int16',
      decimalsFrom: 'decimals',
      unitFrom: { from: 'unit_code', factors: UNIT_FACTORS_TO_MPA },
    }),
  ),
  signature: { table: 'holding', address: 0, values: [0x0001] },
});

/**
 * Modelled on 4–20 mA loop transmitters behind a Modbus converter: float32 MPa plus the loop
 * current. Below 3.8 mA or above 20.5 mA the sensor is broken (NAMUR NE 43), flagged in a status bit.
 */
export const pressureFloatLoop = defineProfile({
  id: 'pressure-float32-loop',
  kind: 'water_pressure',
  title: 'Pressure transmitter, float32 MPa with 4–20 mA loop diagnostics',
  modelledOn: '4–20 mA pressure transmitters behind an RS-485 converter reporting float32 and loop current',
  ...declare(
    r.pressureMpa({ table: 'input', address: 0, type: 'float32', wordOrder: 'ABCD' }),
    numeric(
      'loop_current',
      { name: 'Loop current', unit: 'mA', range: [0, 24], priority: 'diagnostic' },
      { table: 'input', address: 2, type: 'uint16', scale: 0.01 },
    ),
    flag(
      'sensor_fault',
      { name: 'Sensor fault (loop out of 3.8–20.5 mA)' },
      { table: 'input', address: 3, bit: 0 },
    ),
  ),
  quality: { badWhen: ['sensor_fault'], uncertainWhen: [] },
});
