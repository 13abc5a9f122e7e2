import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { curveKeyPair } from 'zeromq';
import { z85Decode } from '../../../cloud/feed/curve.js';
import { ZmqFeedPublisher } from '../../../cloud/feed/publisher.js';
import { FeedSubscriber, type HandshakeFailure } from '../../../cloud/feed/subscriber.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import { collectUntilEnd, feedMessage, warmUp } from './helpers.js';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const SITE = 'pudong/zhang/c1';

function connected(options: ConstructorParameters<typeof FeedSubscriber>[0]) {
  const sub = new FeedSubscriber(options);
  const failure = new Promise<HandshakeFailure>((resolve) => sub.onHandshakeFailure(resolve));
  sub.connect();
  cleanups.push(() => sub.close());
  return { sub, failure };
}

/**
 * A refused client never receives: its handshake fails (observed as an event, not a timeout), and
 * by the time an accepted client has the end marker, the refused one has received nothing.
 */
async function assertRefused(
  pub: ZmqFeedPublisher,
  good: FeedSubscriber,
  refused: { sub: FeedSubscriber; failure: Promise<HandshakeFailure> },
  type: HandshakeFailure['type'][],
) {
  const failure = await refused.failure;
  assert.ok(type.includes(failure.type), `${failure.type}: ${failure.reason}`);
  // The refused client is reading the whole time; closing it at cleanup ends this receive.
  let leaked: unknown;
  refused.sub.receive().then(
    (m) => {
      leaked = m;
    },
    () => undefined,
  );
  pub.publish(feedMessage('alarm', SITE, { n: 1 }));
  pub.publish(feedMessage('alarm', SITE, { end: true }));
  assert.deepEqual(
    (await collectUntilEnd(good)).map((m) => m.data.n),
    [1],
  );
  assert.equal(leaked, undefined);
  assert.equal(refused.sub.stats().received, 0);
}

