import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Where credentials can ride in a logged object, for every process: they are replaced by
 * `[redacted]` wherever they appear, so a secret never reaches a log line (docs/architecture.md,
 * "Logs are pino child loggers … secrets redacted").
 */
export const REDACT_PATHS: readonly string[] = [
  // HTTP requests as fastify logs them.
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'password',
  '*.password',
  '*.*.password',
  'passwordHash',
  '*.passwordHash',
  'secret',
  '*.secret',
  '*.*.secret',
  'token',
  '*.token',
  // SMS / voice provider keys (cloud notify.sms, notify.voice).
  'accessKeySecret',
  '*.accessKeySecret',
  '*.*.accessKeySecret',
];

export interface LoggerOptions {
  /** pino level; default DOORSTEP_LOG_LEVEL, else `info`. */
  level?: string | undefined;
  /** The `name` field of every line: `doorstep` (gateway, tools) or `doorstep-cloud`. */
  name?: string | undefined;
}

/**
 * A process's root logger: JSON to stdout, secrets redacted (REDACT_PATHS). Components receive
 * child loggers bound to {svc, site, gateway, device, link}.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({
    name: options.name ?? 'doorstep',
    level: options.level ?? process.env.DOORSTEP_LOG_LEVEL ?? 'info',
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  });
}

/** A logger that writes nothing, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
