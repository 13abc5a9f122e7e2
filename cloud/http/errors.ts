import { DoorstepError, type ErrorBody, type ErrorCode, isDoorstepError } from '../../protocol/index.js';

/** HTTP status of each catalogue code this service answers with (RFC 9110 §15). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  CLOUD_ERR_VALIDATION: 400,
  CLOUD_ERR_PASSWORD_POLICY: 400,
  CLOUD_ERR_ACCOUNT_SELF: 400,
  CLOUD_ERR_NOT_JSON: 400,
  CLOUD_ERR_BAD_ENCODING: 400,
  CLOUD_ERR_STORE_SCOPE: 400,
  CLOUD_ERR_TIME_RANGE: 400,
  CLOUD_ERR_DEVICE_LIMIT: 400,
  CLOUD_ERR_AUTH: 401,
  CLOUD_ERR_ACCOUNT_LOCKED: 401,
  CLOUD_ERR_GATEWAY_REVOKED: 401,
  CLOUD_ERR_ENROLL_TOKEN: 401,
  CLOUD_ERR_ENROLL_TOKEN_EXPIRED: 401,
  CLOUD_ERR_ENROLL_TOKEN_USED: 401,
  CLOUD_ERR_FORBIDDEN: 403,
  CLOUD_ERR_CREDENTIAL_RETIRED: 403,
  CLOUD_ERR_PASSWORD_CURRENT: 403,
  CLOUD_ERR_SCOPE: 403,
  CLOUD_ERR_GATEWAY_MISMATCH: 403,
  CLOUD_ERR_SITE_MISMATCH: 403,
  CLOUD_ERR_LINK_INVALID: 403,
  CLOUD_ERR_STORE_GATEWAY_MISMATCH: 403,
  CLOUD_ERR_NOT_FOUND: 404,
  CLOUD_ERR_STORE_NOT_FOUND: 404,
  CLOUD_ERR_CONFLICT: 409,
  CLOUD_ERR_STORE_CONFLICT: 409,
  CLOUD_ERR_CASE_STATE: 409,
  CLOUD_ERR_LINK_EXPIRED: 410,
  CLOUD_ERR_LINK_CLOSED: 410,
  CLOUD_ERR_TOO_LARGE: 413,
  CLOUD_ERR_UNSUPPORTED_MEDIA: 415,
  CLOUD_ERR_RATE_LIMITED: 429,
  CLOUD_ERR_INTERNAL: 500,
  CLOUD_ERR_UNAVAILABLE: 503,
  CLOUD_ERR_SIGNIN_BUSY: 503,
  CLOUD_ERR_STORE_UNAVAILABLE: 503,
  CLOUD_ERR_STORE_CLOSED: 503,
};

interface FastifyishError {
  code?: string;
  statusCode?: number;
  message?: string;
}

/**
 * Turns anything thrown while serving a request into a catalogue error. Fastify's own errors
 * (body too large, wrong media type, empty body) are translated so every answer has the same
 * ErrorBody shape; anything unknown becomes a 500 that reveals nothing but the request id.
 */
export function toDoorstepError(error: unknown, requestId: string, bodyLimit: number): DoorstepError {
  if (isDoorstepError(error)) return error;
  const e = (error ?? {}) as FastifyishError;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new DoorstepError('CLOUD_ERR_TOO_LARGE', { limit: bodyLimit, what: 'as sent' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new DoorstepError('CLOUD_ERR_UNSUPPORTED_MEDIA', {
        what: 'Content-Type',
        value: e.message ?? '',
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new DoorstepError('CLOUD_ERR_NOT_JSON', { reason: 'the body is empty' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new DoorstepError('CLOUD_ERR_VALIDATION', {
        field: 'Content-Length',
        reason: 'does not match the body',
      });
  }
  if (error instanceof SyntaxError) return new DoorstepError('CLOUD_ERR_NOT_JSON', { reason: error.message });
  if (e.statusCode === 429) return new DoorstepError('CLOUD_ERR_RATE_LIMITED', { retryAfter: 'a while' });
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
    return new DoorstepError('CLOUD_ERR_VALIDATION', {
      field: '(request)',
      reason: e.message ?? 'bad request',
    });
  return new DoorstepError('CLOUD_ERR_INTERNAL', { requestId }, { cause: error });
}

export function statusOf(error: DoorstepError): number {
  return STATUS[error.code] ?? (error.code.startsWith('CFG_') ? 400 : 500);
}

export function errorBody(error: DoorstepError): ErrorBody {
  const field = error.details['field'];
  return {
    error: { code: error.code, message: error.message, ...(typeof field === 'string' ? { field } : {}) },
  };
}
