import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { dedupKeyOf } from '../../../cloud/alarms/model.js';
import { PostgresAlarmCaseStore } from '../../../cloud/alarms/store/postgres.js';
import { PostgresCloudStore } from '../../../cloud/store/postgres/store.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { duty, lifecycle, seedRegistry, T0, transition } from './helpers.js';
import { caseStoreContract } from './store-contract.js';

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

caseStoreContract(
  'postgres',
  async () => {
    const url = await cluster!.createDatabase();
    let cloud: PostgresCloudStore | undefined;
    const open = async () => {
      cloud = new PostgresCloudStore({ url, poolSize: 4 });
      await cloud.migrate();
      const handle = cloud.handle();
      if (handle.kind !== 'postgres') throw new Error('not postgres');
      const cases = new PostgresAlarmCaseStore(handle.pool);
      await cases.migrate();
      return cases;
    };
    return {
      open,
      handle: () => cloud!.handle(),
      async reopen() {
        await cloud?.close();
        return open();
      },
      async dispose() {
        await cloud?.close();
      },
    };
  },
  { persistent: true },
);

describe('two cloud instances on one PostgreSQL', () => {
  it('applying the same transitions concurrently makes one case, one audit line per change, one event each', async () => {
    const url = await cluster!.createDatabase();
    const instances = await Promise.all(
      [0, 1].map(async () => {
        const cloud = new PostgresCloudStore({ url, poolSize: 4 });
        await cloud.migrate();
        const handle = cloud.handle();
        if (handle.kind !== 'postgres') throw new Error('not postgres');
        return { cloud, cases: new PostgresAlarmCaseStore(handle.pool) };
      }),
    );
    try {
      // Both migrate at once, as two instances starting together would.
      await Promise.all(instances.map((i) => i.cases.migrate()));
      await seedRegistry(instances[0]!.cloud);
      const clock = { now: T0 + 60_000 };
      const [a, b] = instances.map((i) => lifecycle(i.cases, i.cloud, clock));
      const batch = [
        transition('alarm-0001', 'raised', T0),
        transition('alarm-0001', 'cleared', T0 + 1000),
        transition('alarm-0002', 'raised', T0 + 2000),
      ];
      // Each instance gets the batch several times, all at once (a retried, duplicated delivery).
      await Promise.all([
        ...[1, 2, 3].map(() => a!.service.applyTransitions(batch)),
        ...[1, 2, 3].map(() => b!.service.applyTransitions(batch)),
        // … and the second transition alone, racing the first for the still-missing case.
        b!.service.applyTransitions([batch[1]!]),
      ]);
      const cases = await a!.service.list('pudong', {});
      // alarm-0002 is the condition occurring again while its case is open: one case, count 2,
      // active (whichever order the racing calls applied the first clear and the second raise in).
      assert.deepEqual(
        cases.map((c) => [c.id, c.occurrence, c.condition]),
        [['alarm-0001', 2, 'active']],
      );
      const events = (await a!.sink.events()).map((e) => `${e.caseId}:${e.kind}`);
      for (const kind of ['raised', 'retriggered'])
        assert.equal(events.filter((e) => e === `alarm-0001:${kind}`).length, 1, `${kind} once: ${events}`);
      assert.ok(
        events.filter((e) => e === 'alarm-0001:cleared').length <= 1,
        `cleared at most once: ${events}`,
      );
      assert.equal((await a!.service.audit('alarm-0001')).length, 3);
      // Two people acknowledging at once: one wins, the other is told who did.
      const acks = await Promise.allSettled([
        a!.service.ack('alarm-0001', { ...duty, id: 'u-1', name: 'wang' }),
        b!.service.ack('alarm-0001', { ...duty, id: 'u-2', name: 'zhao' }),
      ]);
      assert.deepEqual(acks.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
      assert.equal((await instances[1]!.cases.pendingCommands('gw-1', 10)).length, 1, 'one ack command');
    } finally {
      await Promise.all(instances.map((i) => i.cloud.close()));
    }
  });
  it('the raise and the clear of one new alarm id, both past the lookup before either commits, make one case with occurrence 1', async () => {
    const url = await cluster!.createDatabase();
    const instances = await Promise.all(
      [0, 1].map(async () => {
        const cloud = new PostgresCloudStore({ url, poolSize: 4 });
        await cloud.migrate();
        const handle = cloud.handle();
        if (handle.kind !== 'postgres') throw new Error('not postgres');
        return { cloud, cases: new PostgresAlarmCaseStore(handle.pool) };
      }),
    );
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      await instances[0]!.cases.migrate();
      await seedRegistry(instances[0]!.cloud);
      const clock = { now: T0 + 60_000 };
      const [a, b] = instances.map((i) => lifecycle(i.cases, i.cloud, clock));
      const raised = transition('alarm-0001', 'raised', T0);
      const cleared = transition('alarm-0001', 'cleared', T0 + 1000);
      // The forced interleaving: the condition's key row is held by another transaction, so both
      // transitions claim, look the alarm id up (no case yet) and then wait for the key's row lock;
      // released, one creates the case and the other must find it as its own alarm id's case
      // (not as the condition's open case occurring again).
      await blocker.query('BEGIN');
      await blocker.query('INSERT INTO alarm_case_keys (dedup_key, occurrences) VALUES ($1, 0)', [
        dedupKeyOf(raised),
      ]);
      const applying = Promise.all([
        a!.service.applyTransitions([raised]),
        b!.service.applyTransitions([cleared]),
      ]);
      const waiting = async () =>
        Number(
          (
            await blocker.query(
              `SELECT count(*) AS n FROM pg_stat_activity
               WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
            )
          ).rows[0]?.n ?? 0,
        );
      while ((await waiting()) < 2) await sleep(5);
      await blocker.query('COMMIT');
      const changes = (await applying).flat();
      assert.equal(changes.length, 2, 'both transitions applied');
      const cases = await a!.service.list('pudong', {});
      assert.deepEqual(
        cases.map((c) => [c.id, c.occurrence, c.occurrences?.map((o) => o.alarm), c.condition]),
        [['alarm-0001', 1, ['alarm-0001'], 'cleared']],
      );
      const kinds = (await a!.sink.events()).map((e) => e.kind).sort();
      assert.deepEqual(kinds, ['cleared', 'raised']);
      const key = await blocker.query('SELECT occurrences FROM alarm_case_keys WHERE dedup_key = $1', [
        dedupKeyOf(raised),
      ]);
      assert.equal(Number(key.rows[0]?.occurrences), 1, "the key's counter counts the one occurrence");
    } finally {
      await blocker.end();
      await Promise.all(instances.map((i) => i.cloud.close()));
    }
  });
  it('new alarm ids of one condition racing on two instances make one case with every occurrence counted', async () => {
    const url = await cluster!.createDatabase();
    const instances = await Promise.all(
      [0, 1].map(async () => {
        const cloud = new PostgresCloudStore({ url, poolSize: 4 });
        await cloud.migrate();
        const handle = cloud.handle();
        if (handle.kind !== 'postgres') throw new Error('not postgres');
        return { cloud, cases: new PostgresAlarmCaseStore(handle.pool) };
      }),
    );
    try {
      await instances[0]!.cases.migrate();
      await seedRegistry(instances[0]!.cloud);
      const clock = { now: T0 + 60_000 };
      const [a, b] = instances.map((i) => lifecycle(i.cases, i.cloud, clock));
      // Eight raises of the same device and type, no case yet, four from each instance at once.
      const raises = Array.from({ length: 8 }, (_, i) => transition(`race-${i}`, 'raised', T0 + i));
      await Promise.all(raises.map((t, i) => (i % 2 ? a! : b!).service.applyTransitions([t])));
      const open = await a!.service.list('pudong', { open: true });
      assert.equal(open.length, 1, `one open case, not ${open.length}`);
      assert.equal(open[0]?.occurrence, 8);
      assert.deepEqual(
        [...(open[0]?.occurrences ?? [])].map((o) => o.alarm).sort(),
        raises.map((t) => t.id).sort(),
      );
      const kinds = (await a!.sink.events()).map((e) => e.kind).sort();
      assert.deepEqual(kinds, ['raised', ...Array(7).fill('retriggered')]);
    } finally {
      await Promise.all(instances.map((i) => i.cloud.close()));
    }
  });
});

describe('the case-event log on one PostgreSQL shared by two instances', () => {
  it('a reader following its cursor while both instances append never skips an entry (appends commit in seq order)', async () => {
    const url = await cluster!.createDatabase();
    const instances = await Promise.all(
      [0, 1].map(async () => {
        const cloud = new PostgresCloudStore({ url, poolSize: 8 });
        await cloud.migrate();
        const handle = cloud.handle();
        if (handle.kind !== 'postgres') throw new Error('not postgres');
        return { cloud, cases: new PostgresAlarmCaseStore(handle.pool) };
      }),
    );
    try {
      await Promise.all(instances.map((i) => i.cases.migrate()));
      await seedRegistry(instances[0]!.cloud);
      const clock = { now: T0 + 60_000 };
      const services = instances.map((i) => lifecycle(i.cases, i.cloud, clock).service);
      // The reader: what a consumer does — read after the cursor, move the cursor to the last seen.
      const seen: number[] = [];
      let cursor = 0;
      let writing = true;
      const reader = (async () => {
        for (;;) {
          const done = !writing;
          const entries = await instances[1]!.cases.readEvents(cursor, 50);
          for (const e of entries) seen.push(e.seq);
          cursor = entries.at(-1)?.seq ?? cursor;
          if (done && entries.length === 0) return;
        }
      })();
      // 8 writers on each instance, each raising alarms of its own device (no shared row lock).
      await Promise.all(
        services.flatMap((svc, i) =>
          Array.from({ length: 8 }, async (_, w) => {
            for (let k = 0; k < 12; k++)
              await svc.applyTransitions([
                transition(`log-${i}-${w}-${k}`, 'raised', T0 + k, { device: `d-${i}-${w}-${k}` }),
              ]);
          }),
        ),
      );
      writing = false;
      await reader;
      const all = (await instances[0]!.cases.readEvents(0, 10_000)).map((e) => e.seq);
      assert.equal(all.length, 2 * 8 * 12);
      assert.deepEqual(seen, all, 'the reader saw every entry, in order, none skipped');
    } finally {
      await Promise.all(instances.map((i) => i.cloud.close()));
    }
  });
});
