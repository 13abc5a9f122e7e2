export * from './alarm.js';
export * from './alarm-labels.js';
export * from './device.js';
export * from './errors.js';
export * from './inventory.js';
export * from './phone.js';
export * from './reading.js';
export * from './site.js';
export * from './validation.js';

/**
 * Version of the edge↔cloud contract; bumped on any change of these shapes that an older peer
 * cannot read (2: the `inventory` event, protocol/sync.ts SYNC_PROTOCOL_VERSION).
 */
export const PROTOCOL_VERSION = 2;
export * from './feed.js';
export * from './sync.js';
