import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, isAxiosError } from 'axios';
import { parseRetryAfter } from '../../common/backoff.js';
import { ErrorBody, UplinkResponse } from '../../protocol/index.js';
import type { FailureReason, UplinkClock } from './types.js';

export type SendResult =
  | { ok: true; status: number; response: UplinkResponse; sentAt: number; receivedAt: number }
  | {
      ok: false;
      reason: FailureReason;
      status?: number;
      detail: string;
      error?: ErrorBody['error'];
      retryAfterMs?: number;
      sentAt: number;
      receivedAt: number;
    };

/**
 * One POST of one gzip batch to {baseUrl}/v1/sync, classified into what the uplink does next.
 * axios has no default timeout (docs/field-lessons.md, library pitfalls): every request carries an AbortSignal
 * that fires after `timeoutMs` of real time (a socket cannot hang on a virtual clock) or on stop().
 * Status handling follows the cloud contract: 200 → UplinkResponse; 400 malformed (never retry as
 * is); 401/403 auth (keep data); 413 too large (split); 429/5xx/network → retry later.
 */
export class SyncTransport {
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #clock: UplinkClock;
  readonly #httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  readonly #httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  readonly #axios: AxiosInstance;

  constructor(options: { baseUrl: string; timeoutMs: number; clock: UplinkClock }) {
    this.#url = `${options.baseUrl.replace(/\/+$/, '')}/v1/sync`;
    this.#timeoutMs = options.timeoutMs;
    this.#clock = options.clock;
    this.#axios = axios.create({
      httpAgent: this.#httpAgent,
      httpsAgent: this.#httpsAgent,
      // Environment proxies are not honoured implicitly: a gateway's route to its cloud is configuration.
      proxy: false,
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxContentLength: 16 * 1024 * 1024,
      maxBodyLength: Number.POSITIVE_INFINITY,
    });
  }

  get url(): string {
    return this.#url;
  }

  async post(body: Buffer, secret: string, stop: AbortSignal): Promise<SendResult> {
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const sentAt = this.#clock.now();
    try {
      const res = await this.#axios.post(this.#url, body, {
        headers: {
          'Content-Type': 'application/json',
          'Content-Encoding': 'gzip',
          Authorization: `Bearer ${secret}`,
        },
        signal: AbortSignal.any([stop, deadline]),
      });
      const receivedAt = this.#clock.now();
      const text = typeof res.data === 'string' ? res.data : '';
      const json = parseJson(text);
      if (res.status === 200) {
        const parsed = UplinkResponse.safeParse(json);
        if (parsed.success) return { ok: true, status: 200, response: parsed.data, sentAt, receivedAt };
        const issue = parsed.error.issues[0];
        return {
          ok: false,
          reason: 'bad_response',
          status: 200,
          detail: `response is not an UplinkResponse: ${issue?.path.join('.')}: ${issue?.message}`,
          sentAt,
          receivedAt,
        };
      }
      const error = ErrorBody.safeParse(json).data?.error;
      const detail = error ? `${error.code}: ${error.message}` : `HTTP ${res.status} ${text.slice(0, 200)}`;
      const failure = { ok: false as const, status: res.status, detail, sentAt, receivedAt };
      const withError = error ? { ...failure, error } : failure;
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], this.#clock.now());
      const retry = retryAfterMs === undefined ? {} : { retryAfterMs };
      if (res.status === 400) return { ...withError, reason: 'malformed' };
      if (res.status === 401 || res.status === 403) return { ...withError, reason: 'auth' };
      if (res.status === 413) return { ...withError, reason: 'too_large' };
      if (res.status === 429) return { ...withError, ...retry, reason: 'throttled' };
      if (res.status >= 500) return { ...withError, ...retry, reason: 'server' };
      // 404, 409, 415, 422 …: not the contract; keep the data and retry later, loudly.
      return { ...withError, reason: 'rejected' };
    } catch (error) {
      const receivedAt = this.#clock.now();
      const timedOut = deadline.aborted && !stop.aborted;
      const code = isAxiosError(error) ? error.code : (error as NodeJS.ErrnoException).code;
      return {
        ok: false,
        reason: timedOut ? 'timeout' : 'network',
        detail: timedOut
          ? `no response within ${this.#timeoutMs} ms`
          : `${code ?? ''} ${(error as Error).message}`.trim(),
        sentAt,
        receivedAt,
      };
    }
  }

  /** Closes kept-alive sockets. */
  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
