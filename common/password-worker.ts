/**
 * The worker of PasswordPool (common/password-pool.ts): scrypt runs here, synchronously, on this
 * worker's own thread — not on libuv's thread pool, which the process's gunzip and file I/O share.
 */
import { hashPasswordSync, type ScryptParams, verifyPasswordSync } from './password.js';

export type PasswordTask =
  | { op: 'hash'; plain: string; params: ScryptParams }
  | { op: 'verify'; plain: string; encoded: string };

export default function run(task: PasswordTask): string | boolean {
  return task.op === 'hash'
    ? hashPasswordSync(task.plain, task.params)
    : verifyPasswordSync(task.plain, task.encoded);
}
