import { setTimeout as sleep } from 'node:timers/promises';
import type { ZmqFeedPublisher } from '../../../cloud/feed/publisher.js';
import type { FeedSubscriber } from '../../../cloud/feed/subscriber.js';
import type { FeedKind, FeedMessage } from '../../../protocol/feed.js';

let clock = 1_700_000_000_000;

/** A valid FeedMessage at `district/town/community` (a fixed, increasing clock: no wall time). */
export function feedMessage(
  kind: FeedKind,
  path: string,
  data: Record<string, unknown> = {},
  gateway = 'gw-1',
): FeedMessage {
  const [district = '', town = '', community = ''] = path.split('/');
  return { v: 1, kind, site: { district, town, community }, gateway, ts: clock++, data };
}

export const isProbe = (m: FeedMessage) => m.data.probe === true;
export const isEnd = (m: FeedMessage) => m.data.end === true;

/**
 * zeromq subscriptions travel to the publisher asynchronously after connect; until they arrive, a
 * PUB socket sends to nobody. Publish probes (inside the subscriber's scope) until one is received.
 * The pause between probes only paces retries; nothing is asserted about time.
 */
export async function warmUp(
  pub: ZmqFeedPublisher,
  sub: FeedSubscriber,
  path: string,
  kind: FeedKind = 'gateway',
) {
  let done = false;
  const first = sub.receive().then((m) => {
    done = true;
    return m;
  });
  while (!done) {
    pub.publish(feedMessage(kind, path, { probe: true }));
    await Promise.race([first, sleep(20)]);
  }
  return first;
}

/**
 * Reads until `ends` end markers arrived, returning what came before them (probes removed). zeromq
 * keeps order per connection, so everything published before the marker has been seen by then.
 */
export async function collectUntilEnd(sub: FeedSubscriber, ends = 1): Promise<FeedMessage[]> {
  const seen: FeedMessage[] = [];
  let endCount = 0;
  while (endCount < ends) {
    const m = await sub.receive();
    if (isEnd(m)) endCount++;
    else if (!isProbe(m)) seen.push(m);
  }
  return seen;
}
