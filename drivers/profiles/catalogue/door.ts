import { declare, flag, r } from '../builders.js';
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

/**
 * An 8-DI/8-DO RS-485 I/O module of the kind installed beside fire doors and in guard rooms: a
 * normally-closed door contact on DI0, a tamper loop on DI1, and relay outputs (siren/strobe,
 * door release) as coils whose state is read back. Local actions write the coils.
 */
export const ioModule8di8do = defineProfile({
  id: 'io-module-8di8do',
  kind: 'door',
  title: 'I/O module 8 DI / 8 DO: door contact on DI0, tamper on DI1, relays on coils 0–1',
  modelledOn: '8-DI/8-DO RS-485 I/O modules driving sirens, strobes and door releases',
  ...declare(
    r.doorOpen({ table: 'discrete', address: 0, invert: true }),
    r.tamper({ table: 'discrete', address: 1 }),
    flag('relay_1', { name: 'Relay 1 (siren / strobe)' }, { table: 'coil', address: 0 }),
    flag('relay_2', { name: 'Relay 2 (door release)' }, { table: 'coil', address: 1 }),
  ),
});
