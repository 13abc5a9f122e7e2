import { MemoryEscalationStore } from '../../../cloud/escalation/store/memory.js';
import { escalationStoreContract } from './store-contract.js';

escalationStoreContract('memory', async () => {
  const store = new MemoryEscalationStore();
  return { store, other: async () => store, dispose: async () => {} };
});
