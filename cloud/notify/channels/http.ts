import type { SendOutcome } from './channel.js';
/**
 * One JSON POST with the attempt's abort signal. Node's fetch (undici) is used rather than axios:
 * it ignores HTTP(S)_PROXY variables (a robot URL never leaves through a proxy nobody configured)
 * and the signal covers the connection, the headers and the body alike.
 */
export interface HttpAnswer {
  status: number;
  text: string;
}

/** Robots answer with a small JSON; anything bigger is read only this far. */
const MAX_ANSWER_BYTES = 64 * 1024;

export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body,
    signal,
    redirect: 'error',
  });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: buf.subarray(0, MAX_ANSWER_BYTES).toString('utf8') };
}

/** Why fetch failed, in words: the abort reason, or the network error under "fetch failed". */
export function describeError(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const reason = signal.reason;
    return reason instanceof Error ? reason.message : String(reason ?? 'aborted');
  }
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${(cause as { code?: string }).code ?? cause.message}` : '';
    return `${error.message}${detail}`;
  }
  return String(error);
}

/** Parses the `{errcode, errmsg}` answer of WeCom and DingTalk robots. */
export function parseErrcode(text: string): { errcode?: number; errmsg?: string } {
  try {
    const json = JSON.parse(text) as { errcode?: unknown; errmsg?: unknown };
    return {
      ...(typeof json.errcode === 'number' ? { errcode: json.errcode } : {}),
      ...(typeof json.errmsg === 'string' ? { errmsg: json.errmsg } : {}),
    };
  } catch {
    return {};
  }
}

/** 5xx, 408 and 429 may pass on a later try; other 4xx are configuration errors. */
export function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * Posts to a chat robot (WeCom, DingTalk) and reads its answer: both answer HTTP 200 with
 * `{errcode, errmsg}`, and only errcode 0 means delivered; `retryable` lists the errcodes worth
 * another attempt (rate limits, system busy).
 */
export async function postToRobot(
  url: string,
  body: string,
  signal: AbortSignal,
  retryable: ReadonlySet<number>,
): Promise<SendOutcome> {
  const answer = await postJson(url, body, {}, signal);
  if (answer.status !== 200)
    return {
      ok: false,
      httpStatus: answer.status,
      error: `HTTP ${answer.status}`,
      retryable: retryableStatus(answer.status),
    };
  const { errcode, errmsg } = parseErrcode(answer.text);
  if (errcode === 0) return { ok: true, httpStatus: 200, errcode: 0, retryable: false };
  return {
    ok: false,
    httpStatus: 200,
    ...(errcode !== undefined ? { errcode } : {}),
    error:
      errcode === undefined
        ? 'answer without errcode'
        : `errcode ${errcode}${errmsg ? `: ${errmsg.slice(0, 200)}` : ''}`,
    retryable: errcode === undefined || retryable.has(errcode),
  };
}
