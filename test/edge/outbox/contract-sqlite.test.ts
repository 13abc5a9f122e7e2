import { join } from 'node:path';
import { SqliteOutbox } from '../../../edge/outbox/sqlite.js';
import type { Outbox } from '../../../edge/outbox/types.js';
import { tempDir } from '../../support/tmp.js';
import { outboxContract } from './contract.js';

outboxContract('sqlite', () => {
  const dir = tempDir('doorstep-outbox-');
  const path = join(dir.path, 'outbox.db');
  return {
    open(options) {
      const outbox = new SqliteOutbox({ ...options, path });
      outbox.open();
      return outbox;
    },
    reopen(outbox: Outbox, options) {
      outbox.close();
      const again = new SqliteOutbox({ ...options, path });
      again.open();
      return again;
    },
    dispose: () => dir.dispose(),
  };
});
