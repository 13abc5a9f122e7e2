import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { LifecycleService } from '../../../cloud/alarms/lifecycle.js';
import { PostgresAlarmCaseStore } from '../../../cloud/alarms/store/postgres.js';
import { PostgresEscalationStore } from '../../../cloud/escalation/store/postgres.js';
import { PostgresCloudStore } from '../../../cloud/store/postgres/store.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { seedRegistry, transition } from '../alarms/helpers.js';
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

  it('two instances reading the case-event log: one reader at a time, every case planned and told once', async () => {
    const url = await cluster.createDatabase();
    const time = new VirtualTime(T0);
    const notifier = new RecordingNotifier(time.clock);
    const instances = await Promise.all(
      ['instance-a', 'instance-b'].map(async (workerId) => {
        const cloud = new PostgresCloudStore({ url, poolSize: 4 });
        await cloud.migrate();
        const handle = cloud.handle();
        if (handle.kind !== 'postgres') throw new Error('not postgres');
        const cases = new PostgresAlarmCaseStore(handle.pool);
        await cases.migrate();
        const r = await rig({
          store: new PostgresEscalationStore(handle.pool),
          time,
          notifier,
          tickMs: 2000,
          workerId,
          events: cases,
        });
        const lifecycle = new LifecycleService({
          cases,
          store: cloud,
          clock: time.clock,
          log: pino({ level: 'silent' }),
        });
        return { cloud, cases, r, lifecycle };
      }),
    );
    try {
      await seedRegistry(instances[0]!.cloud);
      const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
      // Alarms land on either instance; both readers race for the log after every batch.
      for (let i = 0; i < 16; i++) {
        const via = i % 2 ? a : b;
        await via.lifecycle.applyTransitions([
          transition(`log-race-${i}`, 'raised', T0, { device: `smoke-${i}` }),
        ]);
        await Promise.all([a.r.engine.readLog(), b.r.engine.readLog()]);
      }
      await time.advanceTo(T0 + 5_000, [a.r.engine, b.r.engine]);
      const warned = new Map<string, number>();
      for (const s of notifier.sent)
        if (s.request.stage === 'warn')
          for (const c of s.request.cases) warned.set(c.id, (warned.get(c.id) ?? 0) + 1);
      assert.equal(warned.size, 16, 'every case told');
      assert.deepEqual(
        [...warned.entries()].filter(([, n]) => n !== 1),
        [],
        'none twice',
      );
      // One holder of the cursor; the other's reads were refused.
      const holders = await a.cloud.handle();
      if (holders.kind !== 'postgres') throw new Error('not postgres');
      const row = (
        await holders.pool.query("SELECT holder FROM alarm_case_cursors WHERE consumer = 'escalation'")
      ).rows[0] as { holder: string } | undefined;
      assert.ok(row && ['instance-a', 'instance-b'].includes(row.holder));
    } finally {
      for (const i of instances) await i.r.stop();
      for (const i of instances) await i.cloud.close();
    }
  });
});
