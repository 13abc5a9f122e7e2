import { z } from 'zod';
import { type Logger, silentLogger } from '../../common/log.js';
import { DeviceId, DoorstepError, type Reading } from '../../protocol/index.js';
import type { Link } from '../link/types.js';
import type { Implausibility } from '../profiles/plausibility.js';
import { AsciiFrameDecoder } from './ascii.js';
import { BinaryFrameDecoder } from './binary.js';
import type { ValidFrameWatch } from './health.js';
import type { AsciiLayout, BinaryLayout, FrameLayout } from './layout.js';
import { decodeFrameReport } from './profiles/decode.js';
import { frameProfiles } from './profiles/registry.js';
import type { FrameProfile } from './profiles/schema.js';
import type { DecoderStats, FrameCodec, FrameDecoder, WirelessFrame } from './types.js';

/** Which doorstep device a detector id on this receiver is, and which profile reads its frames. */
/** A detector id as a receiver reports it: a number, or an alphanumeric id ("D017"). */
export const DetectorId = z.union([
  z.number().int().min(0).max(0xffffffff),
  z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be a number or an alphanumeric id (A-Z, a-z, 0-9, _ and -)'),
]);
export type DetectorId = z.infer<typeof DetectorId>;

export const DetectorBinding = z.object({
  detector: DetectorId,
  device: DeviceId,
  profile: z.string().min(1),
});
export type DetectorBinding = z.infer<typeof DetectorBinding>;

export interface FrameReadings {
  device: string;
  detector: number | string;
  readings: Reading[];
  frame: WirelessFrame;
  /** What in the frame cannot be true (drivers/profiles/plausibility.ts); empty when all agrees. */
  implausible: Implausibility[];
}

export interface FrameReceiverStats {
  frames: number;
  readings: number;
  /** Frames naming a detector bound to no device. */
  unknownDetectors: number;
  /** Binary frames whose detector type differs from the bound profile's: not decoded. */
  typeMismatches: number;
  /** Frames decoded with a problem (unknown state code, missing value). */
  decodeProblems: number;
  /** Times the link went away under the receiver. */
  linkLosses: number;
  discards: DecoderStats;
}

interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface FrameReceiverOptions {
  link: Link;
  codec: FrameCodec;
  detectors: readonly DetectorBinding[];
  profiles?: Readonly<Record<string, FrameProfile>>;
  /** Gateway clock, ms since the epoch; stamps readings and last-seen. */
  clock?: () => number;
  logger?: Logger;
  /** ASCII only: longest frame kept before it is discarded as overflow. */
  maxFrameBytes?: number;
  /** The frame layout of this receiver (default: the codec's doorstep layout); its codec must be `codec`. */
  layout?: FrameLayout;
  /** Silence after which a held partial frame is given up (README "Idle flush"). */
  idleFlushMs?: number;
  timers?: Timers;
  /** Told after every chunk how many valid frames and rejections it held (the bus's health). */
  watch?: ValidFrameWatch;
}

interface Bound {
  device: string;
  profile: FrameProfile;
}

/** Receivers send whole frames in one burst; 50 ms of silence is many character times even at 9600 baud. */
const DEFAULT_IDLE_FLUSH_MS = 50;

/**
 * Reads a wireless receiver on a Link: decodes frames, maps each detector to its device and
 * profile, and emits readings. Bad bindings disable only themselves (see `issues()`); unknown
 * detectors, discards and odd states are counted and reported, never thrown. The receiver does
 * not reopen a lost link: it reports the loss (onIssue) and its owner restarts it.
 */
export class FrameReceiver {
  private readonly link: Link;
  private readonly decoder: FrameDecoder;
  private readonly bindings = new Map<number | string, Bound>();
  private readonly bindingIssues: DoorstepError[] = [];
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly idleFlushMs: number;
  private readonly timers: Timers;
  private readonly watch: ValidFrameWatch | undefined;
  private readonly readingListeners = new Set<(event: FrameReadings) => void>();
  private readonly issueListeners = new Set<(error: DoorstepError) => void>();
  private readonly seen = new Map<string, number>();
  private readonly warnedUnknown = new Set<number | string>();
  private readonly counters = {
    frames: 0,
    readings: 0,
    unknownDetectors: 0,
    typeMismatches: 0,
    decodeProblems: 0,
    linkLosses: 0,
  };
  private unsubscribe: (() => void)[] = [];
  private idleTimer: unknown;
  private started = false;

