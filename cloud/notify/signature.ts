/**
 * The generic webhook's signature, in the style of Stripe's and GitHub's:
 *   X-Doorstep-Timestamp: <ms since the epoch>
 *   X-Doorstep-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
 * Signing the timestamp with the body lets a receiver refuse replays outside a time window.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'x-doorstep-timestamp';
export const SIGNATURE_HEADER = 'x-doorstep-signature';

export function signWebhook(secret: string, timestamp: number | string, body: string | Buffer): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`);
  mac.update(body);
  return `sha256=${mac.digest('hex')}`;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** Checks the signature in constant time and that the timestamp lies within `toleranceMs` of now. */
export function verifyWebhook(
  secret: string,
  headers: { timestamp?: string; signature?: string },
  body: Buffer,
  now: number,
  toleranceMs: number,
): VerifyResult {
  const { timestamp, signature } = headers;
  if (!timestamp || !/^\d{1,16}$/.test(timestamp)) return { ok: false, reason: 'missing or bad timestamp' };
  if (!signature?.startsWith('sha256=')) return { ok: false, reason: 'missing or bad signature' };
  if (Math.abs(now - Number(timestamp)) > toleranceMs)
    return { ok: false, reason: 'timestamp outside the allowed window' };
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const got = Buffer.from(signature);
  if (expected.length !== got.length || !timingSafeEqual(expected, got))
    return { ok: false, reason: 'signature does not match' };
  return { ok: true };
}
