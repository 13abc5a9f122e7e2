import { z } from 'zod';
import { SitePath } from './site.js';

/**
 * The tier feed: a ZeroMQ PUB socket of the cloud. Each message has two frames: the topic and a
 * JSON body. Topics are `kind/district/town/community/gateway`, so a town platform subscribes to
 * the prefix `alarm/pudong/zhangjiang/` and a district dashboard to `alarm/pudong/` (ZeroMQ
 * subscriptions are byte prefixes).
 */
export const FeedKind = z.enum([
  'reading', // telemetry as stored
  'alarm', // an alarm transition from a gateway
  'case', // the cloud's alarm case changed stage (预警 提醒 督办 反馈 办结) or state
  'device', // a device went online / offline
  'gateway', // gateway health
]);
export type FeedKind = z.infer<typeof FeedKind>;

export const FeedMessage = z
  .object({
    v: z.literal(1),
    kind: FeedKind,
    site: SitePath,
    gateway: z.string(),
    /** Cloud clock when published, ms. */
    ts: z.number().int().nonnegative(),
    data: z.record(z.string(), z.unknown()),
  })
  .strict();
export type FeedMessage = z.infer<typeof FeedMessage>;

export function feedTopic(kind: FeedKind, site: SitePath, gateway: string): string {
  return `${kind}/${site.district}/${site.town}/${site.community}/${gateway}`;
}

/**
 * The subscription prefixes for a scope path (`pudong/zhangjiang`): one per kind, since the kind
 * is the topic's first level. The trailing slash keeps `pudong/zhang` from matching `zhangjiang`.
 */
export function feedPrefixes(scope: string, kinds: readonly FeedKind[] = FeedKind.options): string[] {
  return kinds.map((kind) => `${kind}/${scope}/`);
}
