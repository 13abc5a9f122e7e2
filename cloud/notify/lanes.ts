/**
 * Delivery lanes: every channel endpoint (one robot URL, one webhook URL, the SMTP relay) gets its
 * own queue, its own concurrency and its own circuit breaker, under a limit per channel kind. A
 * robot that accepts the connection and never answers fills only its own lane: other endpoints
 * keep their slots, and once it has failed `failuresToOpen` times in a row its circuit opens and
 * further attempts fail at once (no network, no timeout to wait out) — the recipient counts as
 * failed and the escalation's delivery-failure fallback takes over without waiting (docs/architecture.md
 * invariant 8: one dead channel delays nobody else). After `openMs` one trial attempt is let
 * through (half-open); its success closes the circuit. Models: the circuit breaker of Nygard's
 * "Release It!" as opossum implements it, and p-queue's per-key concurrency, written small here.
 *
 * Queues are ordered by priority (first notices of critical cases first), then arrival.
 */

export interface LaneSettings {
  /** Attempts in flight per endpoint. WeCom and DingTalk robots take 20 messages a minute each. */
  concurrency: number;
  /** Consecutive failed attempts (timeouts, network errors, refusals) that open the circuit. */
  failuresToOpen: number;
  /** How long an open circuit fails attempts at once before one trial goes through. */
  openMs: number;
}

export const DEFAULT_LANE: LaneSettings = { concurrency: 4, failuresToOpen: 3, openMs: 30_000 };

/** A counting semaphore whose waiters leave in priority order (lower first), then in arrival order. */
export class PrioritySlots {
  #active = 0;
  #seq = 0;
  readonly #waiting: { priority: number; seq: number; go: () => void }[] = [];
  constructor(private readonly limit: number) {}

  get active(): number {
    return this.#active;
  }
  get waiting(): number {
    return this.#waiting.length;
  }

  acquire(priority: number): Promise<void> {
    if (this.#active < this.limit) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((go) => {
      this.#waiting.push({ priority, seq: this.#seq++, go });
      this.#waiting.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
    });
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next.go();
    else this.#active--;
  }
}

export type CircuitState = 'closed' | 'open' | 'half_open';

/** What the lane tells an attempt it refused to start. */
export interface Refused {
  refused: true;
  error: string;
}

export class Lane {
  readonly slots: PrioritySlots;
  #failures = 0;
  #openUntil = 0;
  #trial = false;

  constructor(
    readonly key: string,
    private readonly settings: LaneSettings,
    private readonly clock: () => number,
  ) {
    this.slots = new PrioritySlots(settings.concurrency);
  }

  state(now = this.clock()): CircuitState {
    if (this.#failures < this.settings.failuresToOpen) return 'closed';
    return now < this.#openUntil ? 'open' : 'half_open';
  }

  /**
   * Runs one attempt in this lane (after `kindSlots`, the limit of its channel kind), or refuses it
   * at once while the circuit is open. `fn` reports whether the attempt succeeded.
   */
  async run<T extends { ok: boolean }>(
    priority: number,
    kindSlots: PrioritySlots,
    fn: () => Promise<T>,
  ): Promise<T | Refused> {
    const early = this.#refusal();
    if (early) return early;
    await this.slots.acquire(priority);
    try {
      // The circuit may have opened while this attempt queued behind a hanging one.
      const refused = this.#refusal();
      if (refused) return refused;
      const trial = this.state() === 'half_open';
      if (trial) this.#trial = true;
      await kindSlots.acquire(priority);
      let result: T;
      try {
        result = await fn();
      } finally {
        kindSlots.release();
        if (trial) this.#trial = false;
      }
      this.#record(result.ok);
      return result;
    } finally {
      this.slots.release();
    }
  }

  #refusal(): Refused | undefined {
    const state = this.state();
    if (state === 'closed') return undefined;
    if (state === 'half_open' && !this.#trial) return undefined;
    const seconds = Math.max(0, Math.ceil((this.#openUntil - this.clock()) / 1000));
    return {
      refused: true,
      error: `circuit open: ${this.#failures} failed attempts in a row to this endpoint; next trial in ${seconds} s`,
    };
  }

  #record(ok: boolean): void {
    if (ok) {
      this.#failures = 0;
      return;
    }
    this.#failures++;
    if (this.#failures >= this.settings.failuresToOpen) this.#openUntil = this.clock() + this.settings.openMs;
  }
}

/** Lanes by endpoint key, and the slots of each channel kind. */
export class Lanes {
  readonly #lanes = new Map<string, Lane>();
  readonly #kinds = new Map<string, PrioritySlots>();
  constructor(
    private readonly settings: (kind: string) => LaneSettings,
    private readonly kindConcurrency: number,
    private readonly clock: () => number,
  ) {}

  lane(kind: string, endpoint: string): Lane {
    const key = `${kind}|${endpoint}`;
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = new Lane(key, this.settings(kind), this.clock);
      this.#lanes.set(key, lane);
    }
    return lane;
  }

  kindSlots(kind: string): PrioritySlots {
    let slots = this.#kinds.get(kind);
    if (!slots) {
      slots = new PrioritySlots(this.kindConcurrency);
      this.#kinds.set(kind, slots);
    }
    return slots;
  }
}
