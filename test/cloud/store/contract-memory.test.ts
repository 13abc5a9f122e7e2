import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import { cloudStoreContract } from './contract.js';

cloudStoreContract(
  'memory',
  async () => ({
    async open() {
      const store = new MemoryCloudStore();
      await store.migrate();
      return store;
    },
    async dispose() {},
  }),
  { persistent: false },
);
