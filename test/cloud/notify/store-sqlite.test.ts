import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { notificationStoreFor } from '../../../cloud/notify/store/index.js';
import { SqliteCloudStore } from '../../../cloud/store/sqlite/store.js';
import { tempDir } from '../../support/tmp.js';
import { notificationStoreContract } from './store-contract.js';

notificationStoreContract('sqlite', async () => {
  const db = new Database(':memory:');
  return {
    store: notificationStoreFor({ kind: 'sqlite', db }),
    async dispose() {
      db.close();
    },
  };
});

it('sqlite: lives beside the cloud store in its database file, with its own migrations table', async () => {
  const dir = tempDir('doorstep-notify-');
  const cloud = new SqliteCloudStore({ path: join(dir.path, 'cloud.db') });
  try {
    await cloud.migrate();
    const store = notificationStoreFor(cloud.handle());
    await store.migrate();
    const handle = cloud.handle();
    assert.equal(handle.kind, 'sqlite');
    if (handle.kind !== 'sqlite') return;
    const tables = (
      handle.db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'notify_%'")
        .all() as { name: string }[]
    )
      .map((t) => t.name)
      .sort();
    assert.deepEqual(tables, [
      'notify_attempts',
      'notify_deliveries',
      'notify_request_cases',
      'notify_schema_migrations',
    ]);
  } finally {
    await cloud.close();
    dir.dispose();
  }
});
