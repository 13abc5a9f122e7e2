import type { Logger } from '../../common/log.js';
import type { Link } from '../../drivers/link/types.js';
import { DoorstepError } from '../../protocol/index.js';

/** What a command answered: its information lines (URCs and the echo left out) and the final result. */
export interface AtReply {
  lines: string[];
  final: string;
}

interface Pending {
  command: string;
  lines: string[];
  /** AT+CMGS: waiting for the `> ` prompt before the PDU may be written (3GPP TS 27.005 §3.5.1). */
  prompt?: () => void;
  resolve: (reply: AtReply) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Final result codes (ITU-T V.250 §5.7.1, 3GPP TS 27.007 §9.2, TS 27.005 §3.2.5). Anything else
 * on a line is an information response or an unsolicited result code.
 */
const FINAL = /^(OK|ERROR|NO CARRIER|\+CME ERROR:.*|\+CMS ERROR:.*)$/;

/**
 * One AT command at a time over a Link (V.250 §5.2: a command line ends with CR; responses are
 * framed by CR LF). Lines are read as ASCII; the text itself travels as hex in PDU mode, so nothing
 * here needs another character set.
 */
export class AtChannel {
  readonly #link: Link;
  readonly #port: string;
  readonly #logger: Logger;
  #buffer = '';
  #pending: Pending | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #unsubscribe: Array<() => void> = [];

  constructor(link: Link, port: string, logger: Logger) {
    this.#link = link;
    this.#port = port;
    this.#logger = logger;
    this.#unsubscribe.push(link.onData((chunk) => this.#onData(chunk)));
    this.#unsubscribe.push(
      link.onClose((error) => {
        const p = this.#pending;
        if (!p) return;
        this.#pending = undefined;
        clearTimeout(p.timer);
        p.reject(
          new DoorstepError('EDGE_ERR_MODEM_PORT', {
            port: this.#port,
            reason: error?.message ?? 'port closed',
          }),
        );
      }),
    );
  }

  /** Stops listening; a command still waiting fails at once (the port is going away). */
  dispose(): void {
    for (const u of this.#unsubscribe) u();
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    clearTimeout(p.timer);
    p.reject(new DoorstepError('EDGE_ERR_MODEM_PORT', { port: this.#port, reason: 'port closed' }));
  }

  /** Sends `command` and resolves with its reply, whatever the final result (callers judge OK/ERROR). */
  command(command: string, timeoutMs: number): Promise<AtReply> {
    return this.#serial(() => this.#run(command, timeoutMs));
  }

  /**
   * AT+CMGS=<length>, then after the `> ` prompt the PDU (hex) and Ctrl-Z (0x1A), as 3GPP TS 27.005
   * §3.5.1 PDU mode prescribes. A prompt that never comes aborts with ESC (0x1B), so the modem is
   * not left waiting for PDU octets that would swallow the next command.
   */
  submit(tpduOctets: number, hex: string, promptTimeoutMs: number, sendTimeoutMs: number): Promise<AtReply> {
    return this.#serial(async () => {
      const command = `AT+CMGS=${tpduOctets}`;
      let prompted = false;
      const reply = this.#run(command, promptTimeoutMs, () => {
        prompted = true;
        const p = this.#pending;
        if (p) {
          // The submission itself may wait for the network: a longer timeout from here on.
          clearTimeout(p.timer);
          p.timer = this.#timeout(command, sendTimeoutMs);
        }
        void this.#link.write(Buffer.from(`${hex}\x1a`, 'ascii')).catch(() => undefined);
      });
      try {
        return await reply;
      } catch (error) {
        if (!prompted) await this.#link.write(Buffer.from([0x1b])).catch(() => undefined);
        throw error;
      }
    });
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #timeout(command: string, timeoutMs: number): NodeJS.Timeout {
    return setTimeout(() => {
      const p = this.#pending;
      if (!p) return;
      this.#pending = undefined;
      p.reject(new DoorstepError('EDGE_ERR_MODEM_TIMEOUT', { port: this.#port, command, timeoutMs }));
    }, timeoutMs);
  }

  #run(command: string, timeoutMs: number, prompt?: () => void): Promise<AtReply> {
    return new Promise<AtReply>((resolve, reject) => {
      // Whatever is left from before (a late answer to a timed-out command) is not this reply.
      this.#buffer = '';
      this.#pending = {
        command,
        lines: [],
        ...(prompt ? { prompt } : {}),
        resolve,
        reject,
        timer: this.#timeout(command, timeoutMs),
      };
      // Never a SIM PIN in a log, even at trace level.
      this.#logger.trace({ at: command.replace(/^AT\+CPIN=.*/i, 'AT+CPIN=<pin>') }, 'modem ←');
      this.#link.write(Buffer.from(`${command}\r`, 'ascii')).catch((error: Error) => {
        const p = this.#pending;
        if (!p) return;
        this.#pending = undefined;
        clearTimeout(p.timer);
        p.reject(new DoorstepError('EDGE_ERR_MODEM_PORT', { port: this.#port, reason: error.message }));
      });
    });
  }

  #onData(chunk: Buffer): void {
    this.#buffer += chunk.toString('latin1');
    for (;;) {
      const p = this.#pending;
      // The prompt is `> ` with no line end (TS 27.005 §3.5.1), after an optional CR LF.
      if (p?.prompt && /^[\r\n]*> ?/.test(this.#buffer)) {
        this.#buffer = this.#buffer.replace(/^[\r\n]*> ?/, '');
        const go = p.prompt;
        delete p.prompt;
        go();
        continue;
      }
      const end = this.#buffer.search(/[\r\n]/);
      if (end < 0) return;
      const line = this.#buffer.slice(0, end).trim();
      this.#buffer = this.#buffer.slice(end + 1);
      if (line) this.#line(line);
    }
  }

  #line(line: string): void {
    const p = this.#pending;
    this.#logger.trace({ at: line }, 'modem →');
    if (!p) {
      this.#logger.debug({ urc: line }, 'modem said something unasked');
      return;
    }
    // Before ATE0 the modem echoes the command line (V.250 §6.2.4).
    if (line === p.command) return;
    if (FINAL.test(line)) {
      this.#pending = undefined;
      clearTimeout(p.timer);
      p.resolve({ lines: p.lines, final: line });
      return;
    }
    p.lines.push(line);
  }
}
