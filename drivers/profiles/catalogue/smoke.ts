import { declare, numeric, r } from '../builders.js';
import { defineProfile } from '../define.js';

/**
 * Smoke detectors. A low battery is a fault, distinct from fire (GB 20517-2025 §5.11.1).
 */

/** Modelled on addressable 485 smoke detectors with a status register and a battery register. */
export const smokeStatusRegister = defineProfile({
  id: 'smoke-status-register',
  kind: 'smoke',
  title: 'Smoke detector, status register (alarm/fault/battery/tamper bits)',
  modelledOn: 'RS-485 photoelectric smoke detectors with a holding status word and battery level',
  ...declare(
    r.smokeAlarm({ table: 'holding', address: 0, bit: 0 }),
    r.fault({ table: 'holding', address: 0, bit: 1 }),
    r.batteryLow({ table: 'holding', address: 0, bit: 2 }),
    r.tamper({ table: 'holding', address: 0, bit: 3 }),
    numeric(
      'smoke_density',
      { name: 'Smoke obscuration', unit: 'dB/m', range: [0, 2], priority: 'normal' },
      { table: 'holding', address: 1, type: 'uint16', scale: 0.001 },
    ),
    r.batteryPercent({ table: 'holding', address: 2 }),
  ),
  quality: { badWhen: ['fault'], uncertainWhen: [] },
  signature: { table: 'holding', address: 15, values: [0x534d] }, // "SM"
});

/**
 * Modelled on a conventional smoke detector zone wired to an 8-channel digital-input module:
 * the zone's alarm relay on DI0, its fault relay on DI1.
 */
export const smokeDiModule = defineProfile({
  id: 'smoke-di-module',
  kind: 'smoke',
  title: 'Smoke zone on a digital-input module (alarm DI0, fault DI1)',
  modelledOn: '8-DI RS-485 I/O modules reading conventional detector relays',
  ...declare(r.smokeAlarm({ table: 'discrete', address: 0 }), r.fault({ table: 'discrete', address: 1 })),
  quality: { badWhen: ['fault'], uncertainWhen: [] },
});
