import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { DoorstepError } from '../../protocol/index.js';

const gunzipAsync = promisify(gunzip);

/**
 * Decodes a request body by its Content-Encoding (RFC 9110 §8.4; gzip is RFC 1952). The inflated
 * size is capped by zlib's maxOutputLength, so a small gzip bomb stops at the limit instead of
 * filling memory: 413, like an oversized body. Inflation runs on libuv's thread pool, off the
 * event loop. `plainOnly` (a reason) refuses every encoding but identity with 415 before any
 * inflation: routes other than an authenticated sync take plain JSON.
 */
export async function decodeBody(
  raw: Buffer,
  encoding: string | undefined,
  maxInflatedBytes: number,
  plainOnly?: string,
) {
  const coding = (encoding ?? 'identity').trim().toLowerCase();
  if (coding === 'identity' || coding === '') return raw;
  if (plainOnly !== undefined)
    throw new DoorstepError('CLOUD_ERR_UNSUPPORTED_MEDIA', {
      what: 'Content-Encoding',
      value: `${coding} (${plainOnly})`,
    });
  if (coding !== 'gzip' && coding !== 'x-gzip')
    throw new DoorstepError('CLOUD_ERR_UNSUPPORTED_MEDIA', { what: 'Content-Encoding', value: coding });
  try {
    return await gunzipAsync(raw, { maxOutputLength: maxInflatedBytes });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError)
      throw new DoorstepError('CLOUD_ERR_TOO_LARGE', {
        limit: maxInflatedBytes,
        what: 'after gzip inflation',
      });
    throw new DoorstepError('CLOUD_ERR_BAD_ENCODING', {
      encoding: 'gzip',
      reason: error instanceof Error ? error.message : String(error),
    });
  }
}
