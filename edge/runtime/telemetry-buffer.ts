import type { Logger } from '../../common/log.js';
import type { Reading } from '../../protocol/index.js';

/**
 * Collects telemetry for up to `flushIntervalMs` and writes it to the outbox in one transaction:
 * one fsync a second instead of one per poll cycle. Alarms never wait here (they are written at
 * once); telemetry not yet flushed is not yet "in the outbox" and is flushed on stop.
 */
export class TelemetryBuffer {
  private pending: Reading[] = [];
  private timer: NodeJS.Timeout | undefined;
  private static readonly MAX_ROWS = 5000;

  constructor(
    private readonly options: {
      flushIntervalMs: number;
      write: (readings: Reading[]) => unknown;
      logger: Logger;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  add(readings: readonly Reading[]): void {
    if (readings.length === 0) return;
    for (const r of readings) this.pending.push(r);
    if (this.pending.length >= TelemetryBuffer.MAX_ROWS) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.options.write(batch);
    } catch (error) {
      this.options.logger.error(
        { err: error, rows: batch.length },
        'telemetry could not be written to the outbox',
      );
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
