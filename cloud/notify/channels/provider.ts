/**
 * What a phone provider's refusal means for doorstep: a failure kind, whether another attempt can
 * help, and the catalogue error that says so in words. The SMS and voice channels (Aliyun, SMPP)
 * map their own codes to these kinds; the notifier records the attempt and retries or gives up.
 */
import { DoorstepError, type ErrorCode } from '../../../protocol/index.js';
import type { SendOutcome } from './channel.js';

export type FailureKind = 'throttled' | 'bad_number' | 'template' | 'auth' | 'provider';

const KINDS: Record<FailureKind, { code: ErrorCode; retryable: boolean }> = {
  // Flow control passes with time; the notifier's backoff spaces the attempts.
  throttled: { code: 'CLOUD_ERR_NOTIFY_THROTTLED', retryable: true },
  bad_number: { code: 'CLOUD_ERR_NOTIFY_NUMBER', retryable: false },
  template: { code: 'CLOUD_ERR_NOTIFY_TEMPLATE', retryable: false },
  auth: { code: 'CLOUD_ERR_NOTIFY_AUTH', retryable: false },
  provider: { code: 'CLOUD_ERR_NOTIFY_PROVIDER', retryable: true },
};

/** A failed outcome of `kind`; `retryable` overrides the kind's default (an unknown code). */
export function providerFailure(
  kind: FailureKind,
  details: { channel: string; target: string; code: string; reason: string },
  extra: { httpStatus?: number; errcode?: number; retryable?: boolean } = {},
): SendOutcome & { failure: FailureKind; errorCode: ErrorCode } {
  const { code, retryable } = KINDS[kind];
  const error = new DoorstepError(code, { ...details, reason: details.reason.slice(0, 200) });
  return {
    ok: false,
    error: error.message,
    retryable: extra.retryable ?? retryable,
    failure: kind,
    errorCode: code,
    ...(extra.httpStatus !== undefined ? { httpStatus: extra.httpStatus } : {}),
    ...(extra.errcode !== undefined ? { errcode: extra.errcode } : {}),
  };
}
