import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Bearer secrets. Each kind has its own prefix so a leaked secret is recognisable (secret
 * scanners, logs) and a gateway credential can never be mistaken for an API token. Only the
 * sha256 of a secret is stored; 32 random bytes make a dictionary attack on the hash pointless,
 * so a plain (unsalted) hash suffices and lets the store look a secret up by index.
 */
export const SECRET_PREFIX = {
  gateway: 'dsg_',
  apiToken: 'dsa_',
  enrollment: 'dse_',
} as const;

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function newGatewaySecret(): string {
  return `${SECRET_PREFIX.gateway}${randomSecret()}`;
}

export function newApiTokenSecret(): string {
  return `${SECRET_PREFIX.apiToken}${randomSecret()}`;
}

/**
 * An enrolment token carries its scope in clear (`dse_pudong.zhangjiang.<random>`): the service
 * can refuse a gateway outside the token's scope *before* it consumes a use of the token, so a
 * refused enrolment changes nothing (docs/architecture.md invariant 12). The hash covers the whole string, so
 * editing the scope part yields an unknown token.
 */
export function newEnrollmentSecret(scope: string): string {
  return `${SECRET_PREFIX.enrollment}${scope.split('/').join('.')}.${randomSecret()}`;
}

/** The scope written into an enrolment token, or undefined when it is not one of ours. */
export function enrollmentScopeOf(secret: string): string | undefined {
  if (!secret.startsWith(SECRET_PREFIX.enrollment)) return undefined;
  const parts = secret.slice(SECRET_PREFIX.enrollment.length).split('.');
  if (parts.length < 3 || parts.length > 4) return undefined;
  return parts.slice(0, -1).join('/');
}

/** Constant-time string comparison for secrets and hashes of equal length. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
