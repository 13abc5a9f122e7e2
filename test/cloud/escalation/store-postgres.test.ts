import { after, before } from 'node:test';
import pg from 'pg';
import { PostgresEscalationStore } from '../../../cloud/escalation/store/postgres.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { escalationStoreContract } from './store-contract.js';

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

escalationStoreContract('postgres', async () => {
  const url = await cluster!.createDatabase();
  const pools = [new pg.Pool({ connectionString: url, max: 4 })];
  return {
    store: new PostgresEscalationStore(pools[0]!),
    handle: { kind: 'postgres', pool: pools[0]! },
    async other() {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      pools.push(pool);
      return new PostgresEscalationStore(pool);
    },
    async dispose() {
      for (const p of pools) await p.end();
    },
  };
});
