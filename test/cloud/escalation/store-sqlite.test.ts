import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteEscalationStore } from '../../../cloud/escalation/store/sqlite.js';
import { tempDir } from '../../support/tmp.js';
import { escalationStoreContract } from './store-contract.js';

let n = 0;
escalationStoreContract('sqlite', async () => {
  const dir = tempDir('doorstep-esc-');
  const path = join(dir.path, `esc-${++n}.db`);
  const dbs = [new Database(path)];
  dbs[0]!.pragma('journal_mode = WAL');
  return {
    store: new SqliteEscalationStore(dbs[0]!),
    handle: { kind: 'sqlite', db: dbs[0]! },
    async other() {
      const db = new Database(path);
      db.pragma('busy_timeout = 5000');
      dbs.push(db);
      return new SqliteEscalationStore(db);
    },
    async dispose() {
      for (const db of dbs) db.close();
      dir.dispose();
    },
  };
});
