import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SqliteRuleStateStore } from '../../../edge/rules/engine/sqlite-store.js';
import { tempDir } from '../../support/tmp.js';
import { Clock, harness } from './harness.js';

const S = 1000;

describe('rule state survives a restart (SQLite store)', () => {
  const dir = tempDir('doorstep-rules-');
  after(() => dir.dispose());

  it('raised stays raised with its id, a pending on-delay resumes, a latch stays latched', () => {
    const file = `${dir.path}/rules.db`;
    const devices = [
      { id: 'sd-1', kind: 'smoke' as const },
      { id: 'p-1', kind: 'water_pressure' as const },
      { id: 'g-1', kind: 'gas' as const },
    ];
    const first = harness(devices, { store: new SqliteRuleStateStore(file) });
    try {
      first.read(1 * S, 'sd-1', { smoke: true });
      first.read(1 * S, 'g-1', { gas: 30 });
      first.read(2 * S, 'sd-1', { smoke: false }); // latched, awaiting reset
      first.read(10 * S, 'p-1', { pressure: 0.05 }); // on-delay pending since 10 s
    } finally {
      first.stop();
    }
    const raisedBefore = first.transitions.filter((t) => t.state === 'raised');

    const second = harness(devices, { store: new SqliteRuleStateStore(file), clock: new Clock(20 * S) });
    try {
      second.read(20 * S, 'g-1', { gas: 31 }); // still above: no duplicate raise
      second.clock.advanceTo(25 * S - 1);
      assert.equal(second.transitions.length, 0);
      second.clock.advanceTo(25 * S); // 10 s + 15 s: resumed from its original start
      assert.deepEqual(
        second.log().filter((l) => l.includes('pressure_low ')),
        ['p-1 pressure_low raised @25000'],
      );
      second.read(30 * S, 'g-1', { gas: 0 });
      const gasCleared = second.transitions.find((t) => t.type === 'gas_low' && t.state === 'cleared');
      assert.equal(gasCleared?.id, raisedBefore.find((t) => t.type === 'gas_low')?.id, 'same occurrence id');
      const health = second.engine.health();
      assert.ok(health.open.some((o) => o.type === 'smoke' && o.phase === 'latched'));
      assert.equal(second.engine.reset('sd-1', 'smoke', 'alice').ok, true);
      const reset = second.transitions.find((t) => t.state === 'reset');
      assert.equal(reset?.id, raisedBefore.find((t) => t.type === 'smoke')?.id);
    } finally {
      second.stop();
    }
  });

  it('a store that cannot open reports EDGE_ERR_RULE_STATE', () => {
    const store = new SqliteRuleStateStore(`${dir.path}/missing/dir/rules.db`);
    assert.throws(
      () => store.open(),
      (error: { code?: string }) => error.code === 'EDGE_ERR_RULE_STATE',
    );
  });
});
