import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real, small file system (tmpfs of `size`, e.g. '4m') mounted on a fresh temporary directory,
 * for disk-full tests. Needs root (the suite and CI run as root). `dispose()` unmounts (lazily if
 * a process still holds a file there) and removes the directory; call it in `after`, so a failed
 * test leaves no mount behind.
 */
export function tmpfsMount(size: string, prefix = 'doorstep-tmpfs-'): { path: string; dispose(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', path]);
  } catch (error) {
    rmSync(path, { recursive: true, force: true });
    throw error;
  }
  let mounted = true;
  return {
    path,
    dispose() {
      if (mounted) {
        try {
          execFileSync('umount', [path]);
        } catch {
          execFileSync('umount', ['-l', path]);
        }
        mounted = false;
      }
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Fills the file system under `dir` with `dd` into `file` until ENOSPC (dd's non-zero exit is the point). */
export function fillDisk(file: string): void {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    // "No space left on device": the file system is full, as intended.
  }
}
