import { after, before } from 'node:test';
import { PostgresCloudStore } from '../../../cloud/store/postgres/store.js';
import { type PgCluster, startPostgres } from '../../support/postgres.js';
import { cloudStoreContract } from './contract.js';

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

cloudStoreContract(
  'postgres',
  async () => {
    const url = await cluster!.createDatabase();
    const open = async () => {
      const store = new PostgresCloudStore({ url, poolSize: 4 });
      await store.migrate();
      return store;
    };
    return {
      open,
      async reopen(store) {
        await store.close();
        return open();
      },
      async dispose() {},
    };
  },
  { persistent: true },
);
