import { after, before } from 'node:test';
import pg from 'pg';
import { notificationStoreFor } from '../../../cloud/notify/store/index.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { notificationStoreContract } from './store-contract.js';

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

notificationStoreContract('postgres', async () => {
  const pool = new pg.Pool({ connectionString: await cluster!.createDatabase(), max: 6 });
  return { store: notificationStoreFor({ kind: 'postgres', pool }), dispose: () => pool.end() };
});
