/**
 * Server push for the live board. cloud/alarms has one event sink (the escalation engine), so the
 * console polls the case store instead: one poller per distinct scope with listeners, every
 * `intervalMs` (≈ 1 s), reading the board of that scope (open cases, most severe first, at most
 * BOARD_PER_COMMUNITY per community and MAX_CASE_LIMIT in all, so one community's flood never
 * hides another's fire) and sending each listener only what changed. `truncatedBy` says, per
 * community, how many open cases were left out. Bounded: pollers exist only while someone listens, one
 * query per scope per tick however many tabs watch it, and a tick never overlaps the previous one.
 *
 * Heartbeats are application messages (`heartbeat`), not SSE comments: a comment never reaches the
 * page, so a frozen link (a NAT or proxy that stops forwarding without closing) looked live. They
 * come from the poller's tick, so they also prove the board's data is still being read: a page that
 * misses a few beats knows its board may be stale, says so and reconnects (the new stream starts
 * with a full snapshot).
 */
import type { Logger } from 'pino';
import { caseView } from '../alarms/schemas.js';
import { BOARD_PER_COMMUNITY, type Board, type BoardFilter, MAX_CASE_LIMIT } from '../alarms/store/port.js';

export type View = ReturnType<typeof caseView>;

/** `truncated`: some open case was left out; `truncatedBy`: community path → how many. */
export type PushMessage =
  | {
      type: 'snapshot';
      serverTime: number;
      items: View[];
      truncated: boolean;
      truncatedBy: Record<string, number>;
      heartbeatMs: number;
    }
  | {
      type: 'changes';
      serverTime: number;
      upserts: View[];
      removed: string[];
      truncated: boolean;
      truncatedBy: Record<string, number>;
    }
  | { type: 'heartbeat'; serverTime: number };

/** Default interval of application-level heartbeats on the live push. */
export const PUSH_HEARTBEAT_MS = 5000;

export interface CaseLister {
  board(scope: string, filter: BoardFilter): Promise<Board>;
}

/** The board every poller reads. */
export const BOARD_FILTER: BoardFilter = { perCommunity: BOARD_PER_COMMUNITY, limit: MAX_CASE_LIMIT };

interface Poller {
  listeners: Set<(m: PushMessage) => void>;
  /** id → JSON of the view last sent. */
  known: Map<string, string>;
  items: View[];
  truncatedBy: Record<string, number>;
  timer?: NodeJS.Timeout;
  ready: Promise<void>;
  busy: boolean;
  /** performance.now() of the last message sent to the listeners (changes or heartbeat). */
  lastSent: number;
}

export class CasePush {
  readonly #pollers = new Map<string, Poller>();
  constructor(
    private readonly cases: CaseLister,
    private readonly clock: () => number,
    private readonly log: Logger,
    private readonly intervalMs = 1000,
    /** Every listener gets a message at least this often while the poller reads the store. */
    readonly heartbeatMs = PUSH_HEARTBEAT_MS,
  ) {}

  /** Number of scopes being polled and listeners in all (for tests and metrics). */
  stats(): { scopes: number; listeners: number } {
    let listeners = 0;
    for (const p of this.#pollers.values()) listeners += p.listeners.size;
    return { scopes: this.#pollers.size, listeners };
  }

  /** Subscribes to a scope; the listener gets a snapshot first, then changes. Returns unsubscribe. */
  async subscribe(scope: string, listener: (m: PushMessage) => void): Promise<() => void> {
    let poller = this.#pollers.get(scope);
    if (!poller) {
      const created: Poller = {
        listeners: new Set(),
        known: new Map(),
        items: [],
        truncatedBy: {},
        ready: Promise.resolve(),
        busy: false,
        lastSent: performance.now(),
      };
      created.ready = this.#poll(scope, created);
      created.timer = setInterval(() => void this.#poll(scope, created), this.intervalMs);
      created.timer.unref();
      this.#pollers.set(scope, created);
      poller = created;
    }
    const p = poller;
    await p.ready;
    // Everyone else left while this one waited: that poller is gone, start over with a new one.
    if (this.#pollers.get(scope) !== p) return this.subscribe(scope, listener);
    // Added only now, so the first poll is not sent twice (as changes and in the snapshot).
    p.listeners.add(listener);
    listener({
      type: 'snapshot',
      serverTime: this.clock(),
      items: p.items,
      truncated: Object.keys(p.truncatedBy).length > 0,
      truncatedBy: p.truncatedBy,
      heartbeatMs: this.heartbeatMs,
    });
    return () => {
      p.listeners.delete(listener);
      if (p.listeners.size === 0 && this.#pollers.get(scope) === p) {
        clearInterval(p.timer);
        this.#pollers.delete(scope);
      }
    };
  }

  /** Polls every scope at once now (tests; also what a case-event hook would call). */
  async pollNow(): Promise<void> {
    await Promise.all([...this.#pollers].map(([scope, p]) => this.#poll(scope, p)));
  }

  close(): void {
    for (const p of this.#pollers.values()) clearInterval(p.timer);
    this.#pollers.clear();
  }

  async #poll(scope: string, p: Poller): Promise<void> {
    if (p.busy) return;
    p.busy = true;
    try {
      const board = await this.cases.board(scope, BOARD_FILTER);
      const views = board.items.map(caseView);
      const upserts: View[] = [];
      const seen = new Set<string>();
      for (const v of views) {
        seen.add(v.id);
        const json = JSON.stringify(v);
        if (p.known.get(v.id) !== json) {
          p.known.set(v.id, json);
          upserts.push(v);
        }
      }
      const removed: string[] = [];
      for (const id of p.known.keys())
        if (!seen.has(id)) {
          p.known.delete(id);
          removed.push(id);
        }
      p.items = views;
      const countsChanged = JSON.stringify(board.truncated) !== JSON.stringify(p.truncatedBy);
      p.truncatedBy = board.truncated;
      if (upserts.length > 0 || removed.length > 0 || countsChanged) {
        const message: PushMessage = {
          type: 'changes',
          serverTime: this.clock(),
          upserts,
          removed,
          truncated: Object.keys(p.truncatedBy).length > 0,
          truncatedBy: p.truncatedBy,
        };
        for (const l of p.listeners) l(message);
        p.lastSent = performance.now();
      } else if (performance.now() - p.lastSent >= this.heartbeatMs - this.intervalMs / 2) {
        // Half a tick early rather than a whole tick late: ticks are `intervalMs` apart.
        const beat: PushMessage = { type: 'heartbeat', serverTime: this.clock() };
        for (const l of p.listeners) l(beat);
        p.lastSent = performance.now();
      }
    } catch (error) {
      this.log.warn({ err: error, scope }, 'console push: polling cases failed');
    } finally {
      p.busy = false;
    }
  }
}
