export { parseRetryAfter } from '../../common/backoff.js';
export { backoffDelayMs, DEFAULT_BACKOFF } from './backoff.js';
export { buildBatch, checkRecords, encodeBatch } from './batch.js';
export { ClockOffsetEstimator } from './clock-offset.js';
export { DEFAULT_BATCH } from './options.js';
export { FileUplinkState, MemoryUplinkState } from './state.js';
export * from './types.js';
export { Uplink } from './uplink.js';
