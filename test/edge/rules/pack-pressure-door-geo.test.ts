import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { harness } from './harness.js';

const S = 1000;
const MIN = 60 * S;

describe('water pressure pack (GB 50974-2014; ISA-18.2 practice)', () => {
  it('low below 0.10 MPa after 15 s, held through the 2 %-of-span deadband, cleared 15 s after', () => {
    const h = harness([{ id: 'p-1', kind: 'water_pressure', pack: { pressureSpanMpa: 1 } }]); // deadband 0.02
    try {
      h.read(0, 'p-1', { pressure: 0.1 }); // exactly the limit: fine
      h.read(1 * S, 'p-1', { pressure: 0.09 });
      h.read(10 * S, 'p-1', { pressure: 0.13 }); // back above 0.10 + deadband within 15 s → no alarm
      h.read(20 * S, 'p-1', { pressure: 0.09 });
      h.clock.advanceTo(34 * S);
      assert.equal(h.transitions.length, 0);
      h.clock.advanceTo(35 * S);
      assert.deepEqual(h.log(), ['p-1 pressure_low raised @35000']);
      h.read(40 * S, 'p-1', { pressure: 0.115 }); // inside deadband (0.10–0.12): still low
      h.clock.advanceTo(100 * S);
      assert.equal(h.transitions.length, 1);
      h.read(101 * S, 'p-1', { pressure: 0.125 });
      h.clock.advanceTo(116 * S);
      assert.deepEqual(h.log(), ['p-1 pressure_low raised @35000', 'p-1 pressure_low cleared @116000']);
    } finally {
      h.stop();
    }
  });

  it('low-low at 0.07 and high above 0.70 MPa; figures overridable per device', () => {
    const h = harness(
      [
        { id: 'p-1', kind: 'water_pressure' },
        { id: 'p-2', kind: 'water_pressure' },
      ],
      {
        overrides: { devices: { 'p-2': { pressure_high: { threshold: 0.5, onDelayMs: 0 } } } },
      },
    );
    try {
      h.read(0, 'p-1', { pressure: 0.06 });
      h.read(0, 'p-2', { pressure: 0.6 });
      h.clock.advanceTo(15 * S);
      assert.deepEqual(h.log().sort(), [
        'p-1 pressure_low raised @15000',
        'p-1 pressure_low_low raised @15000',
        'p-2 pressure_high raised @0',
      ]);
      h.read(20 * S, 'p-1', { pressure: 0.71 });
      h.clock.advanceTo(50 * S);
      assert.ok(h.log().includes('p-1 pressure_high raised @35000'));
    } finally {
      h.stop();
    }
  });
});

describe('fire door pack (GB 29364 practice)', () => {
  it('held open: warning after 10 s, alarm after 60 s; closing clears both', () => {
    const h = harness([{ id: 'd-1', kind: 'door' }]);
    try {
      h.read(0, 'd-1', { door_open: true });
      h.clock.advanceTo(61 * S);
      h.read(70 * S, 'd-1', { door_open: false });
      assert.deepEqual(h.log(), [
        'd-1 door_open_warning raised @10000',
        'd-1 door_held_open raised @60000',
        'd-1 door_open_warning cleared @70000',
        'd-1 door_held_open cleared @70000',
      ]);
    } finally {
      h.stop();
    }
  });
});

describe('geomagnetic pack', () => {
  it('fire lane occupied after 5 min; a car leaving earlier raises nothing', () => {
    const h = harness([{ id: 'm-1', kind: 'geomagnetic', use: 'vehicle_presence' }]);
    try {
      h.read(0, 'm-1', { vehicle_present: true });
      h.read(4 * MIN, 'm-1', { vehicle_present: false });
      h.read(5 * MIN, 'm-1', { vehicle_present: true });
      h.clock.advanceTo(10 * MIN);
      assert.deepEqual(h.log(), ['m-1 fire_lane_occupied raised @600000']);
    } finally {
      h.stop();
    }
  });

  it('a night-only schedule (22:00–06:00 Asia/Shanghai) starts the on-delay when the window opens', () => {
    // virtual 0 = 08:00 local; 22:00 local = 14 h
    const h = harness([{ id: 'm-1', kind: 'geomagnetic', use: 'vehicle_presence' }], {
      overrides: { site: { fire_lane_occupied: { schedule: [{ from: '22:00', to: '06:00' }] } } },
    });
    try {
      h.read(0, 'm-1', { vehicle_present: true });
      h.clock.advanceTo(14 * 60 * MIN + 4 * MIN);
      assert.equal(h.transitions.length, 0);
      h.clock.advanceTo(14 * 60 * MIN + 5 * MIN);
      assert.deepEqual(h.log(), [`m-1 fire_lane_occupied raised @${14 * 60 * MIN + 5 * MIN}`]);
      h.clock.advanceTo(22 * 60 * MIN); // 06:00 local: window closes
      assert.equal(h.transitions.at(-1)?.state, 'cleared');
    } finally {
      h.stop();
    }
  });

  it('manhole: tilt > 12° for 3 s or cover open, latched until reset', () => {
    const h = harness([{ id: 'mh-1', kind: 'geomagnetic', use: 'manhole_tilt' }]);
    try {
      h.read(0, 'mh-1', { tilt: 12 });
      h.clock.advanceTo(10 * S);
      assert.equal(h.transitions.length, 0, '12° itself is not above 12°');
      h.read(11 * S, 'mh-1', { tilt: 13 });
      h.read(13 * S, 'mh-1', { tilt: 2 }); // 2 s only
      h.read(20 * S, 'mh-1', { cover_open: true });
      h.clock.advanceTo(23 * S);
      h.read(30 * S, 'mh-1', { cover_open: false });
      assert.deepEqual(h.log(), ['mh-1 manhole_tilt raised @23000', 'mh-1 manhole_tilt cleared @30000']);
      assert.equal(h.engine.reset('mh-1', 'manhole_tilt', 'inspector').ok, true);
    } finally {
      h.stop();
    }
  });
});
