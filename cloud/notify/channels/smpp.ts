/**
 * SMS through an operator's SMS centre (SMSC) over SMPP 3.4 — the carriers' own protocol, for
 * districts with a direct line to China Mobile / Unicom / Telecom. One transmitter session
 * (bind_transmitter, SMPP 3.4 §4.1.1, interface_version 0x34) is opened on first use and kept:
 *
 * - keep-alive: enquire_link every `enquireLinkMs` (§4.11); one left unanswered for a whole
 *   interval means a dead link: the session is dropped and bound again;
 * - reconnect: after a lost session (or a refused bind) a new bind `reconnectMs` later, and at
 *   once when a message is waiting; the SMSC's own enquire_link and unbind are answered (§4.11, §4.2);
 * - text: UCS-2 (data_coding 8, §5.2.19) — the Chinese of every message — 70 characters in one
 *   submit_sm; longer texts are split into parts of 67 with a concatenation UDH
 *   `05 00 03 ref total seq` (esm_class 0x40, GSM 03.40 §9.2.3.24.1), or sent whole in one
 *   `message_payload` TLV (§5.3.2.32), as `longMessages` says; at most `maxParts` parts (the
 *   text is shortened to fit, the acknowledge link kept);
 * - outcome: delivered when every part's submit_sm_resp has command_status 0 (ESME_ROK); other
 *   statuses (§5.1.3) are mapped to failure kinds: 0x58 throttled / 0x14 queue full → throttled
 *   (retried), 0x0B invalid destination → bad number, 0x0A invalid source → sender refused
 *   (template), bind refusals 0x0D–0x0F → credentials, 0x08 / 0x45 → provider (retried).
 *
 * A retry sends every part again (an SMSC has no idempotency key): a phone may show a part twice
 * after a lost answer — better than silence at 3 a.m.
 */
import { randomInt } from 'node:crypto';
import smpp, { type Pdu, type Session } from 'smpp';
import type { NotifyConfig } from '../../config/schema.js';
import { maskPhone } from '../phone.js';
import { compactText } from '../short-text.js';
import type { AddressOf, Channel, SendContext, SendOutcome } from './channel.js';
import { type FailureKind, providerFailure } from './provider.js';

export type SmppConfig = NonNullable<NotifyConfig['smpp']>;

/** Characters (UTF-16 code units) per UCS-2 message: 140 octets; 134 after a 6-octet UDH. */
export const UCS2_SINGLE = 70;
export const UCS2_PART = 67;

/** How long a bind may take before the session is dropped and tried again. */
const BIND_TIMEOUT_MS = 10_000;

const STATUS = new Map<number, { kind: FailureKind; retryable?: boolean; name: string }>([
  [0x08, { kind: 'provider', name: 'ESME_RSYSERR' }],
  [0x0a, { kind: 'template', name: 'ESME_RINVSRCADR' }],
  [0x0b, { kind: 'bad_number', name: 'ESME_RINVDSTADR' }],
  [0x0d, { kind: 'auth', name: 'ESME_RBINDFAIL' }],
  [0x0e, { kind: 'auth', name: 'ESME_RINVPASWD' }],
  [0x0f, { kind: 'auth', name: 'ESME_RINVSYSID' }],
  [0x14, { kind: 'throttled', name: 'ESME_RMSGQFUL' }],
  [0x45, { kind: 'provider', name: 'ESME_RSUBMITFAIL' }],
  [0x58, { kind: 'throttled', name: 'ESME_RTHROTTLED' }],
]);

export function smppStatusKind(status: number): { kind: FailureKind; retryable?: boolean; name: string } {
  return (
    STATUS.get(status) ?? {
      kind: 'provider',
      retryable: false,
      name: `0x${status.toString(16).padStart(4, '0')}`,
    }
  );
}

/** The text split for UCS-2: one part, or parts of 67 code units that never split a surrogate pair. */
export function ucs2Parts(text: string): string[] {
  if (text.length <= UCS2_SINGLE) return [text];
  const parts: string[] = [];
  for (let i = 0; i < text.length; ) {
    let end = Math.min(text.length, i + UCS2_PART);
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--;
    parts.push(text.slice(i, end));
    i = end;
  }
  return parts;
}

