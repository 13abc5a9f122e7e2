/**
 * Estimates gateway clock − cloud clock from request/response times, NTP style (RFC 5905 §8):
 * the cloud stamped `serverTime` somewhere between our send (t1) and receive (t4), so the best
 * guess is the midpoint: offset = (t1 + t4)/2 − serverTime, with an error bound of ± RTT/2.
 * Smoothing follows RFC 5905 §10's clock filter: of the last `window` samples keep the one with
 * the smallest round trip (least queueing, least asymmetry). Samples whose RTT exceeds
 * `maxRttMs` are rejected outright — on 4G a 20 s round trip says nothing about the clock.
 */
export class ClockOffsetEstimator {
  readonly #window: number;
  readonly #maxRttMs: number;
  readonly #samples: Array<{ offsetMs: number; rttMs: number }> = [];
  #rejected = 0;

  constructor(options: { window?: number; maxRttMs?: number } = {}) {
    this.#window = options.window ?? 8;
    this.#maxRttMs = options.maxRttMs ?? 5000;
  }

  /** Adds one exchange; returns false when the sample was rejected. */
  add(sentAt: number, receivedAt: number, serverTime: number): boolean {
    const rttMs = receivedAt - sentAt;
    if (!Number.isFinite(rttMs) || rttMs < 0 || rttMs > this.#maxRttMs || !Number.isFinite(serverTime)) {
      this.#rejected++;
      return false;
    }
    this.#samples.push({ offsetMs: (sentAt + receivedAt) / 2 - serverTime, rttMs });
    if (this.#samples.length > this.#window) this.#samples.shift();
    return true;
  }

  /** Gateway − cloud, ms (rounded); undefined until a sample was accepted. */
  get offsetMs(): number | undefined {
    let best: { offsetMs: number; rttMs: number } | undefined;
    for (const s of this.#samples) if (!best || s.rttMs < best.rttMs) best = s;
    return best === undefined ? undefined : Math.round(best.offsetMs);
  }

  /** ± this many ms around offsetMs (half the chosen sample's round trip). */
  get errorBoundMs(): number | undefined {
    let best: number | undefined;
    for (const s of this.#samples) if (best === undefined || s.rttMs < best) best = s.rttMs;
    return best === undefined ? undefined : best / 2;
  }

  get samples(): number {
    return this.#samples.length;
  }

  get rejected(): number {
    return this.#rejected;
  }
}
