import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * The gateway's root logger: JSON to stdout, secrets redacted wherever they appear in bound
 * objects. Components receive child loggers bound to {svc, site, gateway, device, link}.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? 'doorstep',
    level: options.level ?? process.env.DOORSTEP_LOG_LEVEL ?? 'info',
    redact: {
      paths: [
        'password',
        '*.password',
        '*.*.password',
        'token',
        '*.token',
        'secret',
        '*.secret',
        'authorization',
      ],
      censor: '[redacted]',
    },
  });
}

/** A logger that writes nothing, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
