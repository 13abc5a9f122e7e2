/**
 * The console's static files (cloud/console/static: plain ES modules, CSS, HTML — no build step)
 * are served by @fastify/static with `preCompressed`: it picks `name.br` or `name.gz` by
 * Accept-Encoding (RFC 9110 §12.5.3) and answers conditional requests from the ETag. Those
 * compressed copies are made here once, when the cloud starts, in a directory of its own (the
 * source tree and dist/ stay as they are), so the first load is what the bytes on the wire say.
 * The directory is removed when the cloud closes; one left by a process that was killed is swept
 * when a cloud next starts (its `owner.pid` no longer runs).
 */
import { lstat, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

export const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

/** What the console serves; anything else in the folder (tsconfig.json) is not copied. */
export const SERVED = new Set(['.html', '.js', '.css', '.svg', '.png']);

const PREFIX = 'doorstep-console-files-';
/** The pid of the cloud process a copy belongs to (not served: its extension is not in SERVED). */
const OWNER_FILE = 'owner.pid';

/**
 * Removes the copies of cloud processes that are gone without closing (SIGKILL, a crash): a copy
 * whose directory this user owns and whose owner pid no longer runs. Copies of live processes, of
 * other users, and anything not made here are left alone.
 */
async function sweepDeadCopies(parent: string): Promise<void> {
  const uid = process.getuid?.();
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith(PREFIX)) continue;
    const path = join(parent, name);
    try {
      const info = await lstat(path);
      if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
      const pid = Number(await readFile(join(path, OWNER_FILE), 'utf8'));
      if (!Number.isInteger(pid) || pid <= 0 || isRunning(pid)) continue;
      await rm(path, { recursive: true, force: true });
    } catch {
      // Not ours, half-made or already gone: left alone.
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Copies the served files of `dir` into a new temporary directory with a brotli (quality 11) and
 * a gzip (level 9) copy of each, keeping the source's modification time so that every instance
 * of the cloud gives a file the same ETag. Returns the directory, the names served and how to
 * remove it.
 */
export async function prepareAssets(
  dir = STATIC_DIR,
  parent = tmpdir(),
): Promise<{ root: string; files: ReadonlySet<string>; remove: () => Promise<void> }> {
  await sweepDeadCopies(parent);
  const files = new Set<string>();
  const root = await mkdtemp(join(parent, PREFIX));
  await writeFile(join(root, OWNER_FILE), String(process.pid));
  for (const name of await readdir(dir)) {
    if (!SERVED.has(extname(name))) continue;
    files.add(name);
    const source = join(dir, name);
    const raw = await readFile(source);
    const { mtime } = await stat(source);
    const copies: [string, Buffer][] = [
      [name, raw],
      [`${name}.gz`, gzipSync(raw, { level: 9 })],
      [
        `${name}.br`,
        brotliCompressSync(raw, {
          params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
        }),
      ],
    ];
    for (const [file, bytes] of copies) {
      await writeFile(join(root, file), bytes);
      await utimes(join(root, file), mtime, mtime);
    }
  }
  return { root, files, remove: () => rm(root, { recursive: true, force: true }) };
}
