import type { Logger } from '../../common/log.js';
import { SerialLink } from '../../drivers/link/serial.js';
import type { Link } from '../../drivers/link/types.js';
import { DoorstepError } from '../../protocol/index.js';
import { AtChannel, type AtReply } from './at.js';
import type { ModemConfig } from './config.js';
import { encodeSubmit } from './pdu.js';

/** What the texter needs from a modem: ready it, and send one text (all its parts). */
export interface ModemPort {
  /** Runs the start-up dialogue; resolves with what the modem reported, rejects with an EDGE_ERR_MODEM_* error. */
  prepare(): Promise<ModemStatus>;
  /** Sends one text; resolves with the message reference of each part (+CMGS: <mr>). */
  send(to: string, text: string, reference: number): Promise<number[]>;
  close(): Promise<void>;
}

export interface ModemStatus {
  /** `READY` once the SIM is unlocked. */
  sim: string;
  /** e.g. `CREG 1 (home)` or `CEREG 5 (roaming)`. */
  registration: string;
}

/** 3GPP TS 27.007 §7.2 (+CREG) and §10.1.22 (+CEREG) <stat>. */
const REG_STATES: Record<string, string> = {
  '0': 'not registered',
  '1': 'home',
  '2': 'searching',
  '3': 'denied',
  '4': 'unknown',
  '5': 'roaming',
};

/** 3GPP TS 27.005 §3.2.5 <err> values a gateway meets (network causes below 256 are TS 24.011 Annex E-2). */
const CMS_MEANING: Record<number, string> = {
  1: 'unassigned number',
  8: 'operator determined barring',
  10: 'call barred',
  21: 'short message transfer rejected',
  27: 'destination out of service',
  38: 'network out of order',
  41: 'temporary failure',
  42: 'congestion',
  300: 'ME failure',
  301: 'SMS service of ME reserved',
  302: 'operation not allowed',
  303: 'operation not supported',
  304: 'invalid PDU mode parameter',
  310: 'SIM not inserted',
  311: 'SIM PIN required',
  313: 'SIM failure',
  314: 'SIM busy',
  320: 'memory failure',
  322: 'memory full',
  330: 'SMSC address unknown',
  331: 'no network service',
  332: 'network timeout',
  500: 'unknown error',
};

export function cmsMeaning(code: number): string {
  return CMS_MEANING[code] ?? (code < 256 ? 'network cause' : 'modem error');
}

/** 3GPP TS 27.007 §9.2.1 SIM-related +CME ERROR codes. */
const CME_SIM: Record<string, string> = {
  '10': 'SIM not inserted',
  '11': 'SIM PIN required',
  '12': 'SIM PUK required',
  '13': 'SIM failure',
  '14': 'SIM busy',
  '15': 'SIM wrong',
  '16': 'incorrect password',
};

export interface AtModemOptions {
  config: ModemConfig & { port: string };
  logger: Logger;
  /** Tests may open another link; default: the serial port, 8N1. */
  createLink?: (config: ModemConfig & { port: string }) => Link;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A modem driven by AT commands on its serial port (3GPP TS 27.007 / 27.005). The port is opened
 * on first use and kept; a port that goes away is reopened at the next attempt.
 */
export class AtModem implements ModemPort {
  readonly #o: AtModemOptions;
  readonly #sleep: (ms: number) => Promise<void>;
  #link: Link | undefined;
  #at: AtChannel | undefined;
  #closed = false;

  constructor(options: AtModemOptions) {
    this.#o = options;
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  get #port(): string {
    return this.#o.config.port;
  }

