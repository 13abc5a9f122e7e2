/**
 * The duty inbox: a small HTTP server that receives the generic webhook (signature verified), keeps
 * the last N messages in memory and shows them — for the demo and for sites without WeCom or
 * DingTalk, where the duty room keeps this page open on a screen.
 *
 *   POST /webhook (or /)   signed notification (signature.ts) → 200 {ok: true} | 401 | 400 | 413
 *   GET  /                 HTML page, newest first, refreshes itself
 *   GET  /messages.json    {items: [...]} newest first
 *
 * A message already received (same request id and recipient — a sender's retry after a lost
 * answer) is answered 200 and not listed twice.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DoorstepError } from '../../protocol/index.js';
import type { WebhookPayload } from './message.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook } from './signature.js';

export interface DutyInboxOptions {
  /** Loopback by default; a wider bind is a deliberate configuration choice. */
  host?: string;
  /** 0 = any free port. */
  port: number;
  secret: string;
  /** Messages kept (oldest dropped first). */
  keep?: number;
  /** Accepted distance between the sender's timestamp and this clock, ms (replays outside are refused). */
  toleranceMs?: number;
  maxBodyBytes?: number;
  refreshSeconds?: number;
  clock?: () => number;
}

export interface InboxMessage {
  receivedAt: number;
  payload: WebhookPayload;
}

export type InboxListener = (message: InboxMessage) => void;

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch,
  );
}

function isPayload(v: unknown): v is WebhookPayload {
  const p = v as Partial<WebhookPayload> | null;
  return (
    !!p &&
    typeof p === 'object' &&
    p.type === 'doorstep.notification' &&
    typeof p.id === 'string' &&
    typeof p.title === 'string' &&
    typeof p.text === 'string' &&
    typeof p.recipient?.id === 'string' &&
    !!p.links &&
    Array.isArray(p.cases)
  );
}

export class DutyInbox {
  readonly #options: Required<Omit<DutyInboxOptions, 'clock'>>;
  readonly #clock: () => number;
  readonly #messages: InboxMessage[] = [];
  readonly #seen = new Set<string>();
  readonly #listeners = new Set<InboxListener>();
  #server: Server | undefined;
  #base = '';

  constructor(options: DutyInboxOptions) {
    this.#options = {
      host: options.host ?? '127.0.0.1',
      port: options.port,
      secret: options.secret,
      keep: options.keep ?? 200,
      toleranceMs: options.toleranceMs ?? 5 * 60_000,
      maxBodyBytes: options.maxBodyBytes ?? 256 * 1024,
      refreshSeconds: options.refreshSeconds ?? 5,
    };
    this.#clock = options.clock ?? Date.now;
  }

  /** Base URL once started (`http://127.0.0.1:PORT`). */
  get url(): string {
    return this.#base;
  }

  /** Where senders POST: give this URL, with the shared secret, as a `webhook` address. */
  get webhookUrl(): string {
    return `${this.#base}/webhook`;
  }

  /** Newest first. */
  messages(): InboxMessage[] {
    return [...this.#messages].reverse();
  }

  onMessage(listener: InboxListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(): Promise<string> {
    if (this.#server) return this.#base;
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => this.#json(res, 500, { error: { code: 'CLOUD_ERR_INTERNAL' } }));
    });
    const { host, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(
          new DoorstepError(
            'CLOUD_ERR_NOTIFY_INBOX',
            { host, port, reason: error.message },
            { cause: error },
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    this.#server = server;
    const address = server.address() as AddressInfo;
    this.#base = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    return this.#base;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  async #read(req: IncomingMessage): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.#options.maxBodyBytes) return undefined;
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://inbox').pathname;
    if (req.method === 'GET' && path === '/messages.json')
      return this.#json(res, 200, { items: this.messages() });
    if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(this.#page());
      return;
    }
    if (req.method === 'POST' && (path === '/' || path === '/webhook')) return this.#receive(req, res);
    this.#json(res, 404, { error: { code: 'CLOUD_ERR_NOT_FOUND', message: `${req.method} ${path}` } });
  }

  async #receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await this.#read(req);
    if (!body) {
      res.setHeader('connection', 'close');
      return this.#json(res, 413, { error: { code: 'CLOUD_ERR_TOO_LARGE', message: 'body too large' } });
    }
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const verdict = verifyWebhook(
      this.#options.secret,
      { timestamp: header(TIMESTAMP_HEADER), signature: header(SIGNATURE_HEADER) },
      body,
      this.#clock(),
      this.#options.toleranceMs,
    );
    if (!verdict.ok) {
      const err = new DoorstepError('CLOUD_ERR_NOTIFY_SIGNATURE', { reason: verdict.reason });
      return this.#json(res, 401, { error: { code: err.code, message: err.message } });
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return this.#json(res, 400, { error: { code: 'CLOUD_ERR_NOT_JSON', message: 'body is not JSON' } });
    }
    if (!isPayload(payload))
      return this.#json(res, 400, {
        error: { code: 'CLOUD_ERR_VALIDATION', message: 'not a doorstep.notification payload' },
      });
    const dedup = `${payload.id}\u0000${payload.recipient.id}`;
    if (!this.#seen.has(dedup)) {
      this.#seen.add(dedup);
      const message: InboxMessage = { receivedAt: this.#clock(), payload };
      this.#messages.push(message);
      while (this.#messages.length > this.#options.keep) {
        const dropped = this.#messages.shift();
        if (dropped) this.#seen.delete(`${dropped.payload.id}\u0000${dropped.payload.recipient.id}`);
      }
      for (const listener of this.#listeners) {
        try {
          listener(message);
        } catch {
          // A listener's bug must not turn a received message into a failed delivery.
        }
      }
    }
    this.#json(res, 200, { ok: true });
  }

  #page(): string {
    const items = this.messages().map(({ payload: p }) => {
      // Each case's own action link when the message carries them (cloud/phone), else the three.
      const perCase = p.cases.filter((c) => typeof c.link === 'string');
      const links = perCase.length
        ? perCase
            .map(
              (c, i) =>
                `<a href="${escapeHtml(c.link ?? '')}">处理 ${i + 1} · ${escapeHtml(c.typeLabel)}</a>`,
            )
            .join(' · ')
        : (['view', 'ack', 'feedback'] as const)
            .map((k) => `<a href="${escapeHtml(p.links[k])}">${k}</a>`)
            .join(' · ');
      return `<article class="${escapeHtml(p.severity)}"><h2>${escapeHtml(p.title)}</h2>
<p class="meta">${escapeHtml(p.recipient.name)} · ${escapeHtml(p.id)}</p>
<pre>${escapeHtml(p.text)}</pre><p>${links}</p></article>`;
    });
    return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${this.#options.refreshSeconds}">
<title>值班收件箱 · Duty inbox (${items.length})</title>
<style>body{font-family:sans-serif;margin:1em}article{border-left:6px solid #888;padding:.2em 1em;margin:1em 0}
.critical{border-color:#c00}.major{border-color:#e80}.minor{border-color:#cc0}pre{white-space:pre-wrap}.meta{color:#666}</style>
</head><body><h1>值班收件箱 · Duty inbox</h1>
${items.length ? items.join('\n') : '<p>暂无消息 · No messages yet</p>'}
</body></html>`;
  }
}
