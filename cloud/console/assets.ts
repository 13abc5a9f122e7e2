/**
 * The console's static files (cloud/console/static: plain ES modules, CSS, HTML — no build step)
 * are served by @fastify/static with `preCompressed`: it picks `name.br` or `name.gz` by
 * Accept-Encoding (RFC 9110 §12.5.3) and answers conditional requests from the ETag. Those
 * compressed copies are made here once, when the cloud starts, in a directory of its own (the
 * source tree and dist/ stay as they are), so the first load is what the bytes on the wire say.
 */
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

export const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

/** What the console serves; anything else in the folder (tsconfig.json) is not copied. */
export const SERVED = new Set(['.html', '.js', '.css', '.svg', '.png']);

/**
 * Copies the served files of `dir` into a new temporary directory with a brotli (quality 11) and
 * a gzip (level 9) copy of each, keeping the source's modification time so that every instance
 * of the cloud gives a file the same ETag. Returns the directory, the names served and how to
 * remove it.
 */
export async function prepareAssets(
  dir = STATIC_DIR,
): Promise<{ root: string; files: ReadonlySet<string>; remove: () => Promise<void> }> {
  const files = new Set<string>();
  const root = await mkdtemp(join(tmpdir(), 'doorstep-console-files-'));
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
