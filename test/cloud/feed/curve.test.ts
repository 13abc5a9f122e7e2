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

  it('server-side CURVE: a client with the server key receives; one without it or with another key cannot', async () => {
    const server = curveKeyPair();
    const pub = new ZmqFeedPublisher({
      curve: { serverSecretKey: server.secretKey, serverPublicKey: server.publicKey },
    });
    await pub.start();
    cleanups.push(() => pub.stop());
    const good = connected({
      endpoint: pub.endpoint,
      scope: 'pudong',
      curve: { serverPublicKey: server.publicKey },
    });
    const plain = connected({ endpoint: pub.endpoint, scope: 'pudong' });
    const wrongKey = connected({
      endpoint: pub.endpoint,
      scope: 'pudong',
      curve: { serverPublicKey: curveKeyPair().publicKey },
    });
    await warmUp(pub, good.sub, SITE);
    await assertRefused(pub, good.sub, plain, ['protocol', 'other']);
    await assertRefused(pub, good.sub, wrongKey, ['protocol', 'other']);
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
});
