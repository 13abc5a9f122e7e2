import { declare, r } from '../builders.js';
import { defineProfile } from '../define.js';

/**
 * Combustible-gas detectors. Concentration in %LEL; the detector's own alarm levels AL1 (low, set
 * within 1–25 %LEL per GB 15322.1) and AL2 (high, 50 %LEL) are read as well as doorstep's own rules.
 */

/**
 * Modelled on fixed detectors of the Honeywell Midas kind: a status word in holding 0 whose bit 11
 * toggles every 2 s as a heartbeat, concentration as int16 × 0.1 %LEL. Check the firmware's map on
 * site: maps differ per model and firmware.
 */
export const gasStatusWordInt16 = defineProfile({
  id: 'gas-status-word-int16',
  kind: 'gas',
  title: 'Gas detector, status word + int16 concentration (×0.1 %LEL)',
  modelledOn: 'fixed gas detectors with a Midas-style status word (holding 40001, heartbeat bit 11)',
  ...declare(
    r.gasAl1({ table: 'holding', address: 0, bit: 0 }),
    r.gasAl2({ table: 'holding', address: 0, bit: 1 }),
    r.fault({ table: 'holding', address: 0, bit: 2 }),
    r.maintenance({ table: 'holding', address: 0, bit: 3 }),
    r.heartbeat({ table: 'holding', address: 0, bit: 11 }),
    r.gasLel({ table: 'holding', address: 1, type: 'int16', scale: 0.1 }),
    r.faultCode({ table: 'holding', address: 2 }),
  ),
  quality: { badWhen: ['fault'], uncertainWhen: ['maintenance'] },
  signature: { table: 'holding', address: 9, values: [0x4d44] }, // "MD" model tag
});

/**
 * Modelled on detectors that publish concentration as an IEEE-754 float in two input registers,
 * high word first (ABCD), an alarm level register (0 none, 1 low, 2 high) and a fault code.
 */
export const gasFloatAbcd = defineProfile({
  id: 'gas-float32-abcd',
  kind: 'gas',
  title: 'Gas detector, float32 concentration (ABCD), alarm level register',
  modelledOn: 'point-type combustible gas detectors with float32 input registers, big-endian words',
  ...declare(
    r.gasLel({ table: 'input', address: 0, type: 'float32', wordOrder: 'ABCD' }),
    r.gasAl1Level({ table: 'input', address: 2, op: 'ge', value: 1 }),
    r.gasAl2Level({ table: 'input', address: 2, op: 'ge', value: 2 }),
    r.faultState({ table: 'input', address: 3, op: 'ne', value: 0 }),
    r.faultCode({ table: 'input', address: 4 }),
  ),
  quality: { badWhen: ['fault'], uncertainWhen: [] },
  signature: { table: 'input', address: 10, values: [0x4746, 0x0001] },
});

/** The same family from a vendor whose firmware sends the low word first (CDAB). */
export const gasFloatCdab = defineProfile({
  id: 'gas-float32-cdab',
  kind: 'gas',
  title: 'Gas detector, float32 concentration (CDAB word-swapped), alarm level register',
  modelledOn: 'gas detectors and transmitters with word-swapped float32 (low word first)',
  ...declare(
    r.gasLel({ table: 'input', address: 0, type: 'float32', wordOrder: 'CDAB' }),
    r.gasAl1Level({ table: 'input', address: 2, op: 'ge', value: 1 }),
    r.gasAl2Level({ table: 'input', address: 2, op: 'ge', value: 2 }),
    r.faultState({ table: 'input', address: 3, op: 'ne', value: 0 }),
    r.faultCode({ table: 'input', address: 4 }),
  ),
  quality: { badWhen: ['fault'], uncertainWhen: [] },
  signature: { table: 'input', address: 10, values: [0x4746, 0x0002] },
});
