import { z } from 'zod';
import { DoorstepError, type Reading, type ReadingValue } from '../../protocol/index.js';

/**
 * Report-by-exception for telemetry, placed before Outbox.put(): per (device, point) a reading is
 * sent when it moved more than the deadband from the last *sent* value, when the heartbeat period
 * elapsed since the last sent reading, or when its quality or type changed. Booleans and strings
 * are sent on any change. Readings of points not configured here pass unfiltered and keep no state;
 * tracked series are bounded by maxSeries, beyond which readings also pass (fail open: too much
 * data is a cost, too little could hide a trend). Time is the readings' own ts: no clock needed.
 * Alarms never go through this filter: rules see every reading, only the uplink copy is thinned.
 */
const Deadband = z.union([
  z.object({ absolute: z.number().nonnegative() }).strict(),
  z
    .object({ percentOfSpan: z.number().positive().max(100), spanMin: z.number(), spanMax: z.number() })
    .strict()
    .refine((span) => span.spanMax > span.spanMin, { message: 'spanMax must be greater than spanMin' }),
]);

const PointRule = z
  .object({
    /** Exact device id; omitted applies the rule to this point of every device. */
    device: z.string().min(1).optional(),
    point: z.string().min(1),
    /** Omitted: any change is sent. */
    deadband: Deadband.optional(),
    /** Send at least this often even without change (ms of reading time). */
    heartbeatMs: z.number().int().positive(),
  })
  .strict();

export const ExceptionFilterConfigSchema = z
  .object({
    points: z.array(PointRule),
    maxSeries: z.number().int().positive().default(10_000),
  })
  .strict();

export type ExceptionFilterConfig = z.input<typeof ExceptionFilterConfigSchema>;
export type ExceptionPointRule = z.infer<typeof PointRule>;

interface LastSent {
  value: ReadingValue;
  quality: Reading['quality'];
  ts: number;
}

export interface ExceptionFilterStats {
  passed: number;
  suppressed: number;
  /** Readings of configured points that passed unfiltered because maxSeries was reached. */
  untracked: number;
  trackedSeries: number;
}

export class ReportByExceptionFilter {
  readonly #rules = new Map<string, { threshold: number; heartbeatMs: number }>();
  readonly #lastSent = new Map<string, LastSent>();
  readonly #maxSeries: number;
  #passed = 0;
  #suppressed = 0;
  #untracked = 0;

  constructor(config: ExceptionFilterConfig) {
    const parsed = ExceptionFilterConfigSchema.safeParse(config);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (issue) => `reportByException.${issue.path.join('.')}: ${issue.message}`,
      );
      throw new DoorstepError('CFG_ERR_INVALID', { count: problems.length, summary: problems.join('; ') });
    }
    this.#maxSeries = parsed.data.maxSeries;
    for (const rule of parsed.data.points) {
      this.#rules.set(ruleKey(rule.device ?? '*', rule.point), {
        threshold: deadbandThreshold(rule.deadband),
        heartbeatMs: rule.heartbeatMs,
      });
    }
  }

  /** Decides for one reading and, when it is to be sent, remembers it as the last sent value. */
  shouldSend(reading: Reading): boolean {
    const rule =
      this.#rules.get(ruleKey(reading.device, reading.point)) ?? this.#rules.get(ruleKey('*', reading.point));
    if (!rule) return this.#pass();
    const series = ruleKey(reading.device, reading.point);
    const last = this.#lastSent.get(series);
    if (!last) {
      if (this.#lastSent.size >= this.#maxSeries) {
        this.#untracked++;
        return this.#pass();
      }
    } else if (
      !changed(last, reading, rule.threshold) &&
      reading.ts >= last.ts &&
      reading.ts - last.ts < rule.heartbeatMs
    ) {
      this.#suppressed++;
      return false;
    }
    this.#lastSent.set(series, { value: reading.value, quality: reading.quality, ts: reading.ts });
    return this.#pass();
  }

  /** The readings of one poll cycle that are to be sent, in order. */
  filter(readings: readonly Reading[]): Reading[] {
    return readings.filter((reading) => this.shouldSend(reading));
  }

  /** Forgets a device's state (device removed or reconfigured): its next reading is sent. */
  forgetDevice(device: string): void {
    for (const series of this.#lastSent.keys())
      if (series.startsWith(`${device}\u0000`)) this.#lastSent.delete(series);
  }

  stats(): ExceptionFilterStats {
    return {
      passed: this.#passed,
      suppressed: this.#suppressed,
      untracked: this.#untracked,
      trackedSeries: this.#lastSent.size,
    };
  }

  #pass(): true {
    this.#passed++;
    return true;
  }
}

function ruleKey(device: string, point: string): string {
  return `${device}\u0000${point}`;
}

function deadbandThreshold(deadband: z.infer<typeof Deadband> | undefined): number {
  if (!deadband) return 0;
  if ('absolute' in deadband) return deadband.absolute;
  return (deadband.percentOfSpan / 100) * (deadband.spanMax - deadband.spanMin);
}

/** Numbers: moved strictly more than the threshold (0: any change). Other values: any change. */
function changed(last: LastSent, reading: Reading, threshold: number): boolean {
  if (last.quality !== reading.quality) return true;
  const before = last.value;
  const now = reading.value;
  if (typeof before === 'number' && typeof now === 'number') {
    if (Number.isNaN(before) || Number.isNaN(now)) return Number.isNaN(before) !== Number.isNaN(now);
    return threshold === 0 ? before !== now : Math.abs(now - before) > threshold;
  }
  return before !== now;
}
