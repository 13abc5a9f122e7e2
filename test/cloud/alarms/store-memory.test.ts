import { MemoryAlarmCaseStore } from '../../../cloud/alarms/store/memory.js';
import { caseStoreContract } from './store-contract.js';

caseStoreContract(
  'memory',
  async () => ({
    open: async () => new MemoryAlarmCaseStore(),
    dispose: async () => {},
  }),
  { persistent: false },
);
