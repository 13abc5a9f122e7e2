import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteOutbox } from '../../../edge/outbox/sqlite.js';
import { OutboxRuleStateStore } from '../../../edge/rules/engine/sqlite-store.js';
import { MemoryRuleStateStore, type RuleState } from '../../../edge/rules/engine/state.js';
import type { AlarmTransition } from '../../../protocol/alarm.js';
import { tempDir } from '../../support/tmp.js';
import { harness } from './harness.js';

const S = 1000;
const devices = [{ id: 'sd-1', kind: 'smoke' as const }];

/** Writes a rules.db as gateways before one-file persistence did (WAL, table rule_state). */
function writeLegacy(file: string, states: RuleState[]): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(
    'CREATE TABLE rule_state (device TEXT NOT NULL, type TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (device, type)) WITHOUT ROWID',
  );
  for (const s of states)
    db.prepare('INSERT INTO rule_state VALUES (?, ?, ?)').run(s.device, s.type, JSON.stringify(s));
  db.close();
}

describe('one transaction per decision: rule state and alarms in the outbox', () => {
  const dir = tempDir('doorstep-decision-');
  after(() => dir.dispose());

  it('the raise and the state that decided it are in the outbox together; a restart raises nothing again', () => {
    const path = join(dir.path, 'one.db');
    const first = harness(devices, {
      store: new OutboxRuleStateStore(new SqliteOutbox({ path }), { ownsOutbox: true }),
    });
    first.read(1 * S, 'sd-1', { smoke: true });
    assert.deepEqual(first.log(), ['sd-1 smoke raised @1000']);
    first.stop();
    const db = new Database(path, { readonly: true });
    const alarms = db.prepare('SELECT payload FROM entries WHERE class = 0').all() as { payload: string }[];
    const states = db.prepare("SELECT value FROM side_state WHERE key LIKE 'rule/%'").all() as {
      value: string;
    }[];
    db.close();
    assert.equal(alarms.length, 1);
    const raised = JSON.parse(alarms[0]!.payload) as AlarmTransition;
    const smoke = states.map((s) => JSON.parse(s.value) as RuleState).find((s) => s.type === 'smoke');
    assert.equal(smoke?.phase, 'active');
    assert.equal(smoke?.id, raised.id, 'the stored state names the stored alarm');

    const second = harness(devices, {
      store: new OutboxRuleStateStore(new SqliteOutbox({ path }), { ownsOutbox: true }),
      startMs: 5 * S,
    });
    second.read(5 * S, 'sd-1', { smoke: true });
    assert.deepEqual(second.log(), [], 'no second raise');
    second.stop();
  });

  it('migrates a rules.db of the two-file layout once, and deletes it', () => {
    // State as the old layout kept it: the smoke alarm raised and open.
    const legacyRun = harness(devices, { store: new MemoryRuleStateStore() });
    legacyRun.read(1 * S, 'sd-1', { smoke: true });
    const raisedId = legacyRun.transitions[0]!.id;
    const states = legacyRun.engine.health().open.length;
    assert.equal(states, 1);
    const memory = new MemoryRuleStateStore();
    legacyRun.stop();
    // Capture the engine's states through a store that records them.
    const capture = harness(devices, { store: memory });
    capture.read(1 * S, 'sd-1', { smoke: true });
    const captured = memory.loadAll().map((s) => (s.type === 'smoke' ? { ...s, id: raisedId } : s));
    capture.stop();

    const legacy = join(dir.path, 'rules.db');
    writeLegacy(legacy, captured);
    const path = join(dir.path, 'migrated.db');
    const open = () =>
      harness(devices, {
        store: new OutboxRuleStateStore(new SqliteOutbox({ path }), { ownsOutbox: true, legacyFile: legacy }),
        startMs: 10 * S,
      });
    const after1 = open();
    after1.read(10 * S, 'sd-1', { smoke: true });
    assert.deepEqual(after1.log(), [], 'the migrated latch holds: no second raise');
    after1.read(11 * S, 'sd-1', { smoke: false });
    assert.equal(after1.transitions[0]?.id, raisedId, 'the occurrence keeps its id across the migration');
    after1.stop();
    assert.equal(existsSync(legacy), false, 'rules.db deleted');
    assert.equal(existsSync(`${legacy}-wal`), false);

    // A crash after the copy but before the delete leaves the file: the marker makes it a delete only.
    writeLegacy(
      legacy,
      captured.map((s) => ({ ...s, phase: 'normal' as const })),
    );
    const after2 = open();
    assert.ok(
      after2.engine.health().open.some((o) => o.type === 'smoke'),
      'state in the outbox wins over a stale rules.db',
    );
    after2.stop();
    assert.equal(existsSync(legacy), false);
  });

  it('a failing store: the alarm is announced at once, and the decision is retried until written', () => {
    const inner = new MemoryRuleStateStore();
    let failures = 0;
    const written: AlarmTransition[] = [];
    const store = {
      open: () => inner.open(),
      loadAll: () => inner.loadAll(),
      close: () => inner.close(),
      write(
        upserts: readonly RuleState[],
        deletions: readonly { device: string; type: string }[],
        transitions: readonly AlarmTransition[] = [],
      ) {
        if (failures-- > 0)
          throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        inner.write(upserts, deletions);
        written.push(...transitions);
      },
    };
    const h = harness(devices, { store });
    failures = 3; // the disk fills up after the start
    h.read(1 * S, 'sd-1', { smoke: true });
    assert.deepEqual(h.log(), ['sd-1 smoke raised @1000'], 'announced although not written');
    assert.equal(h.engine.unsavedTransitions, 1);
    h.clock.advanceTo(2 * S);
    h.clock.advanceTo(3 * S);
    assert.equal(written.length, 0);
    h.clock.advanceTo(4 * S);
    assert.equal(written.length, 1, 'written at the fourth attempt');
    assert.equal(written[0]!.id, h.transitions[0]!.id);
    assert.equal(h.engine.unsavedTransitions, 0);
    assert.equal(h.transitions.length, 1, 'announced once');
    h.stop();
  });
});
