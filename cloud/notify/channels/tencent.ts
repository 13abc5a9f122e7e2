/**
 * Tencent Cloud SMS (腾讯云短信) `SendSms` (cloud.tencent.com/document/api/382/55981), API version
 * 2021-01-11, signed with TC3-HMAC-SHA256 ("签名方法 v3", the recipe of the official SDK
 * tencentcloud-sdk-nodejs src/common/sign.ts):
 *
 *   canonical = "POST\n/\n\n" + "content-type:application/json; charset=utf-8\nhost:<host>\n\n"
 *               + "content-type;host\n" + hex(SHA256(body))
 *   toSign    = "TC3-HMAC-SHA256\n" + timestamp + "\n" + date + "/sms/tc3_request\n" + hex(SHA256(canonical))
 *   kDate = HMAC("TC3" + SecretKey, date), kService = HMAC(kDate, "sms"),
 *   kSigning = HMAC(kService, "tc3_request"), Signature = hex(HMAC(kSigning, toSign))
 *   Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<date>/sms/tc3_request,
 *                  SignedHeaders=content-type;host, Signature=<hex>
 *
 * date is the UTC day of the timestamp (seconds); a timestamp more than 5 minutes off is refused
 * (AuthFailure.SignatureExpire). The answer is `{"Response": {...}}`: a request-level
 * `Error {Code, Message}`, or `SendStatusSet[]` with a `Code` per number — delivered only on "Ok".
 */
import { createHash, createHmac } from 'node:crypto';
import type { NotifyConfig } from '../../config/schema.js';
import { maskPhone } from '../phone.js';
import { templateValues } from '../short-text.js';
import type { AddressOf, Channel, SendContext, SendOutcome } from './channel.js';
import { retryableStatus } from './http.js';
import { type FailureKind, providerFailure } from './provider.js';

export type TencentSmsConfig = Extract<NonNullable<NotifyConfig['sms']>, { provider: 'tencent' }>;

const CONTENT_TYPE = 'application/json; charset=utf-8';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: string | Buffer, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

export function tc3Authorization(
  secretId: string,
  secretKey: string,
  host: string,
  timestamp: number,
  body: string,
  service = 'sms',
): string {
  const date = new Date(timestamp * 1000).toISOString().slice(0, 10);
  const canonical = `POST\n/\n\ncontent-type:${CONTENT_TYPE}\nhost:${host}\n\ncontent-type;host\n${sha256(body)}`;
  const scope = `${date}/${service}/tc3_request`;
  const toSign = `TC3-HMAC-SHA256\n${timestamp}\n${scope}\n${sha256(canonical)}`;
  const signing = hmac(hmac(hmac(`TC3${secretKey}`, date), service), 'tc3_request');
  const signature = createHmac('sha256', signing).update(toSign, 'utf8').digest('hex');
  return `TC3-HMAC-SHA256 Credential=${secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`;
}

/** Tencent's codes by what they mean for us (the SendSms error code table). */
export function tencentFailureKind(code: string): { kind: FailureKind; retryable?: boolean } {
  if (
    code.startsWith('AuthFailure') ||
    code === 'UnauthorizedOperation' ||
    code.startsWith('UnauthorizedOperation.')
  )
    return { kind: 'auth' };
  if (code.startsWith('LimitExceeded') || code === 'RequestLimitExceeded') return { kind: 'throttled' };
  if (
    code === 'InvalidParameterValue.IncorrectPhoneNumber' ||
    code === 'FailedOperation.PhoneNumberInBlacklist' ||
    code === 'FailedOperation.PhoneNumberParseFail'
  )
    return { kind: 'bad_number' };
  if (
    code === 'FailedOperation.TemplateIncorrectOrUnapproved' ||
    code === 'FailedOperation.SignatureIncorrectOrUnapproved' ||
    code.startsWith('InvalidParameterValue.TemplateParameter') ||
    code === 'FailedOperation.ContainSensitiveWord'
  )
    return { kind: 'template' };
  if (code.startsWith('InternalError')) return { kind: 'provider' };
  return { kind: 'provider', retryable: false };
}

export class TencentSmsChannel implements Channel<'sms'> {
  readonly kind = 'sms' as const;
  constructor(private readonly config: TencentSmsConfig) {}

  async send(address: AddressOf<'sms'>, ctx: SendContext): Promise<SendOutcome> {
    const c = this.config;
    const target = this.redact(address);
    const values = templateValues(ctx.message);
    const body = JSON.stringify({
      PhoneNumberSet: [address.phone],
      SmsSdkAppId: c.smsSdkAppId,
      SignName: c.signName,
      TemplateId: c.templateId,
      // Positional ({1}, {2} …), each cut to maxParamChars.
      TemplateParamSet: c.params.map((k) => {
        const chars = [...values[k]];
        return chars.length > c.maxParamChars
          ? `${chars.slice(0, c.maxParamChars - 1).join('')}…`
          : values[k];
      }),
      SessionContext: ctx.request.id,
    });
    const host = new URL(c.endpoint).host;
    const timestamp = Math.floor(ctx.now / 1000);
    const res = await fetch(c.endpoint, {
      method: 'POST',
      headers: {
        authorization: tc3Authorization(c.secretId, c.secretKey, host, timestamp, body),
        'content-type': CONTENT_TYPE,
        host,
        'x-tc-action': 'SendSms',
        'x-tc-version': '2021-01-11',
        'x-tc-timestamp': String(timestamp),
        'x-tc-region': c.region,
      },
      body,
      signal: ctx.signal,
      redirect: 'error',
    });
    const text = (await res.text()).slice(0, 64 * 1024);
    type Answer = {
      Response?: {
        Error?: { Code?: string; Message?: string };
        SendStatusSet?: { Code?: string; Message?: string }[];
      };
    };
    let json: Answer = {};
    try {
      json = JSON.parse(text) as Answer;
    } catch {
      // judged by the HTTP status below
    }
    const status = json.Response?.Error ?? json.Response?.SendStatusSet?.[0];
    if (res.status === 200 && !json.Response?.Error && status?.Code === 'Ok')
      return { ok: true, httpStatus: 200, retryable: false };
    if (!status?.Code)
      return providerFailure(
        'provider',
        { channel: 'sms', target, code: `HTTP ${res.status}`, reason: text.slice(0, 200) },
        { httpStatus: res.status, retryable: retryableStatus(res.status) },
      );
    const { kind, retryable } = tencentFailureKind(status.Code);
    return providerFailure(
      kind,
      { channel: 'sms', target, code: status.Code, reason: status.Message ?? '' },
      { httpStatus: res.status, ...(retryable !== undefined ? { retryable } : {}) },
    );
  }

  redact(address: AddressOf<'sms'>): string {
    return `sms:${maskPhone(address.phone)}`;
  }

  secrets(): string[] {
    return [this.config.secretKey];
  }
}
