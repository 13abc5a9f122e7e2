// Tier feed throughput over loopback TCP: alarm-shaped FeedMessages through ZmqFeedPublisher
// (validation, JSON, the one-send-at-a-time queue) to one FeedSubscriber reading in the same
// process: first as fast as the queue drains (overload: what gets through, what is dropped and
// counted), then at an offered 12 000 msg/s (chunks of 120 every 10 ms), where nothing should drop.
// Target (ours): ≥ 12 000 msg/s delivered — eKuiper's 12 000 msg/s on a Pi 3B+ (docs/field-lessons.md),
// so the feed is never the slow stage after ingest. Drops are reported, not hidden.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZmqFeedPublisher } from '../../cloud/feed/publisher.js';
import { FeedSubscriber } from '../../cloud/feed/subscriber.js';
import type { FeedMessage } from '../../protocol/feed.js';
import { report } from './report.js';

function alarm(seq: number, extra: Record<string, unknown> = {}): FeedMessage {
  return {
    v: 1,
    kind: 'alarm',
    site: { district: 'pudong', town: 'zhangjiang', community: `lane-${seq % 40}` },
    gateway: `gw-${seq % 40}`,
    ts: 1_700_000_000_000 + seq,
    data: {
      id: `a-${seq}-xxxxxxxx`,
      type: 'gas_high',
      state: 'raised',
      severity: 'critical',
      value: 52.5,
      seq,
      ...extra,
    },
  };
}

const pub = new ZmqFeedPublisher({ plaintextLoopback: true });
await pub.start();
const sub = new FeedSubscriber({ endpoint: pub.endpoint, scope: 'pudong/zhangjiang' });
sub.connect();

// Warm up: wait until the subscription has reached the publisher.
let ready = false;
const first = sub.receive().then(() => {
  ready = true;
});
while (!ready) {
  pub.publish(alarm(-1, { probe: true }));
  await Promise.race([first, sleep(20)]);
}
await pub.flush();

/**
 * Publishes `total` messages in chunks; with `paceMs`, one chunk per paceMs (an offered rate),
 * else as fast as the queue drains (overload). Returns what arrived and what was counted.
 */
async function phase(label: string, total: number, chunk: number, paceMs?: number) {
  const base = pub.stats();
  let received = 0;
  let endSeen = false;
  const reader = (async () => {
    for (;;) {
      const m = await sub.receive();
      if (m.data.probe || m.data.phase !== label) continue;
      if (m.data.end) {
        endSeen = true;
        return;
      }
      received++;
    }
  })();
  const t0 = performance.now();
  let publishMs = 0;
  for (let start = 0; start < total; start += chunk) {
    const p0 = performance.now();
    for (let i = start; i < start + chunk; i++) pub.publish(alarm(i, { phase: label }));
    publishMs += performance.now() - p0;
    await pub.flush();
    if (paceMs === undefined) await new Promise((resolve) => setImmediate(resolve));
    else await sleep(Math.max(0, t0 + ((start + chunk) / chunk) * paceMs - performance.now()));
  }
  while (!endSeen) {
    pub.publish(alarm(total, { phase: label, end: true }));
    await Promise.race([reader, sleep(5)]);
  }
  const seconds = (performance.now() - t0) / 1000;
  const stats = pub.stats();
  return {
    received,
    seconds,
    publishMs,
    dropped: stats.dropped.hwm.alarm - base.dropped.hwm.alarm,
    sent: stats.sent - base.sent,
  };
}

const overload = await phase('overload', 100_000, 1000);
report({
  name: 'feed delivered throughput under overload (1 subscriber, loopback)',
  value: Math.round(overload.received / overload.seconds),
  unit: 'msg/s',
  target: 12_000,
  comparator: '>=',
  note: `${overload.received} of 100000 received; ${overload.dropped} dropped at HWM, all counted (sent ${overload.sent} incl. end markers)`,
});
report({
  name: 'feed publish() cost (validate + JSON + enqueue)',
  value: (overload.publishMs * 1000) / 100_000,
  unit: 'µs/msg',
  target: 20,
  comparator: '<=',
});
// 12 000 msg/s offered for 2 s: 120 messages every 10 ms.
const paced = await phase('paced', 24_000, 120, 10);
report({
  name: 'feed drops at an offered 12 000 msg/s',
  value: (100 * paced.dropped) / 24_000,
  unit: '%',
  target: 0.1,
  comparator: '<=',
  note: `${paced.received} of 24000 received in ${paced.seconds.toFixed(2)} s; default sendHighWaterMark 1000`,
});

sub.close();
await pub.stop();
