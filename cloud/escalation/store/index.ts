import type { StoreHandle } from '../../store/port.js';
import { MemoryEscalationStore } from './memory.js';
import type { EscalationStore } from './port.js';
import { PostgresEscalationStore } from './postgres.js';
import { SqliteEscalationStore } from './sqlite.js';

export * from './memory.js';
export * from './port.js';
export * from './postgres.js';
export * from './sqlite.js';

/** The escalation store on the cloud store's own database (`store.handle()`). */
export function escalationStoreFor(handle: StoreHandle): EscalationStore {
  if (handle.kind === 'sqlite') return new SqliteEscalationStore(handle.db);
  if (handle.kind === 'postgres') return new PostgresEscalationStore(handle.pool);
  return new MemoryEscalationStore();
}
