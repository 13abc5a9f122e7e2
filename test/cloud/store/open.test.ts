/** openCloudStore and what only a file-backed store can show: WAL, schema versions. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MemoryCloudStore, openCloudStore, SqliteCloudStore } from '../../../cloud/store/index.js';
import { isDoorstepError } from '../../../protocol/index.js';
import { tempDir } from '../../support/tmp.js';

const dir = tempDir('doorstep-cloud-open-');
after(() => dir.dispose());

describe('openCloudStore', () => {
  it('opens and migrates memory and SQLite stores', async () => {
    const memory = await openCloudStore({ kind: 'memory' });
    assert.ok(memory instanceof MemoryCloudStore);
    await memory.close();
    const path = join(dir.path, 'open.db');
    const sqlite = await openCloudStore({ kind: 'sqlite', path });
    assert.ok(sqlite instanceof SqliteCloudStore);
    assert.deepEqual(await sqlite.countRecords(), { alarms: 0, events: 0, telemetry: 0 });
    await sqlite.close();
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(db.prepare('SELECT version FROM schema_migrations').all(), [{ version: 1 }]);
    } finally {
      db.close();
    }
  });

  it('rejects bad configuration with CLOUD_ERR_STORE_CONFIG', async () => {
    for (const config of [
      { kind: 'mongo' },
      { kind: 'sqlite', path: '' },
      { kind: 'postgres', url: '' },
      undefined,
    ]) {
      await assert.rejects(openCloudStore(config as never), (e) =>
        isDoorstepError(e, 'CLOUD_ERR_STORE_CONFIG'),
      );
    }
  });

  it('refuses a database migrated by a newer build, changing nothing', async () => {
    const path = join(dir.path, 'newer.db');
    await (await openCloudStore({ kind: 'sqlite', path })).close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, ?, 0)').run(
      'from the future',
    );
    db.close();
    await assert.rejects(openCloudStore({ kind: 'sqlite', path }), (e) =>
      isDoorstepError(e, 'CLOUD_ERR_STORE_SCHEMA'),
    );
  });
});
