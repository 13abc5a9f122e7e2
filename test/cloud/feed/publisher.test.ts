import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Subscriber } from 'zeromq';
import { ZmqFeedPublisher } from '../../../cloud/feed/publisher.js';
import { FeedSubscriber } from '../../../cloud/feed/subscriber.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import { FeedMessage, feedTopic } from '../../../protocol/feed.js';
import { collectUntilEnd, feedMessage, isEnd, isProbe, warmUp } from './helpers.js';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function startedPublisher(config: ConstructorParameters<typeof ZmqFeedPublisher>[0] = {}) {
  const pub = new ZmqFeedPublisher({ plaintextLoopback: true, ...config });
  await pub.start();
  cleanups.push(() => pub.stop());
  return pub;
}

function subscriber(
  pub: ZmqFeedPublisher,
  scope: string,
  extra: Partial<ConstructorParameters<typeof FeedSubscriber>[0]> = {},
) {
  const sub = new FeedSubscriber({ endpoint: pub.endpoint, scope, ...extra });
  sub.connect();
  cleanups.push(() => sub.close());
  return sub;
}

describe('ZmqFeedPublisher: topics and message format', () => {
  it('binds a free loopback port and sends [topic, JSON body] frames', async () => {
    const pub = await startedPublisher();
    assert.match(pub.endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const raw = new Subscriber({ linger: 0 });
    cleanups.push(() => raw.close());
    raw.subscribe('');
    raw.connect(pub.endpoint);
    const alarm = feedMessage('alarm', 'pudong/zhangjiang/lane-100', {
      type: 'gas_high',
      state: 'raised',
      value: 52,
    });
    let frames: Buffer[] | undefined;
    const received = raw.receive().then((f) => {
      frames = f;
    });
    while (frames === undefined) {
      pub.publish(alarm);
      await Promise.race([received, sleep(20)]);
    }
    assert.equal(frames.length, 2);
    assert.equal(frames[0]?.toString(), 'alarm/pudong/zhangjiang/lane-100/gw-1');
    assert.equal(frames[0]?.toString(), feedTopic('alarm', alarm.site, alarm.gateway));
    const body = FeedMessage.parse(JSON.parse(frames[1]?.toString() ?? ''));
    assert.deepEqual(body, alarm);
  });

  it('delivers a scope its own messages only (pudong/zhang never gets pudong/zhangjiang)', async () => {
    const pub = await startedPublisher();
    const zhang = subscriber(pub, 'pudong/zhang');
    const zhangjiang = subscriber(pub, 'pudong/zhangjiang');
    const district = subscriber(pub, 'pudong');
    const zhangAlarms = subscriber(pub, 'pudong/zhang', { kinds: ['alarm'] });
    const community = subscriber(pub, 'pudong/zhangjiang/lane-100');
    await warmUp(pub, zhang, 'pudong/zhang/c1');
    await warmUp(pub, zhangjiang, 'pudong/zhangjiang/lane-100');
    await warmUp(pub, district, 'pudong/zhang/c1');
    await warmUp(pub, zhangAlarms, 'pudong/zhang/c1', 'alarm');
    await warmUp(pub, community, 'pudong/zhangjiang/lane-100');
    const before = pub.stats();

    const a = feedMessage('alarm', 'pudong/zhangjiang/lane-100', { n: 'a' });
    const b = feedMessage('alarm', 'pudong/zhang/c1', { n: 'b' });
    const c = feedMessage('alarm', 'minhang/zhang/c1', { n: 'c' });
    const d = feedMessage('case', 'pudong/zhang/c1', { n: 'd', stage: 'remind' });
    const e = feedMessage('reading', 'pudong/zhangjiang/lane-1000', { n: 'e' });
    for (const m of [a, b, c, d, e]) pub.publish(m);
    // One end marker per community: every subscriber sees those in its scope, after a–e.
    pub.publish(feedMessage('alarm', 'pudong/zhang/c1', { end: true }));
    pub.publish(feedMessage('alarm', 'pudong/zhangjiang/lane-100', { end: true }));

    const names = (ms: FeedMessage[]) => ms.map((m) => m.data.n);
    assert.deepEqual(names(await collectUntilEnd(zhang)), ['b', 'd']);
    assert.deepEqual(names(await collectUntilEnd(zhangjiang)), ['a', 'e']);
    assert.deepEqual(names(await collectUntilEnd(district, 2)), ['a', 'b', 'd', 'e']);
    assert.deepEqual(names(await collectUntilEnd(zhangAlarms)), ['b']);
    assert.deepEqual(names(await collectUntilEnd(community)), ['a']);

    await pub.flush();
    const after = pub.stats();
    assert.equal(after.published - before.published, 7);
    assert.equal(after.sent - before.sent, 7);
    assert.equal(after.droppedTotal, 0);
  });

  it('rejects an invalid message with CLOUD_ERR_FEED_MESSAGE and publishes nothing', async () => {
    const pub = await startedPublisher();
    const good = feedMessage('alarm', 'pudong/zhang/c1');
    const bad: unknown[] = [
      { ...good, v: 2 },
      { ...good, kind: 'weather' },
      { ...good, site: { district: 'Pudong', town: 'zhang', community: 'c1' } },
      { ...good, ts: -1 },
      { ...good, extra: true },
      { ...good, data: 'text' },
    ];
    for (const msg of bad)
      assert.throws(
        () => pub.publish(msg as FeedMessage),
        (e) => isDoorstepError(e, 'CLOUD_ERR_FEED_MESSAGE'),
        JSON.stringify(msg),
      );
    assert.equal(pub.stats().published, 0);
    assert.equal(pub.stats().sent, 0);
  });

  it('refuses to publish unless running, and validates its configuration up front', async () => {
    const pub = new ZmqFeedPublisher({ plaintextLoopback: true });
    assert.throws(
      () => pub.publish(feedMessage('alarm', 'pudong/zhang/c1')),
      (e) => isDoorstepError(e, 'CLOUD_ERR_FEED_STATE'),
    );
    await pub.start();
    await pub.stop();
    assert.throws(
      () => pub.publish(feedMessage('alarm', 'pudong/zhang/c1')),
      (e) => isDoorstepError(e, 'CLOUD_ERR_FEED_STATE'),
    );
    assert.throws(
      () =>
        new ZmqFeedPublisher({
          endpoint: 'http://x',
          sendHighWaterMark: 0,
          curve: { serverSecretKey: 'short', serverPublicKey: 'x' },
        }),
      (e) => isDoorstepError(e, 'CFG_ERR_INVALID') && e.details.count === 4,
    );
  });

  it('reports a port already in use as CLOUD_ERR_FEED_BIND', async () => {
    const first = await startedPublisher();
    const second = new ZmqFeedPublisher({ endpoint: first.endpoint, plaintextLoopback: true });
    await assert.rejects(second.start(), (e) => isDoorstepError(e, 'CLOUD_ERR_FEED_BIND'));
    await second.stop();
  });
});

describe('ZmqFeedPublisher: high-water mark and queue drops are counted', () => {
  it('a subscriber that stops reading makes sends fail at the HWM; drops + sent = published', async () => {
    const pub = await startedPublisher({ sendHighWaterMark: 2 });
    const slow = subscriber(pub, 'pudong', { receiveHighWaterMark: 1 });
    await warmUp(pub, slow, 'pudong/zhang/c1');
    await pub.flush();
    const before = pub.stats();

    // Big bodies fill the kernel's socket buffers too, so the zeromq queue is soon full.
    const pad = 'x'.repeat(4096);
    const burst = 3000;
    for (let seq = 0; seq < burst; seq++)
      pub.publish(feedMessage('reading', 'pudong/zhang/c1', { seq, pad }));
    await pub.flush();
    const afterBurst = pub.stats();
    const dropped = afterBurst.dropped.hwm.reading - before.dropped.hwm.reading;
    const sent = afterBurst.sent - before.sent;
    assert.ok(dropped > 0, `expected drops at HWM, got ${dropped}`);
    assert.equal(sent + dropped, burst);
    assert.equal(afterBurst.droppedTotal - before.droppedTotal, dropped);
    assert.equal(afterBurst.queued, 0);

    // Now read everything: exactly the messages counted as sent arrive, in order, none twice.
    let reading = true;
    const collected = collectUntilEnd(slow).finally(() => {
      reading = false;
    });
    while (reading) {
      pub.publish(feedMessage('alarm', 'pudong/zhang/c1', { end: true }));
      await Promise.race([collected, sleep(20)]);
    }
    const seqs = (await collected).filter((m) => !isProbe(m) && !isEnd(m)).map((m) => Number(m.data.seq));
    assert.equal(seqs.length, sent);
    for (let i = 1; i < seqs.length; i++)
      assert.ok((seqs[i] ?? 0) > (seqs[i - 1] ?? 0), 'in order, no repeats');
  });

  it('counts what does not fit the internal queue, by kind', async () => {
    const pub = await startedPublisher({ queueLimit: 5 });
    // Published in one synchronous burst: the single send loop cannot make progress meanwhile.
    for (let i = 0; i < 40; i++)
      pub.publish(feedMessage(i % 2 ? 'alarm' : 'reading', 'pudong/zhang/c1', { i }));
    const during = pub.stats();
    assert.ok(during.queued <= 5);
    const queueFull = during.dropped.queueFull.alarm + during.dropped.queueFull.reading;
    assert.ok(during.dropped.queueFull.alarm > 0 && during.dropped.queueFull.reading > 0);
    await pub.flush();
    const done = pub.stats();
    assert.equal(done.published, 40);
    assert.equal(done.sent + done.droppedTotal, 40);
    assert.equal(done.droppedTotal, queueFull);
  });
});
