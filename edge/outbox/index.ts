export {
  type OutboxConfig,
  type OutboxConfigInput,
  OutboxConfigSchema,
  resolveOutboxConfig,
} from './config.js';
export { OutboxEngine, type OutboxOptions } from './engine.js';
export { MemoryOutbox, MemoryOutboxData } from './memory.js';
export {
  type ExceptionFilterConfig,
  ExceptionFilterConfigSchema,
  type ExceptionFilterStats,
  type ExceptionPointRule,
  ReportByExceptionFilter,
} from './report-by-exception.js';
export { SqliteOutbox, type SqliteOutboxOptions } from './sqlite.js';
export { OUTBOX_SCHEMA_VERSION } from './sqlite-schema.js';
export * from './types.js';
