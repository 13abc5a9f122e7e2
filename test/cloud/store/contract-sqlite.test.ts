import { join } from 'node:path';
import { SqliteCloudStore } from '../../../cloud/store/sqlite/store.js';
import { tempDir } from '../../support/tmp.js';
import { cloudStoreContract } from './contract.js';

cloudStoreContract(
  'sqlite',
  async () => {
    const dir = tempDir('doorstep-cloud-store-');
    const path = join(dir.path, 'cloud.db');
    const open = async () => {
      const store = new SqliteCloudStore({ path });
      await store.migrate();
      return store;
    };
    return {
      open,
      async reopen(store) {
        await store.close();
        return open();
      },
      async dispose() {
        dir.dispose();
      },
    };
  },
  { persistent: true },
);
