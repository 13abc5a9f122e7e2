/**
 * One interface for every way of reaching a person. A channel sends one message to one address
 * once (no retries: the notifier owns retries, backoff and the record of every attempt) and says
 * precisely what happened, so a failure at 3 a.m. is never silent.
 */
import type { ChannelAddress, NotificationRequest, Recipient } from '../../alarms/contract.js';
import type { Message } from '../message.js';

export type ChannelKind = ChannelAddress['kind'];
export type AddressOf<K extends ChannelKind> = Extract<ChannelAddress, { kind: K }>;

/** Injectable timers (tests drive timeouts and backoff without waiting on the wall clock). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface SendContext {
  request: NotificationRequest;
  recipient: Recipient;
  message: Message;
  /** Aborted when the attempt's timeout expires. */
  signal: AbortSignal;
  /** Cloud clock, ms (signatures carry it). */
  now: number;
}

export interface SendOutcome {
  ok: boolean;
  /** HTTP status of the answer, when there was one. */
  httpStatus?: number;
  /** The vendor's `errcode` (WeCom, DingTalk), when the answer carried one. */
  errcode?: number;
  error?: string;
  /** False when trying again cannot help (bad URL, signature refused, content rejected). */
  retryable: boolean;
}

export interface Channel<K extends ChannelKind = ChannelKind> {
  readonly kind: K;
  send(address: AddressOf<K>, context: SendContext): Promise<SendOutcome>;
  /** The address as it may be stored and logged: secrets (keys, tokens, HMAC secrets) removed. */
  redact(address: AddressOf<K>): string;
  /** Strings that must never appear in a stored error text for this address. */
  secrets(address: AddressOf<K>): string[];
  close?(): Promise<void>;
}

/** Keeps the last 4 characters so operators can tell robots apart; hides the rest. */
export function mask(secret: string): string {
  return secret.length <= 8 ? '***' : `***${secret.slice(-4)}`;
}

/** A URL with its user-info dropped and every query value masked. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    for (const key of [...url.searchParams.keys()])
      url.searchParams.set(key, mask(url.searchParams.get(key) ?? ''));
    return decodeURIComponent(url.toString());
  } catch {
    return '[unparseable url]';
  }
}

/** Query values and user-info of a URL: the parts that carry robot keys and tokens. */
export function urlSecrets(raw: string): string[] {
  try {
    const url = new URL(raw);
    return [...url.searchParams.values(), url.username, url.password].filter((s) => s.length >= 4);
  } catch {
    return [raw];
  }
}

/** Replaces every secret in an error text (fetch errors may echo the URL). */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}
