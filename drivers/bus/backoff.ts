import type { BackoffPolicy, Percentiles } from './types.js';

/** Delay before attempt `step` (0-based): initial × factor^step, capped. Deterministic: no jitter, so tests can count. */
export function backoffDelayMs(policy: BackoffPolicy, step: number): number {
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, step));
}

export function backoffPolicy(
  overrides: Partial<BackoffPolicy> | undefined,
  defaults: BackoffPolicy,
): BackoffPolicy {
  return { ...defaults, ...overrides };
}

/** A fixed-size window of recent samples with nearest-rank percentiles. */
export class SampleWindow {
  private readonly samples: number[] = [];
  private next = 0;
  constructor(private readonly size = 1024) {}

  add(value: number): void {
    if (this.samples.length < this.size) this.samples.push(value);
    else this.samples[this.next] = value;
    this.next = (this.next + 1) % this.size;
  }

  percentiles(): Percentiles {
    if (this.samples.length === 0) return { p50: 0, p99: 0, max: 0, samples: 0 };
    const sorted = [...this.samples].sort((a, b) => a - b);
    const rank = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    const round = (v: number) => Math.round(v * 100) / 100;
    return {
      p50: round(rank(0.5)),
      p99: round(rank(0.99)),
      max: round(sorted.at(-1)!),
      samples: sorted.length,
    };
  }
}
