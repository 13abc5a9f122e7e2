import { DoorstepError } from '../../../protocol/errors.js';
import { catalogue } from '../../profiles/catalogue/index.js';
import type { FrameProfile } from './schema.js';

/**
 * Every built-in frame profile by id: the `type: frame` files of the catalogue
 * (drivers/profiles/catalogue). Frozen: sites add profiles by passing their own registry.
 */
export const frameProfiles: Readonly<Record<string, FrameProfile>> = buildFrameRegistry(
  [...catalogue.values()].flatMap((p) => (p.type === 'frame' ? [p.profile] : [])),
);

/** Builds a registry, refusing two profiles with one id or one binary detector type code. */
export function buildFrameRegistry(
  profiles: readonly FrameProfile[],
): Readonly<Record<string, FrameProfile>> {
  const byId: Record<string, FrameProfile> = {};
  const byType = new Map<number, string>();
  for (const profile of profiles) {
    if (byId[profile.id]) {
      throw new DoorstepError('DRV_ERR_PROFILE', { profile: profile.id, reason: 'id registered twice' });
    }
    const clash = byType.get(profile.detectorType);
    if (clash) {
      throw new DoorstepError('DRV_ERR_PROFILE', {
        profile: profile.id,
        reason: `detectorType ${profile.detectorType} already used by ${clash}`,
      });
    }
    byId[profile.id] = profile;
    byType.set(profile.detectorType, profile.id);
  }
  return Object.freeze(byId);
}

export function getFrameProfile(
  id: string,
  registry: Readonly<Record<string, FrameProfile>> = frameProfiles,
): FrameProfile {
  const profile = Object.hasOwn(registry, id) ? registry[id] : undefined;
  if (!profile) throw new DoorstepError('DRV_ERR_UNKNOWN_PROFILE', { profile: id });
  return profile;
}
