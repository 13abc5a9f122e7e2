import type { StoreHandle } from '../../store/port.js';
import { MemoryNotificationStore } from './memory.js';
import type { NotificationStore } from './port.js';
import { SqlNotificationStore } from './sql.js';

export { MemoryNotificationStore } from './memory.js';
export * from './port.js';
export { SqlNotificationStore } from './sql.js';

/** The NotificationStore on the cloud store's own database (`CloudStore.handle()`). */
export function notificationStoreFor(handle: StoreHandle): NotificationStore {
  return handle.kind === 'memory' ? new MemoryNotificationStore() : new SqlNotificationStore(handle);
}
