/**
 * The cloud's storage: the port (port.ts) and its three adapters. `openCloudStore` builds one from
 * configuration and migrates it; the adapters' constructors do no I/O (call `migrate()` yourself
 * when constructing one directly).
 */
import { DoorstepError } from '../../protocol/index.js';
import { MemoryCloudStore } from './memory.js';
import type { CloudStore } from './port.js';
import { PostgresCloudStore } from './postgres/store.js';
import { SqliteCloudStore } from './sqlite/store.js';

export * from './common.js';
export { MemoryCloudStore } from './memory.js';
export type * from './port.js';
export { PostgresCloudStore } from './postgres/store.js';
export { SqliteCloudStore } from './sqlite/store.js';

export type CloudStoreConfig =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; poolSize?: number };

/** Creates the configured store and brings its schema up to date. */
export async function openCloudStore(config: CloudStoreConfig): Promise<CloudStore> {
  let store: CloudStore;
  switch (config?.kind) {
    case 'memory':
      store = new MemoryCloudStore();
      break;
    case 'sqlite':
      if (typeof config.path !== 'string' || config.path === '')
        throw new DoorstepError('CLOUD_ERR_STORE_CONFIG', { reason: 'sqlite needs a file path' });
      store = new SqliteCloudStore({ path: config.path });
      break;
    case 'postgres':
      if (typeof config.url !== 'string' || config.url === '')
        throw new DoorstepError('CLOUD_ERR_STORE_CONFIG', { reason: 'postgres needs a connection url' });
      store = new PostgresCloudStore({ url: config.url, poolSize: config.poolSize });
      break;
    default:
      throw new DoorstepError('CLOUD_ERR_STORE_CONFIG', {
        reason: `unknown kind ${JSON.stringify((config as { kind?: unknown })?.kind)}`,
      });
  }
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  return store;
}
