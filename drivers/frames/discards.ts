import { DoorstepError } from '../../protocol/errors.js';
import { type DecoderStats, type Discard, type DiscardReason, emptyDecoderStats } from './types.js';

type Listener = (discard: Discard) => void;

/**
 * Counts a decoder's discards by reason and tells listeners, building the DoorstepError only when
 * someone listens: a noisy radio can produce thousands of garbage bytes a second, and capturing a
 * stack trace per discard would cost more than decoding.
 */
export class DiscardLedger {
  readonly counts: DecoderStats = emptyDecoderStats();
  private readonly listeners = new Set<Listener>();
  private pendingGarbage = 0;

  constructor(private readonly link: string) {}

  onDiscard(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Garbage bytes are reported as one discard per contiguous run, when the run ends. */
  garbage(bytes: number): void {
    this.counts.garbageBytes += bytes;
    this.pendingGarbage += bytes;
  }

  endGarbageRun(): void {
    if (this.pendingGarbage === 0) return;
    const bytes = this.pendingGarbage;
    this.pendingGarbage = 0;
    this.notify('garbage', bytes, () => ({ reason: `${bytes} byte(s) outside any frame` }));
  }

  checksum(bytes: number, got: string, expected: string): void {
    this.counts.checksum++;
    this.notify('checksum', bytes, () => ({ got, expected }));
  }

  syntax(bytes: number, reason: string): void {
    this.counts.syntax++;
    this.notify('syntax', bytes, () => ({ reason }));
  }

  overflow(bytes: number, cap: number): void {
    this.counts.overflow++;
    this.notify('overflow', bytes, () => ({ reason: `frame longer than the ${cap}-byte cap` }));
  }

  private notify(reason: DiscardReason, bytes: number, details: () => Record<string, string>): void {
    if (this.listeners.size === 0) return;
    const code = reason === 'checksum' ? 'DRV_ERR_FRAME_CHECKSUM' : 'DRV_ERR_FRAME_SYNTAX';
    const error = new DoorstepError(code, { link: this.link, discard: reason, bytes, ...details() });
    for (const listener of this.listeners) listener({ reason, bytes, error });
  }
}