export function ucs2(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  return le.swap16();
}

class BindError extends Error {
  constructor(readonly status: number) {
    super(`bind refused: ${smppStatusKind(status).name}`);
  }
}

interface Bound {
  session: Session;
  /** Rejects every submit waiting on this session when it goes. */
  pending: Set<(error: Error) => void>;
}

export class SmppChannel implements Channel<'smpp'> {
  readonly kind = 'smpp' as const;
  readonly #config: SmppConfig;
  #bound: Bound | undefined;
  #binding: Promise<Bound> | undefined;
  #reconnect: ReturnType<typeof setTimeout> | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Sessions bound so far (the tests watch reconnects). */
  binds = 0;

  constructor(config: SmppConfig) {
    this.#config = config;
  }

  async send(address: AddressOf<'smpp'>, ctx: SendContext): Promise<SendOutcome> {
    const target = this.redact(address);
    const c = this.#config;
    let bound: Bound;
    try {
      bound = await abortable(this.#ready(), ctx.signal);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      if (error instanceof BindError) {
        const s = smppStatusKind(error.status);
        return providerFailure(
          s.kind,
          { channel: 'smpp', target, code: s.name, reason: error.message },
          {
            errcode: error.status,
            ...(s.retryable !== undefined ? { retryable: s.retryable } : {}),
          },
        );
      }
      return providerFailure('provider', {
        channel: 'smpp',
        target,
        code: 'connect',
        reason: (error as Error).message,
      });
    }
    // One part holds 70 characters; once split, each holds 67 (the UDH takes 6 octets).
    const max = c.maxParts === 1 ? UCS2_SINGLE : c.maxParts * UCS2_PART;
    const text = compactText(ctx.message, max, 'utf16');
    const base = {
      service_type: '',
      // Digits: an access code (106…), type unknown; letters: alphanumeric (§5.2.5 TON 5).
      source_addr_ton: /^\d+$/.test(c.sourceAddr) ? 0 : 5,
      source_addr_npi: /^\d+$/.test(c.sourceAddr) ? 1 : 0,
      source_addr: c.sourceAddr,
      // International number, E.164 plan (§5.2.5, §5.2.6), without the "+".
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: address.phone.replace(/^\+/, ''),
      registered_delivery: 0,
      data_coding: 8,
    };
    const pdus: Record<string, unknown>[] = [];
    const parts = ucs2Parts(text);
    if (parts.length === 1) pdus.push({ ...base, esm_class: 0, short_message: ucs2(text) });
    else if (c.longMessages === 'payload')
      pdus.push({ ...base, esm_class: 0, short_message: Buffer.alloc(0), message_payload: ucs2(text) });
    else {
      const ref = randomInt(0, 256);
      parts.forEach((part, i) => {
        const udh = Buffer.from([0x05, 0x00, 0x03, ref, parts.length, i + 1]);
        pdus.push({ ...base, esm_class: 0x40, short_message: Buffer.concat([udh, ucs2(part)]) });
      });
    }
    for (const pdu of pdus) {
      const resp = await abortable(this.#submit(bound, pdu), ctx.signal).catch((error: Error) => {
        if (ctx.signal.aborted) throw error;
        return error;
      });
      if (resp instanceof Error)
        return providerFailure('provider', {
          channel: 'smpp',
          target,
          code: 'session',
          reason: resp.message,
        });
      if (resp.command_status !== 0) {
        const s = smppStatusKind(resp.command_status);
        return providerFailure(
          s.kind,
          { channel: 'smpp', target, code: s.name, reason: `submit_sm_resp ${s.name}` },
          { errcode: resp.command_status, ...(s.retryable !== undefined ? { retryable: s.retryable } : {}) },
        );
      }
    }
    return { ok: true, errcode: 0, retryable: false };
  }

  redact(address: AddressOf<'smpp'>): string {
    return `smpp:${maskPhone(address.phone)}`;
  }

  secrets(): string[] {
    return this.#config.password.length >= 4 ? [this.#config.password] : [];
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    clearInterval(this.#keepAlive);
    const bound = this.#bound ?? (await this.#binding?.catch(() => undefined));
    this.#bound = undefined;
    if (!bound) return;
    // A polite unbind (§4.2), then the socket goes whatever the answer.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1_000);
      const sent = bound.session.unbind({}, () => {
        clearTimeout(timer);
        resolve();
      });
      if (!sent) {
        clearTimeout(timer);
        resolve();
      }
    });
    await new Promise<void>((resolve) => bound.session.destroy(() => resolve()));
  }

  #submit(bound: Bound, params: Record<string, unknown>): Promise<Pdu> {
    return new Promise<Pdu>((resolve, reject) => {
      const fail = (error: Error) => reject(error);
      bound.pending.add(fail);
      const sent = bound.session.submit_sm(params, (pdu) => {
        bound.pending.delete(fail);
        resolve(pdu);
      });
      if (!sent) {
        bound.pending.delete(fail);
        reject(new Error('SMPP session is not writable'));
      }
    });
  }

  #ready(): Promise<Bound> {
    if (this.#closed) return Promise.reject(new Error('SMPP channel closed'));
    if (this.#bound) return Promise.resolve(this.#bound);
    if (!this.#binding) {
      clearTimeout(this.#reconnect);
      this.#binding = this.#bind().finally(() => {
        this.#binding = undefined;
      });
    }
    return this.#binding;
  }

  #bind(): Promise<Bound> {
    const c = this.#config;
    return new Promise<Bound>((resolve, reject) => {
      const session = smpp.connect({ url: c.url });
      const bound: Bound = { session, pending: new Set() };
      let settled = false;
      const timer = setTimeout(() => {
        settle(new Error(`no bind answer within ${BIND_TIMEOUT_MS} ms`));
        session.destroy();
      }, BIND_TIMEOUT_MS);
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(bound);
      };
      session.on('error', (error: Error) => settle(error));
      session.on('close', () => {
        settle(new Error('SMSC closed the connection'));
        for (const fail of bound.pending) fail(new Error('SMPP session closed'));
        bound.pending.clear();
        if (this.#bound === bound) {
          this.#bound = undefined;
          clearInterval(this.#keepAlive);
        }
        this.#scheduleReconnect();
      });
      // The SMSC's own keep-alive and unbind are answered (§4.11, §4.2).
      session.on('enquire_link', (pdu: Pdu) => {
        session.send(pdu.response());
      });
      session.on('unbind', (pdu: Pdu) => {
        session.send(pdu.response());
        session.close();
      });
      session.on('connect', () => {
        session.bind_transmitter(
          {
            system_id: c.systemId,
            password: c.password,
            system_type: c.systemType,
            interface_version: 0x34,
          },
          (pdu) => {
            if (pdu.command_status !== 0) {
              settle(new BindError(pdu.command_status));
              session.close();
              return;
            }
            this.binds++;
            if (this.#closed) {
              settle(new Error('SMPP channel closed'));
              session.destroy();
              return;
            }
            this.#bound = bound;
            this.#startKeepAlive(bound);
            settle();
          },
        );
      });
    });
  }

  #startKeepAlive(bound: Bound): void {
    clearInterval(this.#keepAlive);
    let unanswered = false;
    this.#keepAlive = setInterval(() => {
      if (unanswered) {
        // A whole interval without enquire_link_resp: the link is dead even if TCP says not.
        bound.session.destroy();
        return;
      }
      unanswered = true;
      bound.session.enquire_link({}, () => {
        unanswered = false;
      });
    }, this.#config.enquireLinkMs);
    this.#keepAlive.unref?.();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnect || this.#binding) return;
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      if (this.#closed || this.#bound || this.#binding) return;
      this.#ready().catch(() => {
        // Logged by the next send that needs it; the close handler schedules the next try.
      });
    }, this.#config.reconnectMs);
    this.#reconnect.unref?.();
  }
}

/** The promise, or the signal's reason once it aborts (the work itself goes on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
