/**
 * Server push for the live board, driven by the case-event log (cloud/alarms: every change of a
 * case appends to it in its own transaction). One watcher per distinct scope with listeners; the
 * push keeps its own cursor in the log (in memory: after a restart every page reconnects and gets
 * a snapshot), reads the entries appended since — at once when this instance's lifecycle rings
 * (`wake`), every `intervalMs` for the other instances' changes — and re-reads the board only of
 * the scopes a new entry falls in: the board of that scope (open cases, most severe first, at most
 * BOARD_PER_COMMUNITY per community and MAX_CASE_LIMIT in all, so one community's flood never
 * hides another's fire), sending each listener only what changed. `truncatedBy` says, per
 * community, how many open cases were left out. Bounded: watchers exist only while someone
 * listens, one log read per tick however many scopes, one board read per changed scope, and a tick
 * never overlaps the previous one. Time alone changes nothing on the board (shelving lapses and
 * the like are changes the log carries), so an idle board costs one indexed read per tick.
 *
 * Heartbeats are application messages (`heartbeat`), not SSE comments: a comment never reaches the
 * page, so a frozen link (a NAT or proxy that stops forwarding without closing) looked live. They
 * come from the tick, and only after the log was read, so they also prove the board's data is
 * still being followed: a page that misses a few beats knows its board may be stale, says so and
 * reconnects (the new stream starts with a full snapshot).
 */
import type { Logger } from '../../common/log.js';
import { caseView } from '../alarms/schemas.js';
import {
  BOARD_PER_COMMUNITY,
  type Board,
  type BoardFilter,
  type CaseLogEntry,
  MAX_CASE_LIMIT,
} from '../alarms/store/port.js';
import { pathInScope, sitePathString } from '../store/common.js';

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
  readEvents(after: number, limit: number): Promise<CaseLogEntry[]>;
  lastEventSeq(): Promise<number>;
}

/** Entries read per tick; more than this since the last look and every board is read again. */
const LOG_BATCH = 500;

/** The board every poller reads. */
export const BOARD_FILTER: BoardFilter = { perCommunity: BOARD_PER_COMMUNITY, limit: MAX_CASE_LIMIT };

interface Poller {
  listeners: Set<(m: PushMessage) => void>;
  /** id → JSON of the view last sent. */
  known: Map<string, string>;
  items: View[];
  truncatedBy: Record<string, number>;
  ready: Promise<void>;
  busy: boolean;
  /** A change arrived while `busy`: read the board once more. */
  dirty?: boolean;
  /** performance.now() of the last message sent to the listeners (changes or heartbeat). */
  lastSent: number;
}

export class CasePush {
  readonly #pollers = new Map<string, Poller>();
  /** The newest log entry this push has taken into account; undefined before the first look. */
  #seen: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #again = false;
  constructor(
    private readonly cases: CaseLister,
    private readonly clock: () => number,
    private readonly log: Logger,
    /** How often the log is looked at for the other instances' changes. */
    private readonly intervalMs = 250,
    /** Every listener gets a message at least this often while the log is being read. */
    readonly heartbeatMs = PUSH_HEARTBEAT_MS,
  ) {}

  /** Number of scopes being watched and listeners in all (for tests and metrics). */
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
      created.ready = (async () => {
        // The log position first, then the board: a change between the two is read again.
        if (this.#seen === undefined) await this.#catchUp();
        await this.#poll(scope, created);
      })();
      this.#pollers.set(scope, created);
      this.#timer ??= setInterval(() => void this.#tick(), this.intervalMs);
      this.#timer.unref();
      poller = created;
    }
    const p = poller;
    await p.ready;
    // Everyone else left while this one waited: that watcher is gone, start over with a new one.
    if (this.#pollers.get(scope) !== p) return this.subscribe(scope, listener);
    // Added only now, so the first read is not sent twice (as changes and in the snapshot).
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
        this.#pollers.delete(scope);
        if (this.#pollers.size === 0) {
          clearInterval(this.#timer);
          this.#timer = undefined;
          this.#seen = undefined;
        }
      }
    };
  }

  /** The case-event log has new entries (the lifecycle's doorbell): look now. */
  wake(): void {
    if (this.#pollers.size > 0) void this.#tick();
  }

  /** Reads every watched scope's board now, whatever the log says (tests). */
  async pollNow(): Promise<void> {
    await Promise.all([...this.#pollers].map(([scope, p]) => this.#poll(scope, p)));
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#pollers.clear();
    this.#seen = undefined;
  }

  async #catchUp(): Promise<void> {
    this.#seen = await this.cases.lastEventSeq();
  }

  /** One look at the log; a look asked for while one runs runs right after it. */
  #tick(): Promise<void> {
    if (this.#ticking) {
      this.#again = true;
      return this.#ticking;
    }
    this.#ticking = (async () => {
      do {
        this.#again = false;
        await this.#look();
      } while (this.#again && this.#pollers.size > 0);
    })().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  async #look(): Promise<void> {
    if (this.#pollers.size === 0) return;
    let changed: Set<string> | 'all';
    try {
      if (this.#seen === undefined) {
        await this.#catchUp();
        changed = 'all';
      } else {
        const entries = await this.cases.readEvents(this.#seen, LOG_BATCH);
        if (entries.length === LOG_BATCH) {
          // Far behind (a burst): every board again from here.
          await this.#catchUp();
          changed = 'all';
        } else {
          changed = new Set(entries.map((e) => sitePathString(e.case.site)));
          const last = entries.at(-1);
          if (last) this.#seen = last.seq;
        }
      }
    } catch (error) {
      // No heartbeat either: the pages see the board go stale and say so.
      this.log.warn({ err: error }, 'console push: reading the case log failed');
      return;
    }
    const paths = changed;
    await Promise.all(
      [...this.#pollers].map(([scope, p]) => {
        const hit = paths === 'all' || [...paths].some((path) => pathInScope(scope, path));
        return hit ? this.#poll(scope, p) : this.#beat(p);
      }),
    );
  }

  #beat(p: Poller): void {
    // Half a tick early rather than a whole tick late: ticks are `intervalMs` apart (a look rung
    // by a change comes between them).
    if (performance.now() - p.lastSent < this.heartbeatMs - Math.min(this.intervalMs, this.heartbeatMs) / 2)
      return;
    const beat: PushMessage = { type: 'heartbeat', serverTime: this.clock() };
    for (const l of p.listeners) l(beat);
    p.lastSent = performance.now();
  }

  async #poll(scope: string, p: Poller): Promise<void> {
    if (p.busy) {
      // A read is under way and may have started before the change: read again after it.
      p.dirty = true;
      return;
    }
    p.busy = true;
    p.dirty = false;
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
      } else this.#beat(p);
    } catch (error) {
      this.log.warn({ err: error, scope }, 'console push: polling cases failed');
    } finally {
      p.busy = false;
    }
    if (p.dirty && this.#pollers.get(scope) === p) await this.#poll(scope, p);
  }
}
