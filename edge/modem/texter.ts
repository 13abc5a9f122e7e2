import { delayAfterFailuresMs } from '../../common/backoff.js';
import type { Logger } from '../../common/log.js';
import { type AlarmTransition, DoorstepError, isDoorstepError } from '../../protocol/index.js';
import type { Outbox } from '../outbox/types.js';
import type { ModemConfig } from './config.js';
import type { ModemPort, ModemStatus } from './modem.js';
import { composeText, type TextAlarm } from './text.js';

/** An alarm the texter watches until the cloud has it, persisted as side state `modem/alarm/<id>`. */
export interface WatchedAlarm extends TextAlarm {
  id: string;
  device: string;
  /** When the gateway announced it (its clock): the delay counts from here. */
  at: number;
  /** Its `raised` row's outbox seq, once seen pending: gone from the outbox later means acknowledged. */
  seq?: number;
  /** Duty number → when it was texted. */
  texted: Record<string, number>;
}

export interface ModemHealth {
  enabled: true;
  port: string;
  /** unknown: not checked yet; ready: the last dialogue worked; failing: the last one failed. */
  state: 'unknown' | 'ready' | 'failing';
  since: number;
  reason?: string;
  detail?: string;
  sim?: string;
  registration?: string;
  lastCheckAt?: number;
  lastSentAt?: number;
  /** Texts sent (each may be several SMS parts) and attempts failed since start. */
  sent: number;
  failed: number;
  consecutiveFailures: number;
  /** Next attempt after a failure. */
  retryAt?: number;
  /** Alarms the cloud does not have yet, being watched. */
  watching: number;
  /** Of those, past the delay and not yet texted to every duty number. */
  due: number;
  /** Duty numbers at their rate cap right now (their alarms wait and go together). */
  rateLimited: string[];
}

export interface ModemTexterOptions {
  config: ModemConfig & { port: string };
  gatewayName: string;
  /** The device's location label; the device id only when the configuration no longer has it. */
  locationOf: (device: string) => string;
  outbox: Outbox;
  modem: ModemPort;
  logger: Logger;
  now?: () => number;
  /** Tick period (default 1 s): how often acknowledgements and due alarms are checked. */
  tickMs?: number;
}

const ALARM_PREFIX = 'modem/alarm/';
const RATE_PREFIX = 'modem/rate/';
const raisedKey = (id: string) => `alarm:${id}:raised`;

/**
 * Texts alarms the cloud has not acknowledged within `afterMs` to the duty numbers, through the
 * modem (edge/modem/README.md). "The cloud has it" is read from the outbox: the alarm's `raised`
 * row leaves it only on the cloud's ack (edge/outbox/README.md), so once the row was seen pending
 * and is gone, nothing more is texted — also after a restart, because what was watched and texted
 * is side state in the outbox's own database, written in one fsynced transaction per text.
 */
export class ModemTexter {
  readonly #o: ModemTexterOptions;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #alarms = new Map<string, WatchedAlarm>();
  readonly #rate = new Map<string, number[]>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #reference = Math.floor(Math.random() * 256);
  #nextCheckAt = 0;
  #retryAt = 0;
  #health: ModemHealth;
  #stopped = false;

