/** DoorstepError helpers for the store (codes in protocol/errors.ts, CLOUD_ERR_STORE_*). */
import { DoorstepError } from '../../protocol/index.js';

export const conflict = (what: string, id: string) =>
  new DoorstepError('CLOUD_ERR_STORE_CONFLICT', { what, id });
export const notFound = (what: string, id: string) =>
  new DoorstepError('CLOUD_ERR_STORE_NOT_FOUND', { what, id });
export const unavailable = (operation: string, cause: unknown) =>
  new DoorstepError(
    'CLOUD_ERR_STORE_UNAVAILABLE',
    { operation, reason: cause instanceof Error ? cause.message : String(cause) },
    { cause },
  );
