import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';

/**
 * A file that could not be read or parsed. `reason` is one line an installer can act on
 * (`ENOENT: no such file or directory, open '…'`, `invalid YAML: …`); callers wrap it in their own
 * error code of the catalogue (protocol/errors.ts), which this folder may not import.
 */
export class FileReadError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    /** `read` (missing, no permission) or `parse` (not YAML/JSON). */
    readonly stage: 'read' | 'parse',
    /** errno code of a read failure (`ENOENT`, `EACCES`). */
    readonly errno: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${reason}`, options);
    this.name = 'FileReadError';
  }
}

/**
 * Reads a YAML file (or JSON when `json` is `by-extension` and the name ends in .json) into plain
 * data. Throws FileReadError; nothing else.
 */
export function readYamlFile(file: string, options: { json?: 'by-extension' } = {}): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new FileReadError(file, e.message, 'read', e.code, { cause: error });
  }
  if (options.json === 'by-extension' && extname(file).toLowerCase() === '.json') {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new FileReadError(file, `invalid JSON: ${(error as Error).message}`, 'parse', undefined, {
        cause: error,
      });
    }
  }
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (error) {
    // The first line names the problem and its line/column; the rest is a code frame.
    const first = error instanceof YAMLParseError ? error.message.split('\n')[0] : String(error);
    throw new FileReadError(file, `invalid YAML: ${first}`, 'parse', undefined, { cause: error });
  }
}

/**
 * A resolver for paths written inside `file`: relative ones are taken from the file's directory, so
 * a configuration works wherever the process was started from; absolute ones are kept.
 */
export function relativeTo(file: string): (path: string) => string {
  const base = dirname(resolve(file));
  return (path) => (isAbsolute(path) ? path : resolve(base, path));
}
