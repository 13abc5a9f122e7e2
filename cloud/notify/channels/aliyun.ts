/**
 * Aliyun (阿里云) SMS and voice over the RPC-style OpenAPI, signed as documented in "签名机制"
 * (help.aliyun.com/document_detail/28839, signature version 1.0; the same recipe as the official
 * SDK @alicloud/pop-core lib/rpc.js):
 *
 *   params    = common {AccessKeyId, Action, Format=JSON, RegionId, SignatureMethod=HMAC-SHA1,
 *               SignatureNonce (unique), SignatureVersion=1.0, Timestamp=YYYY-MM-DDThh:mm:ssZ (UTC),
 *               Version} + the API's own parameters
 *   encode(s) = UTF-8 percent-encoding keeping only A–Z a–z 0–9 - _ . ~ (RFC 3986 unreserved);
 *               a space is %20, never "+"
 *   canonical = sorted by name: encode(name)=encode(value) joined with "&"
 *   toSign    = METHOD + "&" + encode("/") + "&" + encode(canonical)
 *   Signature = Base64(HMAC-SHA1(key = AccessKeySecret + "&", toSign))
 *
 * The request is a POST of the pairs (Signature added) as an x-www-form-urlencoded body.
 * - SMS: Dysmsapi 2017-05-25 `SendSms` (PhoneNumbers, SignName, TemplateCode, TemplateParam as a
 *   JSON object of strings, OutId); delivered only on `"Code": "OK"`.
 * - Voice: Dyvmsapi 2017-05-25 `SingleCallByTts` (CalledNumber, CalledShowNumber, TtsCode,
 *   TtsParam, PlayTimes, OutId); `"Code": "OK"` means the call was placed (answered or not is
 *   reported later by the VoiceReport push, which doorstep does not take yet).
 * Errors come as `{Code, Message, RequestId}`: business refusals with HTTP 200, signature and
 * credential refusals with HTTP 4xx.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { NotifyConfig } from '../../config/schema.js';
import { isMainland, maskPhone, nationalNumber } from '../phone.js';
import { type TemplateKey, templateValues } from '../short-text.js';
import type { AddressOf, Channel, SendContext, SendOutcome } from './channel.js';
import { retryableStatus } from './http.js';
import { type FailureKind, providerFailure } from './provider.js';

export type AliyunSmsConfig = Extract<NonNullable<NotifyConfig['sms']>, { provider: 'aliyun' }>;
export type AliyunVoiceConfig = NonNullable<NotifyConfig['voice']>;

/** RFC 3986 percent-encoding as the signature recipe wants it (encodeURIComponent leaves !'()*). */
export function aliyunEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function aliyunStringToSign(method: string, params: Record<string, string>): string {
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${aliyunEncode(k)}=${aliyunEncode(params[k] ?? '')}`)
    .join('&');
  return `${method}&${aliyunEncode('/')}&${aliyunEncode(canonical)}`;
}

export function aliyunSignature(secret: string, method: string, params: Record<string, string>): string {
  return createHmac('sha1', `${secret}&`).update(aliyunStringToSign(method, params)).digest('base64');
}

/** ISO 8601 in UTC without fractions, as the common parameter `Timestamp` wants it. */
export function aliyunTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface AliyunCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  regionId: string;
}

/** Every parameter of a signed RPC request, `Signature` included. */
export function aliyunSignedParams(
  credentials: AliyunCredentials,
  action: string,
  version: string,
  api: Record<string, string>,
  now: number,
  nonce: string = randomUUID(),
): Record<string, string> {
  const params: Record<string, string> = {
    AccessKeyId: credentials.accessKeyId,
    Action: action,
    Format: 'JSON',
    RegionId: credentials.regionId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureNonce: nonce,
    SignatureVersion: '1.0',
    Timestamp: aliyunTimestamp(now),
    Version: version,
    ...api,
  };
  return { ...params, Signature: aliyunSignature(credentials.accessKeySecret, 'POST', params) };
}

/**
 * Aliyun's codes by what they mean for us (the Dysmsapi/Dyvmsapi error code tables and the
 * OpenAPI common errors). Unknown codes are provider failures, not retried: an unexpected
 * refusal repeats itself, and the fallback takes over.
 */
export function aliyunFailureKind(code: string): { kind: FailureKind; retryable?: boolean } {
  if (/^(SignatureDoesNotMatch|IncompleteSignature|InvalidAccessKeyId|Forbidden|InvalidTimeStamp)/.test(code))
    return { kind: 'auth' };
  if (/^isv\.(ACCOUNT_NOT_EXISTS|ACCOUNT_ABNORMAL|DENY_IP_RANGE|RAM_PERMISSION_DENY)/.test(code))
    return { kind: 'auth' };
  // A reused nonce: the next attempt has a new one.
  if (code === 'SignatureNonceUsed') return { kind: 'provider', retryable: true };
  if (/LIMIT_CONTROL$|^Throttling/.test(code)) return { kind: 'throttled' };
  if (/^isv\.(MOBILE_NUMBER_ILLEGAL|MOBILE_COUNT_OVER_LIMIT|CALLEDNUMBER_ILLEGAL|PHONENUMBER)/.test(code))
    return { kind: 'bad_number' };
  if (
    /^isv\.(SMS_TEMPLATE_ILLEGAL|SMS_SIGNATURE_ILLEGAL|SMS_SIGN_ILLEGAL|TEMPLATE_MISSING_PARAMETERS|INVALID_JSON_PARAM|PARAM_LENGTH_LIMIT|INVALID_PARAMETERS|BLACK_KEY_CONTROL_LIMIT|TTS_TEMPLATE_ILLEGAL|DISPLAY_NUMBER_ILLEGAL|PARAM_NOT_SUPPORT_URL)/.test(
      code,
    )
  )
    return { kind: 'template' };
  if (/^(isp\.|ServiceUnavailable|InternalError)/.test(code)) return { kind: 'provider' };
  return { kind: 'provider', retryable: false };
}

/** Cuts each value to `max` characters (templates limit a variable's length) — never mid-character. */
function templateParam(keys: readonly TemplateKey[], ctx: SendContext, max: number): string {
  const values = templateValues(ctx.message);
  const out: Record<string, string> = {};
  for (const k of keys) {
    const chars = [...values[k]];
    out[k] = chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : values[k];
  }
  return JSON.stringify(out);
}

/** POSTs a signed RPC request and reads `{Code, Message}`; ok only on `Code: "OK"`. */
async function callAliyun(
  channel: 'sms' | 'voice',
  endpoint: string,
  credentials: AliyunCredentials,
  action: string,
  api: Record<string, string>,
  target: string,
  ctx: SendContext,
): Promise<SendOutcome> {
  const params = aliyunSignedParams(credentials, action, '2017-05-25', api, ctx.now);
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      accept: 'application/json',
    },
    body: Object.entries(params)
      .map(([k, v]) => `${aliyunEncode(k)}=${aliyunEncode(v)}`)
      .join('&'),
    signal: ctx.signal,
    redirect: 'error',
  });
  const text = (await res.text()).slice(0, 64 * 1024);
  let json: { Code?: unknown; Message?: unknown } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // A proxy's HTML error page, say: judged by the HTTP status below.
  }
  const code = typeof json.Code === 'string' ? json.Code : undefined;
  if (res.status === 200 && code === 'OK') return { ok: true, httpStatus: 200, retryable: false };
  const reason = typeof json.Message === 'string' ? json.Message : `HTTP ${res.status}`;
  if (code === undefined)
    return providerFailure(
      'provider',
      { channel, target, code: `HTTP ${res.status}`, reason: text.slice(0, 200) || reason },
      { httpStatus: res.status, retryable: retryableStatus(res.status) },
    );
  const { kind, retryable } = aliyunFailureKind(code);
  return providerFailure(
    kind,
    { channel, target, code, reason },
    { httpStatus: res.status, ...(retryable !== undefined ? { retryable } : {}) },
  );
}

export class AliyunSmsChannel implements Channel<'sms'> {
  readonly kind = 'sms' as const;
  constructor(private readonly config: AliyunSmsConfig) {}

  async send(address: AddressOf<'sms'>, ctx: SendContext): Promise<SendOutcome> {
    const c = this.config;
    return callAliyun(
      'sms',
      c.endpoint,
      c,
      'SendSms',
      {
        // Mainland numbers as 11 digits; others with their country code, no "+" (SendSms docs).
        PhoneNumbers: nationalNumber(address.phone),
        SignName: c.signName,
        TemplateCode: c.templateCode,
        TemplateParam: templateParam(c.params, ctx, c.maxParamChars),
        // Echoed in the delivery report (SmsReport): which notification this was.
        OutId: ctx.request.id.slice(0, 64),
      },
      this.redact(address),
      ctx,
    );
  }

  redact(address: AddressOf<'sms'>): string {
    return `sms:${maskPhone(address.phone)}`;
  }

  secrets(): string[] {
    return [this.config.accessKeySecret];
  }
}

export class AliyunVoiceChannel implements Channel<'voice'> {
  readonly kind = 'voice' as const;
  constructor(private readonly config: AliyunVoiceConfig) {}

  async send(address: AddressOf<'voice'>, ctx: SendContext): Promise<SendOutcome> {
    const c = this.config;
    if (!isMainland(address.phone))
      // Dyvmsapi calls mainland numbers only: say so instead of spending a request.
      return providerFailure('bad_number', {
        channel: 'voice',
        target: this.redact(address),
        code: 'local',
        reason: 'voice calls reach mainland numbers only',
      });
    return callAliyun(
      'voice',
      c.endpoint,
      c,
      'SingleCallByTts',
      {
        CalledNumber: nationalNumber(address.phone),
        ...(c.calledShowNumber ? { CalledShowNumber: c.calledShowNumber } : {}),
        TtsCode: c.ttsCode,
        TtsParam: templateParam(c.params, ctx, c.maxParamChars),
        PlayTimes: String(c.playTimes),
        OutId: ctx.request.id.slice(0, 64),
      },
      this.redact(address),
      ctx,
    );
  }

  redact(address: AddressOf<'voice'>): string {
    return `voice:${maskPhone(address.phone)}`;
  }

  secrets(): string[] {
    return [this.config.accessKeySecret];
  }
}
