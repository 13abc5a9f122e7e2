export * from './alarm.js';
export * from './alarm-labels.js';
export * from './device.js';
export * from './errors.js';
export * from './phone.js';
export * from './reading.js';
export * from './site.js';
export * from './validation.js';

/** Version of the edge↔cloud contract; bumped on any incompatible change of these shapes. */
export const PROTOCOL_VERSION = 1;
export * from './feed.js';
export * from './sync.js';
