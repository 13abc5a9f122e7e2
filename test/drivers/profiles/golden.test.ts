import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getRegisterProfile } from '../../../drivers/profiles/catalogue/index.js';
import { decodeImage, emptyImage, type RegisterImage } from '../../../drivers/profiles/codec.js';
import type { Reading } from '../../../protocol/index.js';

/**
 * Golden tests: a register dump as a device would hold it (written by hand from the device family's
 * map, not produced by our encoder) → the readings doorstep must produce.
 */
function dump(tables: Partial<Record<keyof RegisterImage, Record<number, number | boolean>>>): RegisterImage {
  const image = emptyImage();
  for (const [table, values] of Object.entries(tables) as [
    keyof RegisterImage,
    Record<number, number | boolean>,
  ][])
    for (const [address, value] of Object.entries(values))
      (image[table] as Map<number, number | boolean>).set(Number(address), value);
  return image;
}

function values(readings: Reading[]): Record<string, [Reading['value'], string, Reading['quality']]> {
  return Object.fromEntries(readings.map((r) => [r.point, [r.value, r.unit, r.quality]]));
}

const TS = 1_763_700_000_000;

describe('sensor profiles decode golden register dumps', () => {
  it('gas-status-word-int16: AL1 + heartbeat bits, 23.5 %LEL', () => {
    const p = getRegisterProfile('gas-status-word-int16');
    const out = decodeImage(p, dump({ holding: { 0: 0x0801, 1: 235, 2: 0 } }), { device: 'gas-1', ts: TS });
    assert.deepEqual(values(out), {
      gas_al1: [true, '', 'good'],
      gas_al2: [false, '', 'good'],
      fault: [false, '', 'good'],
      maintenance: [false, '', 'good'],
      heartbeat: [true, '', 'good'],
      gas: [23.5, '%LEL', 'good'],
      fault_code: [0, '', 'good'],
    });
    assert.ok(out.every((r) => r.device === 'gas-1' && r.ts === TS));
  });

  it('gas-status-word-int16: negative drift and a fault bit make the concentration bad', () => {
    const p = getRegisterProfile('gas-status-word-int16');
    const out = values(
      decodeImage(p, dump({ holding: { 0: 0x0004, 1: 0xfff6, 2: 17 } }), { device: 'g', ts: TS }),
    );
    assert.deepEqual(out.gas, [-1, '%LEL', 'bad']);
    assert.deepEqual(out.fault, [true, '', 'good']);
    assert.deepEqual(out.fault_code, [17, '', 'good']);
  });

  it('gas-status-word-int16: maintenance (inhibit) makes readings uncertain', () => {
    const p = getRegisterProfile('gas-status-word-int16');
    const out = values(
      decodeImage(p, dump({ holding: { 0: 0x0008, 1: 10, 2: 0 } }), { device: 'g', ts: TS }),
    );
    assert.deepEqual(out.gas, [1, '%LEL', 'uncertain']);
    assert.deepEqual(out.gas_al1, [false, '', 'uncertain']);
  });

  it('gas-float32-abcd: 23.5 %LEL as 0x41BC 0x0000, alarm level 1', () => {
    const p = getRegisterProfile('gas-float32-abcd');
    const out = values(
      decodeImage(p, dump({ input: { 0: 0x41bc, 1: 0, 2: 1, 3: 0, 4: 0 } }), { device: 'g', ts: TS }),
    );
    assert.deepEqual(out, {
      gas: [23.5, '%LEL', 'good'],
      gas_al1: [true, '', 'good'],
      gas_al2: [false, '', 'good'],
      fault: [false, '', 'good'],
      fault_code: [0, '', 'good'],
    });
  });

  it('gas-float32-cdab: the same value with the words swapped, alarm level 2', () => {
    const p = getRegisterProfile('gas-float32-cdab');
    const out = values(
      decodeImage(p, dump({ input: { 0: 0x0000, 1: 0x4248, 2: 2, 3: 0, 4: 0 } }), { device: 'g', ts: TS }),
    );
    assert.deepEqual(out.gas, [50, '%LEL', 'good']);
    assert.deepEqual(out.gas_al1, [true, '', 'good']);
    assert.deepEqual(out.gas_al2, [true, '', 'good']);
  });

  it('pressure-int16-decimals: 345.6 kPa (unit 1, 1 decimal) → 0.3456 MPa', () => {
    const p = getRegisterProfile('pressure-int16-decimals');
    const out = decodeImage(p, dump({ holding: { 4: 3456 } }), {
      device: 'p',
      ts: TS,
      startup: { unit_code: 1, decimals: 1 },
    });
    assert.deepEqual(values(out), { pressure: [0.3456, 'MPa', 'good'] });
  });

  it('pressure-int16-decimals: 0.350 MPa (unit 0, 3 decimals); 1.5 bar → 0.15 MPa', () => {
    const p = getRegisterProfile('pressure-int16-decimals');
    const mpa = decodeImage(p, dump({ holding: { 4: 350 } }), {
      device: 'p',
      ts: TS,
      startup: { unit_code: 0, decimals: 3 },
    });
    assert.equal(mpa[0]?.value, 0.35);
    const bar = decodeImage(p, dump({ holding: { 4: 150 } }), {
      device: 'p',
      ts: TS,
      startup: { unit_code: 2, decimals: 2 },
    });
    assert.equal(bar[0]?.value, 0.15);
  });

  it('pressure-int16-decimals: an unknown unit code is a decode error, not a wrong number', () => {
    const p = getRegisterProfile('pressure-int16-decimals');
    assert.throws(
      () =>
        decodeImage(p, dump({ holding: { 4: 350 } }), {
          device: 'p',
          ts: TS,
          startup: { unit_code: 9, decimals: 3 },
        }),
      (e: Error & { code?: string }) => e.code === 'DRV_ERR_DECODE' && /unit_code/.test(e.message),
    );
  });

  it('pressure-float32-loop: 0.35 MPa, 12.34 mA, no sensor fault', () => {
    const p = getRegisterProfile('pressure-float32-loop');
    const out = values(
      decodeImage(p, dump({ input: { 0: 0x3eb3, 1: 0x3333, 2: 1234, 3: 0 } }), { device: 'p', ts: TS }),
    );
    assert.deepEqual(out, {
      pressure: [0.35, 'MPa', 'good'],
      loop_current: [12.34, 'mA', 'good'],
      sensor_fault: [false, '', 'good'],
    });
  });

  it('pressure-float32-loop: a broken loop marks the pressure bad', () => {
    const p = getRegisterProfile('pressure-float32-loop');
    const out = values(
      decodeImage(p, dump({ input: { 0: 0, 1: 0, 2: 310, 3: 1 } }), { device: 'p', ts: TS }),
    );
    assert.deepEqual(out.pressure, [0, 'MPa', 'bad']);
  });

  it('smoke-status-register: alarm + low battery, 0.15 dB/m, 18 %', () => {
    const p = getRegisterProfile('smoke-status-register');
    const out = values(
      decodeImage(p, dump({ holding: { 0: 0b0101, 1: 150, 2: 18 } }), { device: 's', ts: TS }),
    );
    assert.deepEqual(out, {
      smoke: [true, '', 'good'],
      fault: [false, '', 'good'],
      battery_low: [true, '', 'good'],
      tamper: [false, '', 'good'],
      smoke_density: [0.15, 'dB/m', 'good'],
      battery: [18, '%', 'good'],
    });
  });

  it('smoke-di-module: alarm relay on DI0', () => {
    const p = getRegisterProfile('smoke-di-module');
    const out = values(decodeImage(p, dump({ discrete: { 0: true, 1: false } }), { device: 's', ts: TS }));
    assert.deepEqual(out, { smoke: [true, '', 'good'], fault: [false, '', 'good'] });
  });

  it('door-di-module: a de-energised NC contact reads as open', () => {
    const p = getRegisterProfile('door-di-module');
    const open = values(decodeImage(p, dump({ discrete: { 0: false, 1: false } }), { device: 'd', ts: TS }));
    assert.deepEqual(open, { door_open: [true, '', 'good'], tamper: [false, '', 'good'] });
    const closed = values(decodeImage(p, dump({ discrete: { 0: true, 1: true } }), { device: 'd', ts: TS }));
    assert.deepEqual(closed, { door_open: [false, '', 'good'], tamper: [true, '', 'good'] });
  });

  it('door-monitor-state: state 2 is a fault, not an open door', () => {
    const p = getRegisterProfile('door-monitor-state');
    const out = values(decodeImage(p, dump({ input: { 0: 2, 1: 77 } }), { device: 'd', ts: TS }));
    assert.deepEqual(out, {
      door_open: [false, '', 'bad'],
      fault: [true, '', 'good'],
      battery: [77, '%', 'good'],
    });
    assert.deepEqual(
      values(decodeImage(p, dump({ input: { 0: 1, 1: 77 } }), { device: 'd', ts: TS })).door_open,
      [true, '', 'good'],
    );
  });

  it('geomagnetic-parking: occupied, −200 µT, 88 %, −75 dBm', () => {
    const p = getRegisterProfile('geomagnetic-parking');
    const out = values(
      decodeImage(p, dump({ input: { 0: 1, 1: 0xff38, 2: 88, 3: 0xffb5 } }), { device: 'm', ts: TS }),
    );
    assert.deepEqual(out, {
      vehicle_present: [true, '', 'good'],
      field_strength: [-200, 'µT', 'good'],
      battery: [88, '%', 'good'],
      signal: [-75, 'dBm', 'good'],
    });
  });

  it('manhole-tilt: 15.3° with the cover-open bit', () => {
    const p = getRegisterProfile('manhole-tilt');
    const out = values(decodeImage(p, dump({ input: { 0: 153, 1: 0b001, 2: 64 } }), { device: 'm', ts: TS }));
    assert.deepEqual(out, {
      tilt: [15.3, '°', 'good'],
      cover_open: [true, '', 'good'],
      battery_low: [false, '', 'good'],
      fault: [false, '', 'good'],
      battery: [64, '%', 'good'],
    });
  });
});
