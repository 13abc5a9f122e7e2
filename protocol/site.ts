import { z } from 'zod';

/**
 * Identifiers are lower-case slugs so they can sit in MQTT topics, ZeroMQ topic prefixes, URLs
 * and file names without escaping: `pudong`, `zhangjiang`, `lane-100`.
 */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const Slug = z
  .string()
  .regex(SLUG_PATTERN, 'must be a lower-case slug: a-z, 0-9, "-" or "_", ≤ 64 chars');

/**
 * A place in the three tiers: district (区) ⊃ town (街镇) ⊃ community (居村). A shorter path is a
 * scope that contains every longer path that starts with it.
 */
export const SitePath = z.object({
  district: Slug,
  town: Slug,
  community: Slug,
});
export type SitePath = z.infer<typeof SitePath>;

/** A scope is a prefix of a site path: district, district/town or district/town/community. */
export const ScopePath = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,63}(\/[a-z0-9][a-z0-9_-]{0,63}){0,2}$/,
    'must be district[/town[/community]]',
  );
export type ScopePath = z.infer<typeof ScopePath>;

export function formatSitePath(site: SitePath): string {
  return `${site.district}/${site.town}/${site.community}`;
}

export function parseSitePath(text: string): SitePath {
  const [district, town, community, ...rest] = text.split('/');
  return SitePath.parse({ district, town, community, ...(rest.length > 0 ? { extra: rest } : {}) });
}

/** True when `site` lies inside `scope` (a scope contains itself). */
export function scopeContains(scope: string, site: SitePath | string): boolean {
  const path = typeof site === 'string' ? site : formatSitePath(site);
  return path === scope || path.startsWith(`${scope}/`);
}

export const GatewayId = Slug;
export const DeviceId = Slug;
/** A point is one value a device reports: `gas`, `alarm`, `pressure`, `battery`, `door` … */
export const PointId = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a snake_case point name');
