/**
 * Signed action links: a token that lets one person act on one case from a phone without signing
 * in, until it expires or the case closes.
 *
 *   token   = payload "." mac
 *   payload = base64url(JSON {v: 1, p: purpose, r: recipient id, c: case id, e: expiry ms})
 *   mac     = base64url(HMAC-SHA256(key = secret, "doorstep-link\n" + payload))     (RFC 2104, FIPS 180-4)
 *
 * The MAC covers recipient, case, expiry and purpose, so none of them can be changed without the
 * secret; it is compared in constant time (timingSafeEqual) before the payload is even parsed.
 * base64url is RFC 4648 §5: the token travels in a URL path unescaped. The token is the capability
 * itself — the phone routes take no cookie, so a forged cross-site form cannot borrow anything the
 * browser holds (no CSRF surface beyond knowing the token).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { randomSecret } from '../auth/secrets.js';

/** What a link lets its holder do; only `case` (view, acknowledge, feedback) exists today. */
export type LinkPurpose = 'case';

export interface LinkClaims {
  purpose: LinkPurpose;
  recipient: string;
  caseId: string;
  /** Cloud time (ms) after which the link no longer works. */
  expiresAt: number;
}

export type LinkCheck =
  | { ok: true; claims: LinkClaims }
  | { ok: false; why: 'malformed' | 'signature' | 'expired' | 'purpose'; claims?: LinkClaims };

const CONTEXT = 'doorstep-link\n';
/** Longest token accepted before any work is done (ids are ≤ 96 characters each). */
export const MAX_TOKEN_LENGTH = 1024;

export class LinkSigner {
  readonly #secret: Buffer;
  /** True when the secret was drawn at start (not configured): links die with this process. */
  readonly ephemeral: boolean;

  constructor(
    secret: string | undefined,
    readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.ephemeral = secret === undefined;
    this.#secret = Buffer.from(secret ?? randomSecret(32), 'utf8');
  }

  #mac(payload: string): Buffer {
    return createHmac('sha256', this.#secret)
      .update(CONTEXT + payload, 'utf8')
      .digest();
  }

  /** A token for `recipient` on `caseId`, expiring `ttlMs` from now unless `expiresAt` is given. */
  sign(recipient: string, caseId: string, expiresAt = this.clock() + this.ttlMs): string {
    const payload = Buffer.from(
      JSON.stringify({ v: 1, p: 'case', r: recipient, c: caseId, e: expiresAt }),
      'utf8',
    ).toString('base64url');
    return `${payload}.${this.#mac(payload).toString('base64url')}`;
  }

  /**
   * Checks a token: its MAC first (constant time), then its shape, purpose and expiry. A failed
   * check never says more than its kind; expired tokens carry their claims so the page can name
   * the case it was for.
   */
  verify(token: string, purpose: LinkPurpose = 'case'): LinkCheck {
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, why: 'malformed' };
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return { ok: false, why: 'malformed' };
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = this.#mac(payload);
    // timingSafeEqual needs equal lengths; a wrong length is no secret (the MAC's size is public).
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { ok: false, why: 'signature' };
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, why: 'malformed' };
    }
    const o = raw as Record<string, unknown>;
    if (
      typeof o !== 'object' ||
      o === null ||
      o['v'] !== 1 ||
      typeof o['p'] !== 'string' ||
      typeof o['r'] !== 'string' ||
      typeof o['c'] !== 'string' ||
      typeof o['e'] !== 'number' ||
      !Number.isFinite(o['e'])
    )
      return { ok: false, why: 'malformed' };
    const claims: LinkClaims = {
      purpose: o['p'] as LinkPurpose,
      recipient: o['r'],
      caseId: o['c'],
      expiresAt: o['e'],
    };
    if (claims.purpose !== purpose) return { ok: false, why: 'purpose', claims };
    if (this.clock() >= claims.expiresAt) return { ok: false, why: 'expired', claims };
    return { ok: true, claims };
  }
}

/** The phone page of a case for the holder of `token`: `/m/<case id>/<token>`. */
export function phonePath(caseId: string, token: string): string {
  return `/m/${encodeURIComponent(caseId)}/${token}`;
}
