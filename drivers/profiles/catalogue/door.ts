import { declare, r } from '../builders.js';
import { defineProfile } from '../define.js';

/** Door contacts on fire doors and equipment rooms (GB 29364 fire-door monitoring). */

/**
 * A normally-closed magnetic contact on an I/O module input: the input is energised while the door
 * is closed, so a set bit means "closed" (invert). A broken wire then reads as "open" — the safe side.
 */
export const doorDiModule = defineProfile({
  id: 'door-di-module',
  kind: 'door',
  title: 'Door contact (normally closed) on a digital-input module, tamper loop on DI1',
  modelledOn: '8-DI RS-485 I/O modules with NC magnetic door contacts',
  ...declare(
    r.doorOpen({ table: 'discrete', address: 0, invert: true }),
    r.tamper({ table: 'discrete', address: 1 }),
  ),
});

/** Modelled on fire-door monitors (GB 29364) reporting a state register: 0 closed, 1 open, 2 fault. */
export const doorMonitorState = defineProfile({
  id: 'door-monitor-state',
  kind: 'door',
  title: 'Fire-door monitor, state register (0 closed, 1 open, 2 fault)',
  modelledOn: 'GB 29364 fire-door monitors with a Modbus state register',
  ...declare(
    r.doorOpenState({ table: 'input', address: 0, op: 'eq', value: 1 }),
    r.faultState({ table: 'input', address: 0, op: 'eq', value: 2 }),
    r.batteryPercent({ table: 'input', address: 1 }),
  ),
  quality: { badWhen: ['fault'], uncertainWhen: [] },
});
