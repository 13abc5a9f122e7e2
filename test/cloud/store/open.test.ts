/** openCloudStore and what only a file-backed store can show: WAL, schema versions. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MemoryCloudStore, openCloudStore, SqliteCloudStore } from '../../../cloud/store/index.js';
import { SQLITE_MIGRATIONS } from '../../../cloud/store/sqlite/schema.js';
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
      assert.deepEqual(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all(), [
        { version: 1 },
        { version: 2 },
      ]);
    } finally {
      db.close();
    }
  });

  it('migrates v1 readings to integer-keyed rows (v2), keeping ids, queries, dedup and rollups', async () => {
    const path = join(dir.path, 'v1.db');
    const v1 = new Database(path);
    v1.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);
      ${SQLITE_MIGRATIONS[0]!.sql}
      INSERT INTO schema_migrations VALUES (1, 'initial schema', 0);
      INSERT INTO gateways VALUES ('gw-1', 'pd/zj/l1', NULL, 'active', 0);
      INSERT INTO readings (id, gateway, seq, site_path, device, point, unit, quality, value_kind, value_num,
        value_text, ts, offset_ms, cloud_ts) VALUES
        (7, 'gw-1', 1, 'pd/zj/l1', 'd1', 'pressure', 'MPa', 'g', 0, 0.35, NULL, 1000, 0, 1000),
        (8, 'gw-1', 2, 'pd/zj/l1', 'd1', 'door', '', 'b', 2, NULL, 'open', 2000, 10, 1990);
      INSERT INTO reading_sites VALUES ('pd/zj/l1');`);
    v1.close();
    const store = await openCloudStore({ kind: 'sqlite', path });
    try {
      const rows = await store.queryReadings('pd', {});
      assert.deepEqual(
        rows.map((r) => [r.gateway, r.seq, r.device, r.point, r.unit, r.value, r.quality, r.cloudTs]),
        [
          ['gw-1', 1, 'd1', 'pressure', 'MPa', 0.35, 'good', 1000],
          ['gw-1', 2, 'd1', 'door', '', 'open', 'bad', 1990],
        ],
      );
      assert.equal((await store.queryReadings('pd/zj/l1', { device: 'd1', point: 'door' })).length, 1);
      assert.deepEqual(await store.countRecords('gw-1'), { alarms: 0, events: 0, telemetry: 2 });
      assert.deepEqual(await store.rollup(0), { readings: 1 });
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT id FROM readings ORDER BY id').pluck().all(), [7, 8]);
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