  constructor(options: ModemTexterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger;
    this.#health = {
      enabled: true,
      port: options.config.port,
      state: 'unknown',
      since: this.#now(),
      sent: 0,
      failed: 0,
      consecutiveFailures: 0,
      watching: 0,
      due: 0,
      rateLimited: [],
    };
  }

  /** Loads what a previous run watched and texted, and starts ticking. */
  start(): void {
    for (const row of this.#o.outbox.loadSideState(ALARM_PREFIX)) {
      try {
        const a = JSON.parse(row.value) as WatchedAlarm;
        this.#alarms.set(a.id, a);
      } catch {
        this.#log.warn({ key: row.key }, 'unreadable modem record dropped');
      }
    }
    for (const row of this.#o.outbox.loadSideState(RATE_PREFIX)) {
      try {
        this.#rate.set(row.key.slice(RATE_PREFIX.length), JSON.parse(row.value) as number[]);
      } catch {
        /* a lost rate record only relaxes the cap once */
      }
    }
    if (this.#alarms.size > 0)
      this.#log.info({ watching: this.#alarms.size }, 'modem: alarms from the previous run still watched');
    this.#timer = setInterval(() => void this.tick(), this.#o.tickMs ?? 1000);
    this.#timer.unref?.();
    void this.tick();
  }

  /**
   * Stops within the gateway's stop budget: closing the port first ends a command in flight (an
   * AT+CMGS may wait a minute for the network) instead of waiting for it.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#o.modem.close();
    await this.#running;
  }

  /** Every alarm transition the gateway announced (after it is on disk). */
  watch(t: AlarmTransition): void {
    if (t.test) return;
    const known = this.#alarms.get(t.id);
    if (t.state !== 'raised') {
      if (known && !known.cleared) {
        known.cleared = true;
        this.#persist([known]);
      }
      return;
    }
    if (known || !this.#o.config.severities.includes(t.severity)) return;
    const seq = this.#o.outbox.seqOfKey(raisedKey(t.id));
    const a: WatchedAlarm = {
      id: t.id,
      device: t.device,
      type: t.type,
      severity: t.severity,
      location: this.#o.locationOf(t.device),
      ts: t.ts,
      ...(t.value !== undefined && typeof t.value !== 'object' ? { value: t.value } : {}),
      at: this.#now(),
      ...(seq !== undefined ? { seq } : {}),
      texted: {},
    };
    this.#alarms.set(a.id, a);
    this.#persist([a]);
  }

  health(): ModemHealth {
    const now = this.#now();
    const numbers = this.#o.config.dutyNumbers;
    const due = [...this.#alarms.values()].filter(
      (a) => now - a.at >= this.#o.config.afterMs && numbers.some((n) => a.texted[n] === undefined),
    );
    return {
      ...this.#health,
      watching: this.#alarms.size,
      due: due.length,
      rateLimited: numbers.filter((n) => !this.#rateAllows(n, now)),
      ...(this.#retryAt > now ? { retryAt: this.#retryAt } : {}),
    };
  }

  /** One pass: drop what the cloud has, text what is due, or check the modem when idle. Never overlaps. */
  tick(): Promise<void> {
    if (this.#running || this.#stopped) return this.#running ?? Promise.resolve();
    this.#running = this.#pass()
      .catch((error) => this.#log.error({ err: error }, 'modem pass failed'))
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async #pass(): Promise<void> {
    this.#forgetAcknowledged();
    const now = this.#now();
    const c = this.#o.config;
    for (const a of [...this.#alarms.values()]) {
      if (now - a.at <= c.giveUpAfterMs) continue;
      const missing = c.dutyNumbers.filter((n) => a.texted[n] === undefined);
      if (missing.length > 0)
        this.#log.error(
          { alarm: a.id, device: a.device, type: a.type, missing },
          'modem: alarm given up untexted after giveUpAfterMs',
        );
      this.#forget(a);
    }
    if (now < this.#retryAt) return;
    const due = () =>
      [...this.#alarms.values()]
        .filter((a) => this.#now() - a.at >= c.afterMs)
        .sort((x, y) => x.ts - y.ts || x.id.localeCompare(y.id));
    const numbers = c.dutyNumbers.filter(
      (n) => due().some((a) => a.texted[n] === undefined) && this.#rateAllows(n, now),
    );
    if (numbers.length === 0) {
      if (now >= this.#nextCheckAt) await this.#check();
      return;
    }
    try {
      this.#ready(await this.#o.modem.prepare());
      this.#nextCheckAt = this.#now() + c.probeIntervalMs;
    } catch (error) {
      this.#failed(error, true);
      return;
    }
    for (const number of numbers) {
      if (this.#stopped) return;
      // A dialogue or a text may take seconds: the cloud's ack may have come meanwhile.
      this.#forgetAcknowledged();
      const pending = due().filter((a) => a.texted[number] === undefined);
      if (pending.length === 0) continue;
      const text = composeText(pending, this.#o.gatewayName, c.lang);
      const reference = this.#reference;
      this.#reference = (this.#reference + 1) & 0xff;
      try {
        const refs = await this.#o.modem.send(number, text, reference);
        const at = this.#now();
        for (const a of pending) a.texted[number] = at;
        const stamps = this.#stamps(number, at);
        stamps.push(at);
        this.#persist(pending, [{ key: `${RATE_PREFIX}${number}`, value: JSON.stringify(stamps) }]);
        this.#health.sent++;
        this.#health.lastSentAt = at;
        this.#log.warn(
          { to: number, alarms: pending.map((a) => a.id), parts: refs.length, mr: refs },
          'modem: alarm texted to duty number (the cloud does not have it)',
        );
      } catch (error) {
        // A refusal of this text (+CMS ERROR) leaves the other numbers to try; a modem failure ends the pass.
        if (this.#failed(error, true, number)) return;
      }
    }
  }

  /** Checks the modem while idle, so /health tells a dead modem before an alarm needs it. */
  async #check(): Promise<void> {
    try {
      this.#ready(await this.#o.modem.prepare());
      this.#nextCheckAt = this.#now() + this.#o.config.probeIntervalMs;
    } catch (error) {
      this.#failed(error, false);
      this.#nextCheckAt = Math.min(this.#now() + this.#o.config.probeIntervalMs, this.#retryAt);
    }
  }

  #ready(status: ModemStatus): void {
    const now = this.#now();
    if (this.#health.state !== 'ready') {
      if (this.#health.state === 'failing') this.#log.info(status, 'modem ready again');
      this.#health = { ...this.#health, state: 'ready', since: now };
    }
    delete this.#health.reason;
    delete this.#health.detail;
    this.#health.sim = status.sim;
    this.#health.registration = status.registration;
    this.#health.lastCheckAt = now;
    this.#health.consecutiveFailures = 0;
    this.#retryAt = 0;
  }

  /** Records a failure with its code and schedules the retry; true when the modem itself failed (stop this pass). */
  #failed(error: unknown, attempt: boolean, to?: string): boolean {
    const now = this.#now();
    const e = isDoorstepError(error)
      ? error
      : new DoorstepError('EDGE_ERR_MODEM_COMMAND', {
          port: this.#o.config.port,
          command: attempt ? 'send' : 'check',
          result: (error as Error)?.message ?? String(error),
        });
    const h = this.#health;
    h.failed++;
    h.consecutiveFailures++;
    h.lastCheckAt = now;
    if (h.state !== 'failing') this.#health = { ...h, state: 'failing', since: now };
    this.#health.reason = e.code;
    this.#health.detail = e.message;
    const { minMs, maxMs } = this.#o.config.retry;
    const delay = delayAfterFailuresMs({ initialMs: minMs, maxMs }, h.consecutiveFailures);
    this.#retryAt = now + delay;
    // Every failed text is worth a line; a failing idle check only the first of a streak.
    const level = attempt || h.consecutiveFailures === 1 ? 'warn' : 'debug';
    this.#log[level](
      { code: e.code, ...(to ? { to } : {}), failures: h.consecutiveFailures, retryInMs: delay },
      `modem: ${e.message}`,
    );
    return e.code !== 'EDGE_ERR_MODEM_SMS';
  }

  #forgetAcknowledged(): void {
    for (const a of [...this.#alarms.values()]) {
      const seq = this.#o.outbox.seqOfKey(raisedKey(a.id));
      if (seq !== undefined) {
        if (a.seq === undefined) {
          a.seq = seq;
          this.#persist([a]);
        }
        continue;
      }
      // Never seen in the outbox: not on disk yet (a full disk, edge/outbox/README.md) — the cloud
      // cannot have it, so it stays due.
      if (a.seq === undefined) continue;
      const texted = Object.keys(a.texted);
      this.#log.info(
        { alarm: a.id, texted },
        texted.length > 0
          ? 'modem: the cloud has the alarm; no more texts'
          : 'modem: the cloud has the alarm; not texted',
      );
      this.#forget(a);
    }
  }

  #forget(a: WatchedAlarm): void {
    this.#alarms.delete(a.id);
    this.#write([], [`${ALARM_PREFIX}${a.id}`]);
  }

  #stamps(number: string, now: number): number[] {
    const windowMs = this.#o.config.ratePerNumber.windowMs;
    const kept = (this.#rate.get(number) ?? []).filter((t) => now - t < windowMs && t <= now);
    this.#rate.set(number, kept);
    return kept;
  }

  #rateAllows(number: string, now: number): boolean {
    return this.#stamps(number, now).length < this.#o.config.ratePerNumber.max;
  }

  #persist(alarms: readonly WatchedAlarm[], extra: Array<{ key: string; value: string }> = []): void {
    this.#write(
      [...alarms.map((a) => ({ key: `${ALARM_PREFIX}${a.id}`, value: JSON.stringify(a) })), ...extra],
      [],
    );
  }

  /** One fsynced transaction of the outbox (the same one that keeps rule state beside its alarms). */
  #write(set: Array<{ key: string; value: string }>, remove: string[]): void {
    try {
      this.#o.outbox.put([], { set, remove, critical: true });
    } catch (error) {
      this.#log.error({ err: error }, 'modem record not written (kept in memory)');
    }
  }
}
