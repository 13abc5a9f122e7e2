import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { harness } from './harness.js';

const S = 1000;

describe('smoke pack', () => {
  it('smoke is critical and latched: cleared when the bit drops, reset only after', () => {
    const h = harness([{ id: 'sd-1', kind: 'smoke' }]);
    try {
      h.read(1 * S, 'sd-1', { smoke: false });
      h.read(2 * S, 'sd-1', { smoke: true });
      const refused = h.engine.reset('sd-1', 'smoke', 'alice');
      assert.equal(refused.ok, false);
      assert.equal(refused.error?.code, 'EDGE_ERR_RULE_RESET');
      h.read(3 * S, 'sd-1', { smoke: false });
      assert.equal(h.engine.reset('sd-1', 'smoke', 'alice').ok, true);
      assert.deepEqual(h.log(), [
        'sd-1 smoke raised @2000',
        'sd-1 smoke cleared @3000',
        'sd-1 smoke reset @3000',
      ]);
      const [raised, cleared, reset] = h.transitions;
      assert.equal(raised?.severity, 'critical');
      assert.equal(raised?.latched, true);
      assert.equal(raised?.id, cleared?.id);
      assert.equal(raised?.id, reset?.id);
      assert.match(reset?.message ?? '', /alice/);
      h.read(4 * S, 'sd-1', { smoke: true });
      assert.notEqual(h.transitions.at(-1)?.id, raised?.id, 'a new occurrence gets a new id');
    } finally {
      h.stop();
    }
  });

  it('confirmed fire needs a second detector of the zone within the window (GB 50116-2013 §4.1.6)', () => {
    const h = harness([
      { id: 'sd-1', kind: 'smoke', zone: 'b1' },
      { id: 'sd-2', kind: 'smoke', zone: 'b1' },
      { id: 'sd-9', kind: 'smoke', zone: 'b9' },
    ]);
    try {
      h.read(1 * S, 'sd-1', { smoke: true });
      h.read(2 * S, 'sd-9', { smoke: true }); // another zone confirms nothing
      assert.equal(h.transitions.filter((t) => t.type === 'fire_confirmed').length, 0);
      h.read(60 * S, 'sd-2', { smoke: true });
      const confirmed = h.transitions.filter((t) => t.type === 'fire_confirmed');
      assert.deepEqual(confirmed.map((t) => `${t.device} ${t.state} ${t.severity}`).sort(), [
        'sd-1 raised critical',
        'sd-2 raised critical',
      ]);
    } finally {
      h.stop();
    }
  });

  it('a second detector outside the 10 min window does not confirm', () => {
    const h = harness([
      { id: 'sd-1', kind: 'smoke', zone: 'b1' },
      { id: 'sd-2', kind: 'smoke', zone: 'b1' },
    ]);
    try {
      h.read(1 * S, 'sd-1', { smoke: true });
      h.read(1 * S + 600 * S + 1, 'sd-2', { smoke: true });
      assert.equal(h.transitions.filter((t) => t.type === 'fire_confirmed').length, 0);
      assert.equal(h.transitions.filter((t) => t.type === 'smoke').length, 2);
    } finally {
      h.stop();
    }
  });
});

