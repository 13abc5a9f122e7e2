import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteEscalationStore } from '../../../cloud/escalation/store/sqlite.js';
import { tempDir } from '../../support/tmp.js';
import { event, MIN, makeCase, rig, T0 } from './support.js';

/**
 * docs/architecture.md invariant 10: escalation timers survive restarts. The process stops between two steps (or
 * dies holding a claimed row); a new engine on the same SQLite file fires the next step on time
 * (relative to the plan, or after the claim's lease), once.
 */
describe('escalation: restart on the same SQLite file', () => {
  const dir = tempDir('doorstep-esc-restart-');
  after(() => dir.dispose());
  const open = (name: string) => {
    const db = new Database(join(dir.path, name));
    db.pragma('journal_mode = WAL');
    return db;
  };

  it('stopped between two steps: the next step fires at its planned time, once', async () => {
    const db1 = open('a.db');
    const first = await rig({ store: new SqliteEscalationStore(db1) });
    await first.engine.onCaseEvent(event('raised', makeCase({ id: 'rs-1' }), T0));
    await first.advanceTo(T0 + MIN);
    assert.deepEqual(
      first.notifier.sent.map((s) => s.request.stage),
      ['warn'],
    );
    await first.stop();
    assert.equal(first.time.timerCount, 0, 'the worker timer is gone');
    db1.close();

    const db2 = open('a.db');
    const second = await rig({ store: new SqliteEscalationStore(db2), start: T0 + 2 * MIN });
    await second.advanceTo(T0 + 3 * MIN - 1);
    assert.equal(second.notifier.sent.length, 0, 'nothing early, step 0 not repeated');
    await second.advanceTo(T0 + 31 * MIN);
    // Planned from the 预警's delivery (T0 + 500 ms), which the first engine recorded.
    assert.deepEqual(
      second.notifier.sent.map((s) => [s.request.id, (s.at - T0) / MIN]),
      [
        ['rs-1:2:1:0', 3 + 0.5 / 60],
        ['rs-1:2:2:0', 30 + 0.5 / 60],
      ],
    );
    await second.stop();
    db2.close();
  });

  it('died holding a claimed row: a new engine delivers it after the lease, once', async () => {
    const db1 = open('b.db');
    const first = await rig({ store: new SqliteEscalationStore(db1) });
    await first.engine.onCaseEvent(event('raised', makeCase({ id: 'rs-2' }), T0));
    await first.advanceTo(T0 + MIN);
    await first.stop();
    // The worker claims the 3-minute step (due 3 min after the 预警's delivery at T0 + 500 ms)
    // and the process is killed before it completes it.
    const claimedAt = T0 + 3 * MIN + 500;
    const claimed = await first.store.claimDue('dead-instance', claimedAt, 6_000, 10);
    assert.deepEqual(
      claimed.map((r) => r.id),
      ['rs-2:2:1:0'],
    );
    db1.close();

    const db2 = open('b.db');
    const second = await rig({ store: new SqliteEscalationStore(db2), start: claimedAt });
    await second.advanceTo(claimedAt + 6_000);
    assert.equal(second.notifier.sent.length, 0, 'the dead claim holds until its lease ends');
    await second.advanceTo(T0 + 10 * MIN);
    // The lease is short (CLAIM_LEASE_MS, 6 s): taken over on the first tick after it, not a minute later.
    assert.deepEqual(
      second.notifier.sent.map((s) => [s.request.id, s.at - claimedAt]),
      [['rs-2:2:1:0', 6_500]],
    );
    await second.stop();
    db2.close();
  });
});
