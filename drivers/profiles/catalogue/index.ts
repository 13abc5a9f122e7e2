import { readdirSync } from 'node:fs';
import { DoorstepError } from '../../../protocol/index.js';
import { type LoadedProfile, loadProfileFile } from '../file.js';
import type { RegisterProfile } from '../types.js';

/**
 * The built-in catalogue: every `*.yaml` file of this folder, in the profile file format
 * (drivers/profiles/file.ts) that installers write too — there is no second profile system. Each
 * file has its golden dump beside it (`<id>.dump.json`, checked by `doorstep profile test` and
 * test/drivers/profiles/golden-files.test.ts). Loaded once, synchronously, when first imported:
 * a broken built-in file stops the process with DRV_ERR_PROFILE and every problem listed.
 */
const DIR = new URL('./', import.meta.url);

function loadCatalogue(): ReadonlyMap<string, LoadedProfile> {
  const out = new Map<string, LoadedProfile>();
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  for (const name of files) {
    const loaded = loadProfileFile(new URL(name, DIR).pathname);
    if (`${loaded.id}.yaml` !== name)
      throw new DoorstepError('DRV_ERR_PROFILE', {
        profile: name,
        reason: `declares id ${loaded.id}; the file must be ${loaded.id}.yaml`,
      });
    out.set(loaded.id, { ...loaded, file: `drivers/profiles/catalogue/${name}` });
  }
  return out;
}

/** Every built-in profile by id, of all three shapes. */
export const catalogue: ReadonlyMap<string, LoadedProfile> = loadCatalogue();

/** The built-in catalogue's folder (for `doorstep profile` and the golden tests). */
export const CATALOGUE_DIR: string = DIR.pathname;

/** Every register-map profile shipped with doorstep, by id. */
export const registerProfiles: ReadonlyMap<string, Readonly<RegisterProfile>> = new Map(
  [...catalogue.values()].flatMap((p) => (p.type === 'register' ? [[p.id, p.profile] as const] : [])),
);

export function getRegisterProfile(id: string): Readonly<RegisterProfile> {
  const profile = registerProfiles.get(id);
  if (!profile) throw new DoorstepError('DRV_ERR_UNKNOWN_PROFILE', { profile: id });
  return profile;
}