describe('gas pack (GB 15322.1)', () => {
  it('low at the 20 %LEL set point (inclusive), high at 50 %LEL latched', () => {
    const h = harness([{ id: 'g-1', kind: 'gas' }]);
    try {
      h.read(1 * S, 'g-1', { gas: 19.9 });
      assert.equal(h.transitions.length, 0);
      h.read(2 * S, 'g-1', { gas: 20 });
      h.read(3 * S, 'g-1', { gas: 49.9 });
      h.read(4 * S, 'g-1', { gas: 50 });
      h.read(5 * S, 'g-1', { gas: 0 });
      assert.deepEqual(h.log(), [
        'g-1 gas_low raised @2000',
        'g-1 gas_high raised @4000',
        'g-1 gas_low cleared @5000',
        'g-1 gas_high cleared @5000',
      ]);
      assert.equal(h.transitions[1]?.severity, 'critical');
      assert.equal(h.transitions[0]?.severity, 'major');
      assert.equal(h.engine.health().open[0]?.phase, 'latched');
    } finally {
      h.stop();
    }
  });

  it("the detector's AL1/AL2 and doorstep's set points raise one alarm per level, with both sources", () => {
    const h = harness([{ id: 'g-1', kind: 'gas', pack: { gasLowSetPointLel: 10 } }]);
    try {
      h.read(1 * S, 'g-1', { gas: 10, gas_al1: true, gas_al2: true });
      assert.deepEqual(
        h.transitions.map((t) => `${t.type} ${t.state} ${t.severity} ${t.latched} ${t.sources}`).sort(),
        ['gas_high raised critical true device', 'gas_low raised major false device,threshold'],
      );
      assert.equal(h.transitions.find((t) => t.type === 'gas_low')?.value, 10, 'the %LEL, not the flag');
    } finally {
      h.stop();
    }
  });

  it('one leak seen first by the AL1 bit, then by the set point, is one gas_low occurrence', () => {
    // The detector's own AL1 is set at 15 %LEL, doorstep's at 20 (the default): AL1 sees it first.
    const h = harness([{ id: 'g-1', kind: 'gas' }]);
    try {
      h.read(1 * S, 'g-1', { gas: 5, gas_al1: false, gas_al2: false });
      h.read(2 * S, 'g-1', { gas: 16, gas_al1: true });
      h.read(3 * S, 'g-1', { gas: 24, gas_al1: true });
      h.read(4 * S, 'g-1', { gas: 18, gas_al1: true }); // below 20: the set point lets go, AL1 holds
      h.read(5 * S, 'g-1', { gas: 4, gas_al1: false });
      assert.deepEqual(h.log(), ['g-1 gas_low raised @2000', 'g-1 gas_low cleared @5000']);
      const [raised, cleared] = h.transitions;
      assert.equal(raised?.id, cleared?.id, 'one identity from raise to clear');
      assert.deepEqual(raised?.sources, ['device']);
      assert.equal(raised?.value, 16);
      assert.deepEqual(cleared?.sources, ['device', 'threshold'], 'every source that saw it');
      // The next leak is a new occurrence, with only the sources that see it.
      h.read(6 * S, 'g-1', { gas: 21, gas_al1: false });
      assert.deepEqual(h.transitions[2]?.sources, ['threshold']);
      assert.notEqual(h.transitions[2]?.id, raised?.id);
    } finally {
      h.stop();
    }
  });

  it('a detector whose AL2 fires without a concentration reading still raises gas_high once', () => {
    const h = harness([{ id: 'g-1', kind: 'gas' }]);
    try {
      h.read(1 * S, 'g-1', { gas_al1: true, gas_al2: true });
      h.read(2 * S, 'g-1', { gas: 70, gas_al1: true, gas_al2: true });
      h.read(3 * S, 'g-1', { gas: 0, gas_al1: false, gas_al2: false });
      assert.deepEqual(h.log(), [
        'g-1 gas_low raised @1000',
        'g-1 gas_high raised @1000',
        'g-1 gas_low cleared @3000',
        'g-1 gas_high cleared @3000',
      ]);
      assert.deepEqual(h.transitions[3]?.sources, ['device', 'threshold']);
      assert.equal(h.engine.reset('g-1', 'gas_high', 'alice').ok, true);
      assert.deepEqual(h.transitions.at(-1)?.sources, ['device', 'threshold'], 'reset keeps them');
      assert.equal(h.transitions.at(-1)?.state, 'reset');
    } finally {
      h.stop();
    }
  });

  it('ignores bad-quality readings for thresholds', () => {
    const h = harness([{ id: 'g-1', kind: 'gas' }]);
    try {
      h.read(1 * S, 'g-1', { gas: 99 }, 'bad');
      assert.equal(h.transitions.length, 0);
    } finally {
      h.stop();
    }
  });
});
