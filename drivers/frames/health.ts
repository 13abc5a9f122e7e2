import type { Logger } from '../../common/log.js';
import { DoorstepError } from '../../protocol/errors.js';
import type { DecoderStats } from './types.js';

/**
 * A bus's own health, next to its devices' states: `degraded` when it has delivered no valid
 * frame for a while although bytes kept arriving, with the reason (the commonest rejection's
 * catalogue code), the rejections counted by kind, and DRV_ERR_BUS_DEGRADED in words.
 */
export interface BusHealth {
  state: 'ok' | 'degraded';
  /** When the bus entered this state (ms since the epoch). */
  since: number;
  /** While degraded: DRV_ERR_FRAME_CHECKSUM, DRV_ERR_FRAME_SYNTAX, DRV_ERR_CRC, DRV_ERR_TIMEOUT … */
  reason?: string;
  /** While degraded: the DRV_ERR_BUS_DEGRADED (or DRV_ERR_BUS_STALLED) message. */
  detail?: string;
  /** While degraded: what was rejected since the last valid frame, by kind. */
  rejected?: Record<string, number>;
}

/** The rejection kinds of a frame decoder and how people read them in a message. */
const KINDS = {
  checksum: { code: 'DRV_ERR_FRAME_CHECKSUM', words: 'bad checksum' },
  syntax: { code: 'DRV_ERR_FRAME_SYNTAX', words: 'unknown format' },
  overflow: { code: 'DRV_ERR_FRAME_SYNTAX', words: 'too long' },
  garbageBytes: { code: 'DRV_ERR_FRAME_SYNTAX', words: 'byte(s) outside any frame' },
} as const;
type Kind = keyof typeof KINDS;

export interface ValidFrameWatchOptions {
  bus: string;
  /** Rejections without a valid frame between them for this long make the bus degraded. */
  degradedAfterMs: number;
  logger?: Logger;
  onChange?: (health: BusHealth) => void;
}

/**
 * Watches one receiver bus for valid frames. Wireless detectors report every few minutes, so
 * silence alone proves nothing; but bytes that keep arriving and keep being rejected (noise, a
 * wrong baud rate, a receiver speaking another format) for `degradedAfterMs` with no valid frame
 * among them mean the bus is deaf. It then says so once per streak, with the rejections counted,
 * and recovers at the next valid frame. It outlives receiver restarts (one per bus).
 */
export class ValidFrameWatch {
  private health: BusHealth;
  private streakStart: number | undefined;
  private streak: Record<Kind, number> = { checksum: 0, syntax: 0, overflow: 0, garbageBytes: 0 };
  private last: Record<Kind, number> | undefined;

  constructor(
    private readonly options: ValidFrameWatchOptions,
    now: number,
  ) {
    this.health = { state: 'ok', since: now };
  }

  current(): BusHealth {
    return { ...this.health, ...(this.health.rejected ? { rejected: { ...this.health.rejected } } : {}) };
  }

  /** A new decoder (after a reopen) starts its counters at zero. */
  resetBaseline(): void {
    this.last = undefined;
  }

  /**
   * Called after each chunk the decoder took: `validFrames` is how many whole frames it yielded,
   * `stats` its cumulative counters (the difference to the last call is what this chunk rejected).
   */
  observe(now: number, validFrames: number, stats: DecoderStats): void {
    const delta = {} as Record<Kind, number>;
    let rejected = 0;
    for (const kind of Object.keys(KINDS) as Kind[]) {
      delta[kind] = Math.max(0, stats[kind] - (this.last?.[kind] ?? 0));
      rejected += delta[kind];
    }
    this.last = {
      checksum: stats.checksum,
      syntax: stats.syntax,
      overflow: stats.overflow,
      garbageBytes: stats.garbageBytes,
    };
    if (validFrames > 0) {
      this.valid(now);
      return;
    }
    if (rejected === 0) return;
    this.streakStart ??= now;
    for (const kind of Object.keys(KINDS) as Kind[]) this.streak[kind] += delta[kind];
    if (this.health.state === 'degraded') {
      this.health.rejected = this.rejectedCounts();
      return;
    }
    if (now - this.streakStart >= this.options.degradedAfterMs) this.degrade(now);
  }

  private valid(now: number): void {
    const wasDegraded = this.health.state === 'degraded';
    const rejected = this.rejectedCounts();
    this.streakStart = undefined;
    this.streak = { checksum: 0, syntax: 0, overflow: 0, garbageBytes: 0 };
    if (!wasDegraded) return;
    const degradedSince = this.health.since;
    this.health = { state: 'ok', since: now };
    this.options.logger?.info(
      { bus: this.options.bus, rejected, degradedMs: now - degradedSince },
      'bus delivers valid frames again',
    );
    this.options.onChange?.(this.current());
  }

  private degrade(now: number): void {
    const rejected = this.rejectedCounts();
    // The commonest kind names the reason; garbage bytes count as one rejection per 16 bytes so a
    // single long run does not outweigh many frames with a bad checksum.
    const weight = (k: Kind) => (k === 'garbageBytes' ? this.streak[k] / 16 : this.streak[k]);
    const top = (Object.keys(KINDS) as Kind[]).reduce((a, b) => (weight(b) > weight(a) ? b : a));
    const error = new DoorstepError('DRV_ERR_BUS_DEGRADED', {
      bus: this.options.bus,
      seconds: Math.round((now - (this.streakStart ?? now)) / 1000),
      rejected: (Object.keys(KINDS) as Kind[])
        .filter((k) => this.streak[k] > 0)
        .map((k) => `${this.streak[k]} ${KINDS[k].words}`)
        .join(', '),
    });
    this.health = { state: 'degraded', since: now, reason: KINDS[top].code, detail: error.message, rejected };
    this.options.logger?.error({ err: error, bus: this.options.bus, rejected }, 'bus degraded');
    this.options.onChange?.(this.current());
  }

  private rejectedCounts(): Record<string, number> {
    return Object.fromEntries((Object.keys(KINDS) as Kind[]).map((k) => [k, this.streak[k]]));
  }
}
