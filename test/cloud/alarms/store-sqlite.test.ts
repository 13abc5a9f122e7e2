import { join } from 'node:path';
import { SqliteAlarmCaseStore } from '../../../cloud/alarms/store/sqlite.js';
import { SqliteCloudStore } from '../../../cloud/store/sqlite/store.js';
import { tempDir } from '../../support/tmp.js';
import { caseStoreContract } from './store-contract.js';

caseStoreContract(
  'sqlite',
  async () => {
    const dir = tempDir('doorstep-cases-');
    const path = join(dir.path, 'cloud.db');
    let cloud: SqliteCloudStore | undefined;
    // The case store lives in the CloudStore's database, on its connection (store.handle()).
    const open = async () => {
      cloud = new SqliteCloudStore({ path });
      await cloud.migrate();
      const handle = cloud.handle();
      if (handle.kind !== 'sqlite') throw new Error('not sqlite');
      const cases = new SqliteAlarmCaseStore(handle.db);
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
        dir.dispose();
      },
    };
  },
  { persistent: true },
);
