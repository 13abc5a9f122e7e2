import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { DoorstepError } from '../../protocol/errors.js';

/**
 * Broker passwords are stored as `scrypt$N$r$p$saltB64$hashB64` (RFC 7914 scrypt through
 * node:crypto). The cost parameters travel with the hash so they can be raised later without
 * invalidating stored hashes. Plain passwords are never stored or logged.
 */
export interface ScryptParams {
  /** CPU/memory cost, a power of two (RFC 7914 §2). */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

/** OWASP's floor for scrypt (N=2^14, r=8, p=1): ~16 MiB and some tens of ms per check on a gateway. */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 16384, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds for hashes read from configuration, so a typo cannot make every login cost seconds or GiBs.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

export interface ParsedPasswordHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

/** Every problem with an encoded hash; [] when it can be verified against. */
export function passwordHashProblems(encoded: string): string[] {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return ['must look like scrypt$N$r$p$saltB64$hashB64'];
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const problems = paramProblems({ N: Number(n), r: Number(r), p: Number(p) });
  const saltBytes = decodeBase64(salt);
  const hashBytes = decodeBase64(hash);
  if (!saltBytes || saltBytes.length < 8 || saltBytes.length > 64)
    problems.push('salt must be 8–64 bytes of base64');
  if (!hashBytes || hashBytes.length < 16 || hashBytes.length > 64)
    problems.push('hash must be 16–64 bytes of base64');
  return problems;
}

export function parsePasswordHash(encoded: string): ParsedPasswordHash | undefined {
  if (passwordHashProblems(encoded).length > 0) return undefined;
  const [, n, r, p, salt, hash] = encoded.split('$') as [string, string, string, string, string, string];
  return {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    salt: Buffer.from(salt, 'base64'),
    hash: Buffer.from(hash, 'base64'),
  };
}

/** Hashes `plain` with a fresh random salt; rejects an empty password (EDGE_ERR_BROKER_PASSWORD). */
export async function hashPassword(
  plain: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  if (typeof plain !== 'string' || plain.length === 0)
    throw new DoorstepError('EDGE_ERR_BROKER_PASSWORD', { reason: 'the password is empty' });
  const problems = paramProblems(params);
  if (problems.length > 0)
    throw new DoorstepError('EDGE_ERR_BROKER_PASSWORD', { reason: problems.join('; ') });
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(Buffer.from(plain, 'utf8'), salt, KEY_BYTES, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/**
 * True when `plain` matches `encoded`. The comparison is constant-time (timingSafeEqual) and a
 * malformed hash simply never matches, so a bad config entry locks that user out instead of crashing.
 */
export async function verifyPassword(plain: string | Buffer, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  if (!parsed) return false;
  const candidate = typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain;
  const derived = await derive(candidate, parsed.salt, parsed.hash.length, parsed);
  return derived.length === parsed.hash.length && timingSafeEqual(derived, parsed.hash);
}

/**
 * A syntactically valid hash that no password matches (its "hash" is random bytes). Checking
 * unknown usernames against it costs the same as a real check, so response time does not reveal
 * which usernames exist.
 */
export function unmatchableHash(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): string {
  return [
    'scrypt',
    params.N,
    params.r,
    params.p,
    randomBytes(SALT_BYTES).toString('base64'),
    randomBytes(KEY_BYTES).toString('base64'),
  ].join('$');
}

function paramProblems({ N, r, p }: ScryptParams): string[] {
  const problems: string[] = [];
  // RFC 7914 §2: N must be larger than 1 and a power of 2.
  if (!Number.isInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0)
    problems.push(`N must be a power of two between 2 and ${MAX_N}`);
  if (!Number.isInteger(r) || r < 1 || r > MAX_R)
    problems.push(`r must be an integer between 1 and ${MAX_R}`);
  if (!Number.isInteger(p) || p < 1 || p > MAX_P)
    problems.push(`p must be an integer between 1 and ${MAX_P}`);
  return problems;
}

function derive(plain: Buffer, salt: Buffer, keyLength: number, { N, r, p }: ScryptParams): Promise<Buffer> {
  // scrypt needs 128·N·r bytes (RFC 7914 §5); Node refuses above maxmem (32 MiB by default).
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * p + 2 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(plain, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}
