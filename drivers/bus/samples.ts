import type { Percentiles } from './types.js';

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
