import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import { notificationStoreContract } from './store-contract.js';

notificationStoreContract('memory', async () => ({
  store: new MemoryNotificationStore(),
  async dispose() {},
}));
