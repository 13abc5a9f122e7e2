/**
 * The case store for a CloudStore: same database (`store.handle()`), own tables. `lazyCaseStore`
 * resolves the handle on first use, because the composition root wires services before `start()`
 * opens the store.
 */
import type { CloudStore, StoreHandle } from '../../store/port.js';
import { MemoryAlarmCaseStore } from './memory.js';
import type { AlarmCaseStore } from './port.js';
import { PostgresAlarmCaseStore } from './postgres.js';
import { SqliteAlarmCaseStore } from './sqlite.js';

export { MemoryAlarmCaseStore } from './memory.js';
export type * from './port.js';
export { PostgresAlarmCaseStore } from './postgres.js';
export { SqliteAlarmCaseStore } from './sqlite.js';

export function caseStoreFor(handle: StoreHandle): AlarmCaseStore {
  switch (handle.kind) {
    case 'memory':
      return new MemoryAlarmCaseStore();
    case 'sqlite':
      return new SqliteAlarmCaseStore(handle.db);
    case 'postgres':
      return new PostgresAlarmCaseStore(handle.pool);
  }
}

/**
 * A case store bound to `store`'s database once it is open. A memory CloudStore gets one memory
 * case store for the life of this object (it has no database to share).
 */
export function lazyCaseStore(store: Pick<CloudStore, 'handle'>): AlarmCaseStore {
  let current: AlarmCaseStore | undefined;
  let bound: unknown;
  const resolve = (): AlarmCaseStore => {
    const handle = store.handle();
    const db = handle.kind === 'sqlite' ? handle.db : handle.kind === 'postgres' ? handle.pool : 'memory';
    // Rebind if the CloudStore was reopened (a new connection or pool), never for memory.
    if (!current || bound !== db) {
      current = handle.kind === 'memory' && current ? current : caseStoreFor(handle);
      bound = db;
    }
    return current;
  };
  return new Proxy({} as AlarmCaseStore, {
    get(_target, prop) {
      const target = resolve() as unknown as Record<PropertyKey, unknown>;
      const value = target[prop];
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
