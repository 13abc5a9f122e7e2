import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresEscalationStore } from '../../../cloud/escalation/store/postgres.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { event, MIN, makeCase, RecordingNotifier, rig, T0, VirtualTime } from './support.js';

/**
 * docs/architecture.md invariant 10: two cloud instances on one PostgreSQL database race over the same due rows
 * (their worker ticks fire at the same virtual instants, concurrently) — every case is still told
 * each stage exactly once. The recording notifier does not deduplicate ids: a double claim shows.
 */
describe('escalation: two engine instances on one PostgreSQL', () => {
  let cluster: PgCluster;
  const pools: pg.Pool[] = [];
  before(async () => {
    cluster = await startPostgres();
  });
  after(async () => {
    for (const p of pools) await p.end();
    await cluster.stop();
  });

  it('every notification exactly once', async () => {
    const url = await cluster.createDatabase();
    const store = () => {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      pools.push(pool);
      return new PostgresEscalationStore(pool);
    };
    const time = new VirtualTime(T0);
    const notifier = new RecordingNotifier(time.clock);
    const a = await rig({ store: store(), time, notifier, tickMs: 2000, workerId: 'instance-a' });
    const b = await rig({ store: store(), time, notifier, tickMs: 2000, workerId: 'instance-b' });
    const engines = [a.engine, b.engine];
    const cases = Array.from({ length: 24 }, (_, i) =>
      makeCase({
        id: `race-${i}`,
        community: i % 2 ? 'lane-100' : 'lane-200',
        type: i % 3 ? 'smoke' : 'gas_high',
      }),
    );
    // Each instance ingests half of the alarms (the lifecycle runs wherever the batch landed).
    for (const [i, c] of cases.entries()) await engines[i % 2]!.onCaseEvent(event('raised', c, T0));
    await time.advanceTo(T0 + 31 * MIN, engines);

    const told = new Map<string, number>();
    for (const s of notifier.sent)
      for (const c of s.request.cases)
        told.set(`${c.id}/${s.request.stage}`, (told.get(`${c.id}/${s.request.stage}`) ?? 0) + 1);
    assert.equal(told.size, cases.length * 3, 'warn, remind and supervise for every case');
    assert.deepEqual(
      [...told.entries()].filter(([, n]) => n !== 1),
      [],
      'nothing told twice',
    );
    const ids = notifier.sent.map((s) => s.request.id);
    assert.equal(new Set(ids).size, ids.length, 'no notification id delivered twice');
    const workers = new Set((await a.store.rows()).map((r) => r.claimedBy));
    assert.ok(workers.has('instance-a') || workers.has('instance-b'));
    await a.stop();
    await b.stop();
  });
});
