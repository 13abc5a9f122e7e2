import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAlarmIdFactory } from '../../../edge/rules/engine/ids.js';
import { resolveSiteRules } from '../../../edge/rules/resolve.js';
import { AlarmTransition } from '../../../protocol/alarm.js';
import { GATEWAY, harness } from './harness.js';

const S = 1000;

describe('rule engine', () => {
  it('one writer: a burst of readings raises one occurrence, clear only after raise', () => {
    const h = harness([{ id: 'g-1', kind: 'gas' }]);
    try {
      h.read(1 * S, 'g-1', { gas: 5 }); // cleared-state readings emit nothing
      const burst = [];
      for (let i = 0; i < 1000; i++) {
        burst.push({
          device: 'g-1',
          point: 'gas',
          value: i % 2 === 0 ? 30 : 29,
          unit: '%LEL',
          quality: 'good' as const,
          ts: 2 * S,
        });
      }
      h.engine.ingest(burst);
      h.engine.ingest(burst);
      assert.deepEqual(h.log(), ['g-1 gas_low raised @2000']);
      for (const transition of h.transitions) AlarmTransition.parse(transition);
    } finally {
      h.stop();
    }
  });

  it('walk-test mode marks the occurrence test: true through clear and reset', () => {
    const h = harness([
      { id: 'sd-1', kind: 'smoke' },
      { id: 'sd-2', kind: 'smoke' },
    ]);
    try {
      h.engine.setWalkTest('sd-1', true);
      h.read(1 * S, 'sd-1', { smoke: true });
      h.read(1 * S, 'sd-2', { smoke: true });
      h.engine.setWalkTest('sd-1', false);
      h.read(2 * S, 'sd-1', { smoke: false });
      h.engine.reset('sd-1', 'smoke', 'installer');
      const flags = h.transitions.map((t) => `${t.device} ${t.state} ${t.test}`);
      assert.deepEqual(flags, [
        'sd-1 raised true',
        'sd-2 raised false',
        'sd-1 cleared true',
        'sd-1 reset true',
      ]);
    } finally {
      h.stop();
    }
  });

  it('flags chattering after 3 activations within 1 min and unflags a minute later', () => {
    const h = harness([{ id: 'd-1', kind: 'door' }]);
    try {
      for (const t of [0, 10, 20]) {
        h.read(t * S, 'd-1', { tamper: true });
        h.read((t + 1) * S, 'd-1', { tamper: false });
      }
      const chatter = h.transitions.filter((t) => t.type === 'chattering');
      assert.deepEqual(
        chatter.map((t) => `${t.state} ${t.severity}`),
        ['raised minor'],
      );
      assert.match(chatter[0]?.message ?? '', /tamper/);
      assert.deepEqual(h.engine.health().chattering, [{ device: 'd-1', type: 'tamper', point: 'tamper' }]);
      assert.equal(
        h.transitions.filter((t) => t.type === 'tamper' && t.state === 'raised').length,
        3,
        'alarms are not suppressed',
      );
      h.clock.advanceTo(60 * S);
      assert.equal(h.transitions.at(-1)?.type, 'chattering');
      assert.equal(h.transitions.at(-1)?.state, 'cleared');
      assert.deepEqual(h.engine.health().chattering, []);
    } finally {
      h.stop();
    }
  });

  it('ids are unique, carry the gateway and fit the protocol', () => {
    const first = createAlarmIdFactory('gw-a');
    const second = createAlarmIdFactory('gw-a'); // a restart at the same millisecond
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      ids.add(first('dev', 'smoke', 1_700_000_000_000));
      ids.add(second('dev', 'smoke', 1_700_000_000_000));
    }
    assert.equal(ids.size, 2000);
    assert.match([...ids][0]!, /^gw-a\.dev\.smoke\./);
    const long = createAlarmIdFactory('g'.repeat(64))('d'.repeat(64), 't'.repeat(64), Date.now());
    assert.ok(long.length <= 96);
  });

  it('reload keeps unchanged pairs, carries changed ones and closes removed devices', () => {
    const devices = [
      { id: 'g-1', kind: 'gas' as const },
      { id: 'd-1', kind: 'door' as const },
    ];
    const h = harness(devices);
    try {
      h.read(1 * S, 'g-1', { gas: 60 });
      h.read(1 * S, 'd-1', { door_open: true });
      const before = h.transitions.length; // gas_low + gas_high raised
      // gas_low figure changed, gas_high unchanged, door device removed while its on-delay pends
      const next = resolveSiteRules([devices[0]!], { devices: { 'g-1': { gas_low: { threshold: 15 } } } });
      h.engine.replaceRules(next.devices);
      assert.equal(h.transitions.length, before, 'no duplicate raise, no spurious clear');
      h.read(2 * S, 'g-1', { gas: 0 });
      const ids = new Set(h.transitions.filter((t) => t.type === 'gas_low').map((t) => t.id));
      assert.equal(ids.size, 1, 'the changed rule kept its occurrence id');
      h.clock.advanceTo(120 * S);
      assert.equal(h.transitions.filter((t) => t.device === 'd-1').length, 0, 'removed device state dropped');
      assert.equal(h.engine.health().devices, 1);
      h.read(130 * S, 'd-1', { door_open: true });
      assert.equal(h.engine.health().ignoredReadings, 1);
    } finally {
      h.stop();
    }
  });

  it('removing a device with an open alarm closes it (cleared, and reset if latched)', () => {
    const h = harness([{ id: 'sd-1', kind: 'smoke' }]);
    try {
      h.read(1 * S, 'sd-1', { smoke: true });
      h.engine.replaceRules([]);
      assert.deepEqual(h.log(), [
        'sd-1 smoke raised @1000',
        'sd-1 smoke cleared @1000',
        'sd-1 smoke reset @1000',
      ]);
      assert.equal(new Set(h.transitions.map((t) => t.id)).size, 1);
      assert.equal(h.transitions[0]?.gateway, GATEWAY);
    } finally {
      h.stop();
    }
  });
});
