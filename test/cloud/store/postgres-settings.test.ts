import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PostgresCloudStore, settingWarnings } from '../../../cloud/store/postgres/store.js';
import { type PgCluster, RECOMMENDED_WAL_SETTINGS, startPostgres } from '../../support/postgres.js';

const GOOD = {
  fsync: 'on',
  full_page_writes: 'on',
  synchronous_commit: 'on',
  min_wal_size: '2GB',
  min_wal_bytes: 2 * 1024 ** 3,
};

describe('PostgreSQL setting warnings (CLOUD_ERR_STORE_SETTING)', () => {
  it('names each risky setting with its value, and nothing for the recommended ones', () => {
    assert.deepEqual(settingWarnings(GOOD), []);
    // synchronous_commit = local or remote_write still flushes locally before COMMIT returns.
    assert.deepEqual(settingWarnings({ ...GOOD, synchronous_commit: 'local' }), []);
    const warned = settingWarnings({
      fsync: 'off',
      full_page_writes: 'off',
      synchronous_commit: 'off',
      min_wal_size: '80MB',
      min_wal_bytes: 80 * 1024 ** 2,
    });
    assert.deepEqual(
      warned.map((w) => [w.code, w.details.setting, w.details.value]),
      [
        ['CLOUD_ERR_STORE_SETTING', 'fsync', 'off'],
        ['CLOUD_ERR_STORE_SETTING', 'full_page_writes', 'off'],
        ['CLOUD_ERR_STORE_SETTING', 'synchronous_commit', 'off'],
        ['CLOUD_ERR_STORE_SETTING', 'min_wal_size', '80MB'],
      ],
    );
    assert.match(warned[3]!.message, /^PostgreSQL setting min_wal_size = 80MB: .*WAL segment/);
  });

  describe('read from a running server', () => {
    let throwaway: PgCluster | undefined;
    let recommended: PgCluster | undefined;
    before(async () => {
      // The tests' own clusters run with fsync and full-page writes off and the default WAL sizing.
      throwaway = await startPostgres();
      recommended = await startPostgres({ durable: true, settings: RECOMMENDED_WAL_SETTINGS });
    });
    after(async () => {
      await throwaway?.stop();
      await recommended?.stop();
    });

    const warningsOf = async (cluster: PgCluster) => {
      const store = new PostgresCloudStore({ url: cluster.url('postgres'), poolSize: 1 });
      try {
        return (await store.settingWarnings()).map((w) => `${w.details.setting}=${w.details.value}`);
      } finally {
        await store.close();
      }
    };

    it('warns about a throwaway cluster', async () => {
      assert.deepEqual(await warningsOf(throwaway!), [
        'fsync=off',
        'full_page_writes=off',
        'min_wal_size=80MB',
      ]);
    });

    it('is silent for a cluster with the recommended settings', async () => {
      assert.deepEqual(await warningsOf(recommended!), []);
    });
  });
});
