import { after } from 'node:test';
import { silentLogger } from '../../../common/log.js';
import { MemoryOutbox, type Outbox, SqliteOutbox } from '../../../edge/outbox/index.js';
import { Uplink, type UplinkOptions, type UplinkTimers } from '../../../edge/uplink/index.js';
import { tempDir } from '../../support/tmp.js';
import { ManualScheduler, type VirtualClock } from '../outbox/helpers.js';
import { FakeCloud } from './cloud-server.js';

export { alarm, event, reading, VirtualClock } from '../outbox/helpers.js';

/** One-shot timers that fire only when the test says so; every requested delay is recorded. */
export class ManualTimers implements UplinkTimers {
  readonly #timers = new Map<number, { callback: () => void; due: number; ms: number }>();
  readonly requested: number[] = [];
  #next = 1;
  constructor(readonly clock: { now(): number; advance?(ms: number): void }) {}
  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.#next++;
    this.#timers.set(handle, { callback, due: this.clock.now() + ms, ms });
    this.requested.push(ms);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  /** The pending timer's delay as requested (one timer at a time in the uplink). */
  pendingMs(): number | undefined {
    return this.#earliest()?.[1].ms;
  }
  /** Advances the virtual clock to the earliest timer and fires it. */
  fire(): boolean {
    const entry = this.#earliest();
    if (!entry) return false;
    const [handle, timer] = entry;
    this.#timers.delete(handle);
    const wait = timer.due - this.clock.now();
    if (wait > 0) this.clock.advance?.(wait);
    timer.callback();
    return true;
  }
  #earliest(): [number, { callback: () => void; due: number; ms: number }] | undefined {
    let best: [number, { callback: () => void; due: number; ms: number }] | undefined;
    for (const e of this.#timers) if (!best || e[1].due < best[1].due) best = e;
    return best;
  }
}

export const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

/** A cloud on 127.0.0.1:0, closed after the test file. */
export async function startCloud(): Promise<{ cloud: FakeCloud; baseUrl: string }> {
  const cloud = new FakeCloud();
  const baseUrl = await cloud.start();
  after(() => cloud.close());
  return { cloud, baseUrl };
}

export function memoryOutbox(clock: VirtualClock): Outbox {
  const outbox = new MemoryOutbox({ clock, scheduler: new ManualScheduler() });
  outbox.open();
  return outbox;
}

/** A real SQLite outbox in a temp dir (closed and removed after the test file). */
export function sqliteOutbox(clock: VirtualClock): { outbox: Outbox; dir: string } {
  const dir = tempDir('doorstep-uplink-');
  const outbox = new SqliteOutbox({ path: `${dir.path}/outbox.db`, clock, scheduler: new ManualScheduler() });
  outbox.open();
  after(() => {
    outbox.close();
    dir.dispose();
  });
  return { outbox, dir: dir.path };
}

/** An uplink with manual timers and a virtual clock; stopped after the test file. */
export function makeUplink(
  baseUrl: string,
  outbox: Outbox,
  clock: VirtualClock,
  overrides: Partial<UplinkOptions> = {},
): { uplink: Uplink; timers: ManualTimers } {
  const timers = new ManualTimers(clock);
  const uplink = new Uplink({
    baseUrl,
    gateway: 'gw-1',
    site: SITE,
    credentials: () => 'sekret-1',
    outbox,
    clock,
    timers,
    random: () => 0.5,
    logger: silentLogger(),
    requestTimeoutMs: 2000,
    ...overrides,
  });
  after(() => uplink.stop());
  return { uplink, timers };
}

/** Runs syncNow() until the outbox is empty or a step does not ack (bounded). */
export async function drain(uplink: Uplink, outbox: Outbox, limit = 100): Promise<void> {
  for (let i = 0; i < limit && outbox.stats().totalRows > 0; i++) {
    const outcome = await uplink.syncNow();
    if (outcome.kind === 'failed' || outcome.kind === 'idle') return;
  }
}

export const T0 = 1_700_000_000_000;
