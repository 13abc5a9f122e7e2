import type { Logger } from '../../common/log.js';
import type { BackgroundOptions } from '../store/common.js';
import type { CloudStore } from '../store/port.js';

const HOUR_MS = 3_600_000;

/**
 * Folds readings into rollups every `intervalMs` and applies retention about once an hour. One run
 * at a time. Both jobs run in short slices that go after alarms and bulk ingest
 * (cloud/store/README.md); stop() ends a run in progress after its current slice and waits for
 * that, so the store is never closed under it and shutdown never waits for a long catch-up (the
 * next start folds the rest).
 */
export class Maintenance {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastRetention = 0;
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: CloudStore,
    private readonly options: {
      intervalMs: number;
      retention: { rawDays: number; minuteDays: number };
      /** From the BulkGate: both jobs go after alarms and bulk ingest (BackgroundOptions). */
      background?: BackgroundOptions;
    },
    private readonly clock: () => number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.runOnce().finally(() => {
        this.running = undefined;
      });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async runOnce(): Promise<void> {
    const now = this.clock();
    const background = { ...this.options.background, signal: this.stopping.signal };
    try {
      await this.store.rollup(now, background);
      if (now - this.lastRetention >= HOUR_MS) {
        this.lastRetention = now;
        const { deleted } = await this.store.applyRetention(now, this.options.retention, background);
        if (deleted > 0) this.log.info({ deleted }, 'retention applied');
      }
    } catch (error) {
      this.log.error({ err: error }, 'rollup or retention failed');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopping.abort();
    await this.running;
  }
}
