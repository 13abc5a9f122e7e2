/**
 * Test support for cloud/notify: fixtures, HTTP receivers on 127.0.0.1:0, a local SMTP sink
 * (smtp-server) with a small MIME decoder, and timers the test fires by hand.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { AlarmCase, NotificationRequest, Recipient } from '../../../cloud/alarms/contract.js';
import type { Timers } from '../../../cloud/notify/channels/channel.js';

export const T0 = Date.UTC(2024, 4, 1, 19, 12, 9); // 2024-05-02 03:12:09 in Shanghai

export function alarmCase(overrides: Partial<AlarmCase> = {}): AlarmCase {
  return {
    id: 'case-1',
    gateway: 'gw-100',
    site: { district: 'pudong', town: 'zhangjiang', community: 'lane-100' },
    device: 'gas-3',
    location: '3号楼2单元 厨房',
    type: 'gas_high',
    severity: 'critical',
    test: false,
    latched: true,
    dedupKey: 'gw-100/gas-3/gas_high',
    occurrence: 2,
    condition: 'active',
    acked: false,
    suppressed: false,
    stage: 'remind',
    raisedAt: T0,
    updatedAt: T0,
    value: 52.5,
    ...overrides,
  };
}

export function request(overrides: Partial<NotificationRequest> = {}): NotificationRequest {
  return {
    id: 'req-1',
    stage: 'remind',
    cases: [alarmCase()],
    recipients: [],
    reason: { zh: '未在3分钟内确认', en: 'not acknowledged within 3 min' },
    links: { view: '/cases/case-1', ack: '/cases/case-1/ack', feedback: '/cases/case-1/feedback' },
    ...overrides,
  };
}

export function recipient(channels: Recipient['channels'], overrides: Partial<Recipient> = {}): Recipient {
  return { id: 'u-wang', name: '王值班', lang: 'zh', channels, ...overrides };
}

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  json(): unknown;
}

export type Reply = { status: number; body?: unknown } | 'hang';

export interface Receiver {
  url: string;
  requests: Received[];
  /** Resolves once `n` requests arrived. */
  waitFor(n: number): Promise<void>;
  close(): Promise<void>;
}

/** An HTTP receiver on 127.0.0.1:0 answering each request with `reply(request, index)`. */
export async function startReceiver(reply: (r: Received, index: number) => Reply): Promise<Receiver> {
  const requests: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        json: () => JSON.parse(body.toString('utf8')),
      };
      requests.push(r);
      const answer = reply(r, requests.length - 1);
      if (answer === 'hang') hanging.push(res);
      else {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      }
      for (const w of waiters.filter((w) => requests.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    waitFor: (n) =>
      requests.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Timers under the test's control. Delays for which `auto(ms)` is true (backoff) fire on the next
 * turn of the event loop; the others (attempt timeouts) wait for `fire(ms)`. Every delay is logged.
 */
export class TestTimers implements Timers {
  readonly delays: number[] = [];
  readonly #pending = new Map<number, { fn: () => void; ms: number }>();
  #next = 0;
  constructor(readonly auto: (ms: number) => boolean) {}
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#next;
    this.delays.push(ms);
    this.#pending.set(id, { fn, ms });
    if (this.auto(ms))
      setImmediate(() => {
        if (this.#pending.delete(id)) fn();
      });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }
  /** Fires the pending timers of `ms`; returns how many fired. */
  fire(ms: number): number {
    let n = 0;
    for (const [id, t] of [...this.#pending]) {
      if (t.ms !== ms) continue;
      this.#pending.delete(id);
      t.fn();
      n++;
    }
    return n;
  }
}

export interface Mail {
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpSink {
  port: number;
  mails: Mail[];
  auths: { user: string; pass: string }[];
  close(): Promise<void>;
}

/** A real SMTP server on 127.0.0.1:0 (smtp-server), plain text, AUTH PLAIN/LOGIN accepted. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: Mail[] = [];
  const auths: { user: string; pass: string }[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: true,
    logger: false,
    onAuth(auth, _session, cb) {
      auths.push({ user: auth.username ?? '', pass: auth.password ?? '' });
      cb(null, { user: auth.username });
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return { port, mails, auths, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function decodeQp(text: string): Buffer {
  const soft = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    const ch = soft[i]!;
    if (ch === '=' && /^[0-9A-F]{2}$/i.test(soft.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(bytes);
}

/** A header of a raw message, unfolded, with RFC 2047 encoded words decoded. */
export function mailHeader(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  if (!line) return undefined;
  return line
    .slice(name.length + 1)
    .trim()
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([BQ])\?([^?]*)\?=/gi, (_, enc: string, data: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64').toString('utf8')
        : decodeQp(data.replace(/_/g, ' ')).toString('utf8'),
    );
}

/** The decoded body of the first MIME part of `type` (text/plain, text/html). */
export function mailPart(raw: string, type: string): string | undefined {
  const parts = raw.split(/\r?\n--[^\r\n]+/);
  for (const part of parts) {
    const [head = '', ...rest] = part.split(/\r?\n\r?\n/);
    if (!new RegExp(`content-type:\\s*${type}`, 'i').test(head)) continue;
    const body = rest.join('\n\n');
    const enc = /content-transfer-encoding:\s*(\S+)/i.exec(head)?.[1]?.toLowerCase();
    if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (enc === 'quoted-printable') return decodeQp(body).toString('utf8');
    return body;
  }
  return undefined;
}
