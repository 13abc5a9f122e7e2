import { randomBytes, type ScryptOptions, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

/**
 * The one password hasher of every doorstep process (cloud users, gateway broker users):
 * `scrypt$N$r$p$saltB64$hashB64`, RFC 7914 scrypt through node:crypto. The cost parameters travel
 * with the hash, so they can be raised later without invalidating stored hashes. Plain passwords
 * are never stored or logged. Imports nothing internal (common/README.md).
 */
export interface ScryptParams {
  /** CPU/memory cost, a power of two (RFC 7914 §2). */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

/**
 * Cost per kind of host. server: N = 2^15, r = 8, p = 1 (OWASP password storage cheat sheet's
 * first scrypt setting, ~32 MiB); gateway: OWASP's floor N = 2^14 (~16 MiB, some tens of ms on a
 * gateway's ARM core).
 */
export const SCRYPT_PARAMS = {
  server: Object.freeze({ N: 32_768, r: 8, p: 1 }),
  gateway: Object.freeze({ N: 16_384, r: 8, p: 1 }),
} as const satisfies Record<string, Readonly<ScryptParams>>;

export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = SCRYPT_PARAMS.server;

const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds for hashes read from configuration or a database, so a typo cannot make every check cost
// seconds or GiBs.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

/** A password that cannot be hashed (empty) or parameters outside the bounds; `reason` says which. */
export class PasswordError extends Error {
  constructor(readonly reason: string) {
    super(`cannot hash the password: ${reason}`);
    this.name = 'PasswordError';
  }
}

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
  if (typeof encoded !== 'string' || passwordHashProblems(encoded).length > 0) return undefined;
  const [, n, r, p, salt, hash] = encoded.split('$') as [string, string, string, string, string, string];
  return {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    salt: Buffer.from(salt, 'base64'),
    hash: Buffer.from(hash, 'base64'),
  };
}

/**
 * The bytes hashed for a password. Text is normalised to NFC first, so the same password typed on
 * two keyboards (precomposed or combining accents) is the same password (NIST SP 800-63B
 * §5.1.1.2 asks for a normalisation); bytes (an MQTT CONNECT password) are taken as they are.
 */
function passwordBytes(plain: string | Buffer): Buffer {
  return typeof plain === 'string' ? Buffer.from(plain.normalize('NFC'), 'utf8') : plain;
}

function checkedParams(plain: string | Buffer, params: ScryptParams): void {
  if ((typeof plain !== 'string' && !Buffer.isBuffer(plain)) || plain.length === 0)
    throw new PasswordError('the password is empty');
  const problems = paramProblems(params);
  if (problems.length > 0) throw new PasswordError(problems.join('; '));
}

function encode(params: ScryptParams, salt: Buffer, hash: Buffer): string {
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/**
 * Hashes `plain` with a fresh random salt on libuv's thread pool; rejects an empty password
 * (PasswordError). For hashing on a request path of the cloud use PasswordPool
 * (common/password-pool.ts), which keeps scrypt off the pool that gunzip and file I/O share.
 */
export async function hashPassword(
  plain: string | Buffer,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  checkedParams(plain, params);
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(passwordBytes(plain), salt, KEY_BYTES, params);
  return encode(params, salt, hash);
}

/**
 * True when `plain` matches `encoded`. The comparison is constant-time (timingSafeEqual) and a
 * malformed hash simply never matches, so a bad entry locks that user out instead of crashing.
 */
export async function verifyPassword(plain: string | Buffer, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  if (!parsed) return false;
  const derived = await derive(passwordBytes(plain), parsed.salt, parsed.hash.length, parsed);
  return derived.length === parsed.hash.length && timingSafeEqual(derived, parsed.hash);
}

/** hashPassword on the calling thread (a worker's own thread: common/password-worker.ts). */
export function hashPasswordSync(
  plain: string | Buffer,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): string {
  checkedParams(plain, params);
  const salt = randomBytes(SALT_BYTES);
  return encode(params, salt, scryptSync(passwordBytes(plain), salt, KEY_BYTES, scryptOptions(params)));
}

/** verifyPassword on the calling thread (a worker's own thread: common/password-worker.ts). */
export function verifyPasswordSync(plain: string | Buffer, encoded: string): boolean {
  const parsed = parsePasswordHash(encoded);
  if (!parsed) return false;
  const derived = scryptSync(passwordBytes(plain), parsed.salt, parsed.hash.length, scryptOptions(parsed));
  return derived.length === parsed.hash.length && timingSafeEqual(derived, parsed.hash);
}

/**
 * A syntactically valid hash that no password matches (its "hash" is random bytes). Checking
 * unknown user names against it costs the same as a real check, so neither the answer nor its
 * time reveals which user names exist.
 */
export function unmatchableHash(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): string {
  return encode(params, randomBytes(SALT_BYTES), randomBytes(KEY_BYTES));
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

function scryptOptions({ N, r, p }: ScryptParams): ScryptOptions {
  // scrypt needs 128·N·r·p bytes (RFC 7914 §5); Node refuses above maxmem (32 MiB by default).
  return { N, r, p, maxmem: 128 * N * r * p + 2 * 1024 * 1024 };
}

function derive(plain: Buffer, salt: Buffer, keyLength: number, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(plain, salt, keyLength, scryptOptions(params), (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}