  constructor(options: FrameReceiverOptions) {
    this.link = options.link;
    this.clock = options.clock ?? Date.now;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'frames', link: options.link.name });
    this.idleFlushMs = options.idleFlushMs ?? DEFAULT_IDLE_FLUSH_MS;
    this.watch = options.watch;
    this.watch?.resetBaseline(); // this receiver's decoder counts from zero
    this.timers = options.timers ?? {
      setTimeout: (callback, ms) => setTimeout(callback, ms),
      clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    };
    const layout = options.layout?.codec === options.codec ? options.layout : undefined;
    this.decoder =
      options.codec === 'ascii'
        ? new AsciiFrameDecoder({
            link: options.link.name,
            maxFrameBytes: options.maxFrameBytes,
            layout: layout as AsciiLayout | undefined,
          })
        : new BinaryFrameDecoder({ link: options.link.name, layout: layout as BinaryLayout | undefined });
    this.decoder.onDiscard((discard) => {
      this.logger.debug({ reason: discard.reason, bytes: discard.bytes }, discard.error.message);
      this.emitIssue(discard.error);
    });
    this.bind(options.detectors, options.profiles ?? frameProfiles);
  }

  private bind(
    detectors: readonly DetectorBinding[],
    registry: Readonly<Record<string, FrameProfile>>,
  ): void {
    const devices = new Set<string>();
    detectors.forEach((entry, index) => {
      const problems: string[] = [];
      const parsed = DetectorBinding.safeParse(entry);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
      } else {
        const { detector, device, profile } = parsed.data;
        if (!Object.hasOwn(registry, profile)) problems.push(`profile: no frame profile named ${profile}`);
        if (this.bindings.has(detector)) problems.push(`detector: ${detector} is bound twice`);
        if (devices.has(device)) problems.push(`device: ${device} is bound to two detectors`);
      }
      if (problems.length > 0 || !parsed.success) {
        const summary = problems.map((p) => `detectors.${index}.${p}`).join('; ');
        this.bindingIssues.push(new DoorstepError('CFG_ERR_INVALID', { count: problems.length, summary }));
        return;
      }
      const { detector, device, profile } = parsed.data;
      this.bindings.set(detector, { device, profile: registry[profile]! });
      devices.add(device);
    });
  }

  /** Bindings refused at construction, one CFG_ERR_INVALID each; the other detectors run. */
  issues(): readonly DoorstepError[] {
    return this.bindingIssues;
  }

  onReadings(listener: (event: FrameReadings) => void): () => void {
    this.readingListeners.add(listener);
    return () => this.readingListeners.delete(listener);
  }

  /** Discards, unknown detectors, undecodable frames and link losses, as catalogue errors. */
  onIssue(listener: (error: DoorstepError) => void): () => void {
    this.issueListeners.add(listener);
    return () => this.issueListeners.delete(listener);
  }

  /** Device id → gateway time of its last decoded frame, for an offline (heartbeat lost) rule. */
  lastSeen(): ReadonlyMap<string, number> {
    return this.seen;
  }

  stats(): FrameReceiverStats {
    return { ...this.counters, discards: this.decoder.stats() };
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.unsubscribe = [
      this.link.onData((chunk) => this.handleChunk(chunk)),
      this.link.onClose((error) => this.handleClose(error)),
    ];
    try {
      await this.link.open();
    } catch (error) {
      this.detach();
      throw error;
    }
    this.started = true;
    this.logger.info({ detectors: this.bindings.size, codec: this.decoder.format }, 'frame receiver started');
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.detach();
    this.decoder.reset();
    await this.link.close();
  }

  private detach(): void {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    this.cancelIdleTimer();
  }

  private cancelIdleTimer(): void {
    if (this.idleTimer === undefined) return;
    this.timers.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private handleChunk(chunk: Buffer): void {
    this.cancelIdleTimer();
    const frames = this.decoder.push(chunk);
    for (const frame of frames) this.handleFrame(frame);
    this.watch?.observe(this.clock(), frames.length, this.decoder.stats());
    if (this.decoder.bufferedBytes > 0) {
      this.idleTimer = this.timers.setTimeout(() => {
        this.idleTimer = undefined;
        const flushed = this.decoder.flush();
        for (const frame of flushed) this.handleFrame(frame);
        this.watch?.observe(this.clock(), flushed.length, this.decoder.stats());
      }, this.idleFlushMs);
    }
  }

  private handleClose(error?: Error): void {
    this.cancelIdleTimer();
    this.decoder.reset(); // a frame torn by the loss cannot be completed by later bytes
    if (!error) return;
    this.counters.linkLosses++;
    this.logger.warn({ err: error }, 'receiver link lost');
    this.emitIssue(
      error instanceof DoorstepError
        ? error
        : new DoorstepError(
            'DRV_ERR_LINK_DOWN',
            { link: this.link.name, reason: error.message },
            { cause: error },
          ),
    );
  }

  private handleFrame(frame: WirelessFrame): void {
    this.counters.frames++;
    const bound = this.bindings.get(frame.detector);
    if (!bound) {
      this.counters.unknownDetectors++;
      if (!this.warnedUnknown.has(frame.detector) && this.warnedUnknown.size < 1000) {
        this.warnedUnknown.add(frame.detector);
        this.logger.warn({ detector: frame.detector }, 'frame from an unbound detector');
      }
      this.emitIssue(
        new DoorstepError('DRV_ERR_FRAME_UNKNOWN_DETECTOR', {
          link: this.link.name,
          detector: frame.detector,
        }),
      );
      return;
    }
    const { device, profile } = bound;
    if (frame.detectorType !== undefined && frame.detectorType !== profile.detectorType) {
      this.counters.typeMismatches++;
      this.emitIssue(
        new DoorstepError('DRV_ERR_DECODE', {
          point: '(frame)',
          device,
          reason: `detector type ${frame.detectorType} but profile ${profile.id} is type ${profile.detectorType}`,
        }),
      );
      return;
    }
    const ts = this.clock();
    const { readings, problems, implausible } = decodeFrameReport(profile, frame, device, ts);
    this.seen.set(device, ts);
    if (problems.length > 0) {
      this.counters.decodeProblems++;
      this.emitIssue(
        new DoorstepError('DRV_ERR_DECODE', { point: '(frame)', device, reason: problems.join('; ') }),
      );
    }
    this.counters.readings += readings.length;
    const event: FrameReadings = { device, detector: frame.detector, readings, frame, implausible };
    for (const listener of this.readingListeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error, device }, 'reading listener threw');
      }
    }
  }

  private emitIssue(error: DoorstepError): void {
    for (const listener of this.issueListeners) {
      try {
        listener(error);
      } catch (thrown) {
        this.logger.error({ err: thrown }, 'issue listener threw');
      }
    }
  }
}
