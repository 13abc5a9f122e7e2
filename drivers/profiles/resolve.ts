import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { DoorstepError, renderIssues, type ValidationIssue } from '../../protocol/index.js';
import { catalogue } from './catalogue/index.js';
import { checkProfileDocument, checkProfileFile, type LoadedProfile, type ProfileType } from './file.js';
import type { RegisterProfile } from './types.js';

/**
 * How a configuration names a profile: a built-in id (`gas-float32-abcd`), a profile file
 * (`./profiles/acme-gd10.yaml`, relative to the configuration file), or the profile itself inline.
 */
export type ProfileRef = string | Record<string, unknown>;

/** A reference is a file when it has a path separator or a profile file extension. */
export function isProfilePath(ref: string): boolean {
  return ref.includes('/') || /\.(ya?ml|json)$/i.test(ref);
}

/**
 * Resolves a profile reference, reporting every problem with its path under `path` (e.g.
 * `devices[2].profile.fields[1].address`). `expect` restricts the shape (a Modbus bus needs a
 * register profile). Unreadable files are problems too, not exceptions: one bad device entry must
 * not stop the rest of the site.
 */
export function resolveProfile(
  ref: ProfileRef,
  options: { baseDir?: string; expect?: ProfileType; path?: string } = {},
): { loaded?: LoadedProfile; issues: ValidationIssue[] } {
  const at = options.path ?? '';
  const prefixed = (issues: ValidationIssue[]) =>
    issues.map((i) => ({
      path: [at, i.path].filter(Boolean).join(i.path.startsWith('[') ? '' : '.'),
      message: i.message,
    }));
  let result: { loaded?: LoadedProfile; issues: ValidationIssue[] };
  if (typeof ref === 'string' && !isProfilePath(ref)) {
    const loaded = catalogue.get(ref);
    if (!loaded) {
      const known = [...catalogue.values()]
        .filter((p) => !options.expect || p.type === options.expect)
        .map((p) => p.id);
      return {
        issues: [
          {
            path: at,
            message: `no built-in ${options.expect ?? ''}${options.expect ? ' ' : ''}profile "${ref}" (known: ${known.join(', ')}; a file needs a path such as ./${ref}.yaml)`,
          },
        ],
      };
    }
    result = { loaded, issues: [] };
  } else if (typeof ref === 'string') {
    const file = isAbsolute(ref) ? ref : resolvePath(options.baseDir ?? process.cwd(), ref);
    try {
      result = checkProfileFile(file);
    } catch (error) {
      return { issues: [{ path: at, message: (error as Error).message }] };
    }
    if (!result.loaded)
      return { issues: prefixed(result.issues).map((i) => ({ ...i, message: `${ref}: ${i.message}` })) };
  } else {
    result = checkProfileDocument(ref);
    if (!result.loaded) return { issues: prefixed(result.issues) };
  }
  const loaded = result.loaded!;
  if (options.expect && loaded.type !== options.expect)
    return {
      issues: [
        {
          path: at,
          message: `"${loaded.id}" is a ${loaded.type} profile; this bus needs a ${options.expect} profile`,
        },
      ],
    };
  return { loaded, issues: [] };
}

/** A register profile by id or file, for the simulator and the CLI; throws DRV_ERR_PROFILE / DRV_ERR_UNKNOWN_PROFILE. */
export function registerProfileOf(ref: ProfileRef, baseDir?: string): Readonly<RegisterProfile> {
  if (typeof ref === 'string' && !isProfilePath(ref) && !catalogue.has(ref))
    throw new DoorstepError('DRV_ERR_UNKNOWN_PROFILE', { profile: ref });
  const { loaded, issues } = resolveProfile(ref, { expect: 'register', ...(baseDir ? { baseDir } : {}) });
  if (loaded?.type !== 'register')
    throw new DoorstepError('DRV_ERR_PROFILE', {
      profile: typeof ref === 'string' ? ref : String(ref.id ?? '(inline)'),
      reason: `${issues.length} problem(s)\n${renderIssues(issues)}`,
    });
  return loaded.profile;
}

/**
 * The register profiles a bus scan can match: the built-in catalogue plus every profile file in
 * `paths` (files, or folders of *.yaml / *.yml / *.json). Missing folders are skipped; a broken
 * file is reported and skipped, never fatal to the scan. `refs` maps a file profile's id to the
 * path the configuration should name.
 */
export function visibleRegisterProfiles(paths: readonly string[]): {
  profiles: Readonly<RegisterProfile>[];
  refs: Map<string, string>;
  problems: string[];
} {
  const byId = new Map<string, Readonly<RegisterProfile>>();
  for (const p of catalogue.values()) if (p.type === 'register') byId.set(p.id, p.profile);
  const refs = new Map<string, string>();
  const problems: string[] = [];
  const files: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) continue;
    if (statSync(path).isDirectory())
      files.push(
        ...readdirSync(path)
          .filter((f) => /\.(ya?ml|json)$/i.test(f) && !f.endsWith('.dump.json'))
          .sort()
          .map((f) => join(path, f)),
      );
    else files.push(path);
  }
  for (const file of files) {
    try {
      const { loaded, issues } = checkProfileFile(file);
      if (!loaded) problems.push(`${file}: ${issues.length} problem(s)\n${renderIssues(issues)}`);
      else if (loaded.type === 'register') {
        byId.set(loaded.id, loaded.profile);
        refs.set(loaded.id, file);
      }
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return { profiles: [...byId.values()], refs, problems };
}