  async #channel(): Promise<AtChannel> {
    if (this.#closed)
      throw new DoorstepError('EDGE_ERR_MODEM_PORT', {
        port: this.#port,
        reason: 'closed (gateway stopping)',
      });
    if (this.#at && this.#link?.isOpen) return this.#at;
    this.#at?.dispose();
    this.#at = undefined;
    const link =
      this.#o.createLink?.(this.#o.config) ??
      new SerialLink({
        path: this.#port,
        baudRate: this.#o.config.baudRate,
        parity: 'none',
        dataBits: 8,
        stopBits: 1,
        logger: this.#o.logger,
      });
    try {
      await link.open();
    } catch (error) {
      throw new DoorstepError(
        'EDGE_ERR_MODEM_PORT',
        { port: this.#port, reason: (error as Error).message },
        { cause: error },
      );
    }
    this.#link = link;
    this.#at = new AtChannel(link, this.#port, this.#o.logger);
    return this.#at;
  }

  async #ok(command: string, timeoutMs = this.#o.config.commandTimeoutMs, shown = command): Promise<AtReply> {
    const at = await this.#channel();
    const reply = await at.command(command, timeoutMs);
    if (reply.final !== 'OK') {
      const sim = /^\+CME ERROR: *(\d+)/.exec(reply.final)?.[1];
      if (sim && CME_SIM[sim])
        throw new DoorstepError('EDGE_ERR_MODEM_SIM', {
          port: this.#port,
          state: `${CME_SIM[sim]} (+CME ERROR ${sim})`,
        });
      throw new DoorstepError('EDGE_ERR_MODEM_COMMAND', {
        port: this.#port,
        command: shown,
        result: reply.final,
      });
    }
    return reply;
  }

  async prepare(): Promise<ModemStatus> {
    const c = this.#o.config;
    // V.250: a bare AT synchronises the modem's autobaud and shows it is alive; a modem just powered
    // up may miss the first one.
    let alive = false;
    for (let i = 0; i < 3 && !alive; i++) {
      try {
        await this.#ok('AT', Math.min(c.commandTimeoutMs, 2000));
        alive = true;
      } catch (error) {
        if (i === 2) throw error;
      }
    }
    await this.#ok('ATE0'); // no echo (V.250 §6.2.4)
    await this.#ok('AT+CMEE=1'); // numeric +CME ERROR codes (TS 27.007 §9.1)
    const sim = await this.#sim();
    const registration = await this.#registration();
    await this.#ok('AT+CMGF=0'); // PDU mode (TS 27.005 §3.2.3)
    return { sim, registration };
  }

  async #sim(): Promise<string> {
    for (let round = 0; round < 2; round++) {
      const reply = await this.#ok('AT+CPIN?');
      const state =
        reply.lines
          .find((l) => l.startsWith('+CPIN:'))
          ?.slice(6)
          .trim() ?? '';
      if (state === 'READY') return state;
      if (state === 'SIM PIN' && this.#o.config.pin && round === 0) {
        // Once only: a wrong PIN sent again and again locks the SIM (PUK).
        await this.#ok(`AT+CPIN="${this.#o.config.pin}"`, this.#o.config.commandTimeoutMs, 'AT+CPIN=<pin>');
        await this.#sleep(1000);
        continue;
      }
      throw new DoorstepError('EDGE_ERR_MODEM_SIM', {
        port: this.#port,
        state: state === 'SIM PIN' ? 'SIM PIN required (modem.pin is not set)' : state || 'no +CPIN answer',
      });
    }
    throw new DoorstepError('EDGE_ERR_MODEM_SIM', { port: this.#port, state: 'SIM PIN not accepted' });
  }

  /** Registered in CS (+CREG) or in EPS (+CEREG: LTE-only modems send SMS over SGs/IMS). */
  async #registration(): Promise<string> {
    const seen: string[] = [];
    for (const cmd of ['CREG', 'CEREG'] as const) {
      let reply: AtReply;
      try {
        reply = await this.#ok(`AT+${cmd}?`);
      } catch (error) {
        if (cmd === 'CEREG' && error instanceof DoorstepError && error.code === 'EDGE_ERR_MODEM_COMMAND') {
          seen.push('CEREG not supported');
          continue;
        }
        throw error;
      }
      const fields = reply.lines
        .find((l) => l.startsWith(`+${cmd}:`))
        ?.slice(cmd.length + 2)
        .split(',');
      const stat = fields?.[1]?.trim() ?? fields?.[0]?.trim() ?? '?';
      const words = `${cmd} ${stat} (${REG_STATES[stat] ?? 'unknown'})`;
      if (stat === '1' || stat === '5') return words;
      seen.push(words);
    }
    throw new DoorstepError('EDGE_ERR_MODEM_NETWORK', { port: this.#port, registration: seen.join(', ') });
  }

  async send(to: string, text: string, reference: number): Promise<number[]> {
    const c = this.#o.config;
    const parts = encodeSubmit({ to, text, reference });
    const at = await this.#channel();
    const refs: number[] = [];
    for (const part of parts) {
      const reply = await at.submit(part.tpduOctets, part.hex, c.commandTimeoutMs, c.sendTimeoutMs);
      const cms = /^\+CMS ERROR: *(\d+)/.exec(reply.final)?.[1];
      if (cms !== undefined)
        throw new DoorstepError('EDGE_ERR_MODEM_SMS', {
          to,
          cms: Number(cms),
          meaning: cmsMeaning(Number(cms)),
        });
      if (reply.final !== 'OK')
        throw new DoorstepError('EDGE_ERR_MODEM_COMMAND', {
          port: this.#port,
          command: `AT+CMGS=${part.tpduOctets}`,
          result: reply.final,
        });
      const mr = reply.lines
        .find((l) => l.startsWith('+CMGS:'))
        ?.slice(6)
        .trim();
      refs.push(Number(mr ?? Number.NaN));
    }
    return refs;
  }

  /** Closes the port for good: a command in flight fails at once, later ones are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    const link = this.#link;
    this.#link = undefined;
    await link?.close().catch(() => undefined);
    this.#at?.dispose();
    this.#at = undefined;
  }
}
