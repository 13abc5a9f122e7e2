import { chmodSync, closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Mode of a file that holds a secret (a password, a credential, a private key): owner only. */
export const SECRET_MODE = 0o600;

/**
 * Writes a file so that a power cut or a yanked SD card leaves the old or the new content, never
 * half of each: temp file in the same directory, fsync, rename (POSIX rename(2) is atomic within a
 * file system). `mode` is set on the temp file before the rename, so a secret is never readable by
 * others, not even for a moment, and a file that existed with a wider mode (0644) ends with `mode`.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(temp, 'w', mode);
  try {
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temp, mode); // the umask may have narrowed or (for 0644) kept it: make it exact
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // already renamed or never created
    }
    throw error;
  }
}

/** writeFileAtomic with SECRET_MODE. */
export function writeSecretFile(path: string, data: string | Uint8Array): void {
  writeFileAtomic(path, data, SECRET_MODE);
}
