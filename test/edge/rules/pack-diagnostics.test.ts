import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { harness } from './harness.js';

const S = 1000;

describe('diagnostics rules (every kind)', () => {
  it('low battery from the bit or below 20 %', () => {
    const h = harness([
      { id: 'a', kind: 'smoke' },
      { id: 'b', kind: 'door' },
    ]);
    try {
      h.read(1 * S, 'a', { battery: 20 });
      h.read(1 * S, 'b', { battery_low: true });
      h.read(2 * S, 'a', { battery: 19 });
      assert.deepEqual(h.log(), ['b low_battery raised @1000', 'a low_battery raised @2000']);
      assert.equal(h.transitions[0]?.severity, 'minor');
    } finally {
      h.stop();
    }
  });

  it('device offline after 60 s of offline link state (GB 26875.1 ≤ 100 s), measured from `since`', () => {
    const h = harness([{ id: 'a', kind: 'gas' }]);
    try {
      h.clock.advanceTo(5 * S);
      h.engine.setLinkState({
        device: 'a',
        state: 'offline',
        reason: 'DRV_ERR_TIMEOUT',
        since: 5 * S,
        consecutiveFailures: 3,
      });
      h.clock.advanceTo(64 * S);
      assert.equal(h.transitions.length, 0);
      h.clock.advanceTo(65 * S);
      h.engine.setLinkState({ device: 'a', state: 'online', since: 80 * S, consecutiveFailures: 0 });
      assert.deepEqual(h.log(), ['a device_offline raised @65000', 'a device_offline cleared @80000']);
      // a short outage raises nothing
      h.engine.setLinkState({ device: 'a', state: 'offline', since: 90 * S, consecutiveFailures: 1 });
      h.clock.advanceTo(120 * S);
      h.engine.setLinkState({ device: 'a', state: 'online', since: 120 * S, consecutiveFailures: 0 });
      h.clock.advanceTo(300 * S);
      assert.equal(h.transitions.length, 2);
    } finally {
      h.stop();
    }
  });

  it('heartbeat lost after 3 periods unchanged; only for devices that send one', () => {
    const h = harness([
      { id: 'a', kind: 'gas', pack: { heartbeatPeriodMs: 2000 } },
      { id: 'b', kind: 'gas' },
    ]);
    try {
      h.read(0, 'a', { heartbeat: 0 });
      h.read(2 * S, 'a', { heartbeat: 1 });
      h.read(4 * S, 'a', { heartbeat: 1 }); // stuck from 2 s on
      h.clock.advanceTo(7999);
      assert.equal(h.transitions.length, 0);
      h.clock.advanceTo(8 * S);
      h.read(9 * S, 'a', { heartbeat: 0 });
      h.clock.advanceTo(1000 * S);
      assert.deepEqual(h.log(), [
        'a heartbeat_lost raised @8000',
        'a heartbeat_lost cleared @9000',
        'a heartbeat_lost raised @15000',
      ]);
    } finally {
      h.stop();
    }
  });

  it('tamper and device fault; stale data via an added rule', () => {
    const h = harness([{ id: 'a', kind: 'door' }], {
      overrides: {
        devices: {
          a: {
            no_data: { severity: 'minor', kind: 'door', when: [{ kind: 'stale', staleAfterMs: 30_000 }] },
          },
        },
      },
    });
    try {
      h.read(1 * S, 'a', { tamper: true, fault: true });
      h.clock.advanceTo(31 * S);
      h.read(40 * S, 'a', { signal: -80 });
      assert.deepEqual(h.log().sort(), [
        'a device_fault raised @1000',
        'a no_data cleared @40000',
        'a no_data raised @31000',
        'a tamper raised @1000',
      ]);
    } finally {
      h.stop();
    }
  });
});
