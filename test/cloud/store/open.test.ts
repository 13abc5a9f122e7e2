/** openCloudStore and what only a file-backed store can show: WAL, schema versions. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MemoryCloudStore, openCloudStore, SqliteCloudStore } from '../../../cloud/store/index.js';
import { sqliteReadingsQuery } from '../../../cloud/store/sql-queries.js';
import { SQLITE_DIALECT } from '../../../cloud/store/sql-shared.js';
import { SQLITE_MIGRATIONS } from '../../../cloud/store/sqlite/schema.js';
import { isDoorstepError } from '../../../protocol/index.js';
import { tempDir } from '../../support/tmp.js';
import { batch, gateway, readings, site } from './fixtures.js';

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
      // Every listed migration, whatever gaps the numbering has.
      assert.deepEqual(
        db.prepare('SELECT version FROM schema_migrations ORDER BY version').all(),
        SQLITE_MIGRATIONS.map((m) => ({ version: m.version })),
      );
      // v4: sign-in attempts per (user name, source address).
      assert.deepEqual(
        (db.pragma('table_info(signin_attempts)') as Array<{ name: string }>).map((c) => c.name),
        ['username', 'source', 'attempts', 'locks', 'locked_until', 'updated_at'],
      );
      // v3: the per-series index is led by the minute (schema.ts explains why).
      const indexes = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'readings'")
        .pluck()
        .all();
      assert.ok(
        indexes.includes('readings_series_minute') && !indexes.includes('readings_series_time'),
        String(indexes),
      );
    } finally {
      db.close();
    }
  });

  it('migrates a v3 database across the gap to v5 (accounts), keeping users and tokens', async () => {
    const path = join(dir.path, 'v3.db');
    const v3 = new Database(path);
    v3.exec(
      `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);`,
    );
    for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= 3)) {
      v3.exec(m.sql);
      v3.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    v3.exec(`INSERT INTO users VALUES ('u-1', 'wang', 'h', 'pudong/zhangjiang', 'duty', NULL, 5, 0, 0, NULL);
      INSERT INTO api_tokens VALUES ('t-1', 'u-1', 'ht', 'pudong/zhangjiang', 'duty', 6, NULL, NULL);`);
    v3.close();
    const store = await openCloudStore({ kind: 'sqlite', path });
    try {
      assert.deepEqual(
        (await store.listUsers('pudong')).map((u) => u.username),
        ['wang'],
      );
      assert.deepEqual(await store.listApiTokens('u-1'), [
        { id: 't-1', user: 'u-1', secretHash: 'ht', scope: 'pudong/zhangjiang', role: 'duty', createdAt: 6 },
      ]);
      await store.touchApiToken('t-1', 60_000);
      assert.equal((await store.findApiToken('ht', 0))?.lastUsedAt, 60_000);
      assert.deepEqual(await store.listAccountAudit('pudong'), []);
    } finally {
      await store.close();
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

  it('per-series queries walk the minute-led index and keep exact time bounds', async () => {
    const path = join(dir.path, 'series.db');
    const store = await openCloudStore({ kind: 'sqlite', path });
    try {
      const gw = gateway('gw-s', site('pd', 'zj', 'l1'));
      // Empty store: the minute walk has no bounds and finds nothing.
      assert.deepEqual(await store.queryReadings('pd', { device: 'd1' }), []);
      const T = 1_700_000_040_000; // 40 s into a minute
      const specs = Array.from({ length: 40 }, (_, i) => ({
        seq: i + 1,
        device: i % 2 === 0 ? 'd1' : 'd2',
        point: 'pressure',
        unit: 'MPa',
        value: i / 100,
        ts: T + i * 5_000, // 5 s apart: 40 readings over 3 minutes and 15 s
      }));
      await store.ingestBatch(gw, batch('gw-s', gw.site, 1, { telemetry: readings(specs) }), {
        receivedAt: T,
        offsetMs: 0,
      });
      const d1 = specs.filter((r) => r.device === 'd1');
      const seqs = async (f: { from?: number; to?: number; limit?: number }) =>
        (await store.queryReadings('pd/zj', { device: 'd1', ...f })).map((r) => r.seq);
      assert.deepEqual(
        await seqs({}),
        d1.map((r) => r.seq),
      );
      // from inclusive, to exclusive, across minute boundaries and beyond the data on both sides
      const from = T + 20_000; // exactly at a minute boundary
      const to = T + 140_000;
      assert.deepEqual(
        await seqs({ from, to }),
        d1.filter((r) => r.ts >= from && r.ts < to).map((r) => r.seq),
      );
      assert.deepEqual(
        await seqs({ from: 0, to: T + 10_000_000 }),
        d1.map((r) => r.seq),
      );
      assert.deepEqual(await seqs({ from: T + 10_000_000 }), []);
      assert.deepEqual(await seqs({ to: T }), []);
      assert.deepEqual(
        await seqs({ limit: 3 }),
        d1.slice(0, 3).map((r) => r.seq),
      );
      const db = new Database(path, { readonly: true });
      try {
        const { sql, params } = sqliteReadingsQuery(SQLITE_DIALECT, 'pd', { device: 'd1', from, to });
        const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>;
        assert.ok(
          plan.some((p) =>
            /SEARCH r USING INDEX readings_series_minute \(<expr>=\? AND series=\?/.test(p.detail),
          ),
          plan.map((p) => p.detail).join('\n'),
        );
      } finally {
        db.close();
      }
    } finally {
      await store.close();
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