describe('tier feed CURVE', () => {
  it('decodes Z85 keys to 32 bytes (RFC 32 test vector)', () => {
    assert.deepEqual([...z85Decode('HelloWorld')], [0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    assert.equal(z85Decode(curveKeyPair().publicKey).length, 32);
  });

  it('CURVE without listed keys admits nobody: knowing the server key is not enough', async () => {
    const server = curveKeyPair();
    const listed = curveKeyPair();
    const pub = new ZmqFeedPublisher({
      curve: {
        serverSecretKey: server.secretKey,
        serverPublicKey: server.publicKey,
        clientPublicKeys: [listed.publicKey],
      },
    });
    await pub.start();
    cleanups.push(() => pub.stop());
    const good = connected({
      endpoint: pub.endpoint,
      scope: 'pudong',
      curve: {
        serverPublicKey: server.publicKey,
        clientPublicKey: listed.publicKey,
        clientSecretKey: listed.secretKey,
      },
    });
    const plain = connected({ endpoint: pub.endpoint, scope: 'pudong' });
    const wrongServerKey = connected({
      endpoint: pub.endpoint,
      scope: 'pudong',
      curve: { serverPublicKey: curveKeyPair().publicKey },
    });
    const serverKeyOnly = connected({
      endpoint: pub.endpoint,
      scope: 'pudong',
      curve: { serverPublicKey: server.publicKey },
    });
    await warmUp(pub, good.sub, SITE);
    await assertRefused(pub, good.sub, plain, ['protocol', 'other']);
    await assertRefused(pub, good.sub, wrongServerKey, ['protocol', 'other']);
    await assertRefused(pub, good.sub, serverKeyOnly, ['auth']);
  });

  it('with an allow-list, only listed client keys are admitted and refusals are counted', async () => {
    const server = curveKeyPair();
    const listed = curveKeyPair();
    const pub = new ZmqFeedPublisher({
      curve: {
        serverSecretKey: server.secretKey,
        serverPublicKey: server.publicKey,
        clientPublicKeys: [listed.publicKey],
      },
    });
    await pub.start();
    cleanups.push(() => pub.stop());
    const good = connected({
      endpoint: pub.endpoint,
      scope: 'pudong/zhang',
      curve: {
        serverPublicKey: server.publicKey,
        clientPublicKey: listed.publicKey,
        clientSecretKey: listed.secretKey,
      },
    });
    const unlisted = connected({
      endpoint: pub.endpoint,
      scope: 'pudong/zhang',
      curve: { serverPublicKey: server.publicKey },
    });
    await warmUp(pub, good.sub, SITE);
    await assertRefused(pub, good.sub, unlisted, ['auth']);
    assert.ok(pub.stats().authDenied > 0);
  });

  it('rejects malformed keys before any I/O', () => {
    assert.throws(
      () =>
        new FeedSubscriber({
          endpoint: 'tcp://127.0.0.1:1',
          scope: 'pudong',
          curve: { serverPublicKey: 'abc' },
        }),
      (e) => isDoorstepError(e, 'CLOUD_ERR_FEED_CONNECT'),
    );
    const { publicKey } = curveKeyPair();
    assert.throws(
      () =>
        new ZmqFeedPublisher({
          curve: { serverSecretKey: publicKey, serverPublicKey: publicKey, clientPublicKeys: ['x'] },
        }),
      (e) => isDoorstepError(e, 'CFG_ERR_INVALID'),
    );
  });

  it('a scope is bound to the subscriber key: a town sees only its town at its outlet, even with the empty prefix, and nothing elsewhere', async () => {
    const server = curveKeyPair();
    const townA = curveKeyPair();
    const townB = curveKeyPair();
    const district = curveKeyPair();
    const pub = new ZmqFeedPublisher({
      curve: {
        serverSecretKey: server.secretKey,
        serverPublicKey: server.publicKey,
        clientPublicKeys: [district.publicKey],
        scoped: [
          { scope: 'pudong/zhang', endpoint: 'tcp://127.0.0.1:*', clientPublicKeys: [townA.publicKey] },
          { scope: 'pudong/lujia', endpoint: 'tcp://127.0.0.1:*', clientPublicKeys: [townB.publicKey] },
        ],
      },
    });
    await pub.start();
    cleanups.push(() => pub.stop());
    const keys = (pair: { publicKey: string; secretKey: string }) => ({
      serverPublicKey: server.publicKey,
      clientPublicKey: pair.publicKey,
      clientSecretKey: pair.secretKey,
    });
    // Town A asks for the whole district (the empty scope a hostile subscriber would use).
    const a = connected({
      endpoint: pub.scopedEndpoint('pudong/zhang'),
      scope: 'pudong',
      curve: keys(townA),
    });
    const whole = connected({ endpoint: pub.endpoint, scope: 'pudong', curve: keys(district) });
    await warmUp(pub, a.sub, 'pudong/zhang/c1');
    await warmUp(pub, whole.sub, 'pudong/zhang/c1');
    pub.publish(feedMessage('alarm', 'pudong/lujia/c9', { n: 'town-b' }));
    pub.publish(feedMessage('alarm', 'pudong/zhang/c1', { n: 'town-a' }));
    pub.publish(feedMessage('alarm', 'pudong/zhang/c1', { end: true }));
    pub.publish(feedMessage('alarm', 'pudong/lujia/c9', { end: true }));
    assert.deepEqual(
      (await collectUntilEnd(a.sub)).map((m) => m.data.n),
      ['town-a'],
    );
    assert.deepEqual(
      (await collectUntilEnd(whole.sub, 2)).map((m) => m.data.n),
      ['town-b', 'town-a'],
    );
    // Town A's key at town B's outlet and at the district outlet: refused by the ZAP handler.
    const atB = connected({
      endpoint: pub.scopedEndpoint('pudong/lujia'),
      scope: 'pudong',
      curve: keys(townA),
    });
    assert.equal((await atB.failure).type, 'auth');
    const atDistrict = connected({ endpoint: pub.endpoint, scope: 'pudong', curve: keys(townA) });
    assert.equal((await atDistrict.failure).type, 'auth');
    assert.equal(atB.sub.stats().received + atDistrict.sub.stats().received, 0);
  });

  it('refuses a feed without CURVE unless explicitly loopback-only', () => {
    assert.throws(
      () => new ZmqFeedPublisher({}),
      (e) => isDoorstepError(e, 'CFG_ERR_INVALID') && /curve: a feed without CURVE/.test(e.message),
    );
    assert.throws(
      () => new ZmqFeedPublisher({ endpoint: 'tcp://0.0.0.0:5556', plaintextLoopback: true }),
      (e) =>
        isDoorstepError(e, 'CFG_ERR_INVALID') && /endpoint: plaintextLoopback allows only/.test(e.message),
    );
    new ZmqFeedPublisher({ endpoint: 'ipc:///tmp/doorstep-feed-test', plaintextLoopback: true });
  });
});
