import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import {
  brokerEvent,
  collect,
  connectClient,
  GATEWAY,
  PASSWORDS,
  Resources,
  startBroker,
  subscribeGranted,
} from './helpers.js';

const resources = new Resources();
after(() => resources.dispose());

/** MQTT 3.1.1 §2.2.3: the remaining length as a variable-length integer. */
function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

function utf8(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([body.length >> 8, body.length & 0xff]), body]);
}

function packet(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), remainingLength(body.length), body]);
}

/**
 * A subscriber that stops reading its socket right after SUBACK, written by hand so nothing reads
 * on its behalf: CONNECT (§3.1: clean session, username, password, keep alive 0) and SUBSCRIBE (§3.8).
 */
async function stalledSubscriber(port: number, clientId: string, filter: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  resources.add(() => void socket.destroy());
  const connectBody = Buffer.concat([
    utf8('MQTT'),
    Buffer.from([4, 0xc2, 0, 0]), // level 4; flags: username, password, clean session; keep alive off
    utf8(clientId),
    utf8('watcher'),
    utf8(PASSWORDS.watcher),
  ]);
  const subscribeBody = Buffer.concat([Buffer.from([0, 1]), utf8(filter), Buffer.from([0])]);
  let received = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // CONNACK is 4 bytes (0x20 0x02 flags rc); SUBACK follows (0x90 0x03 id id granted).
      if (received.length >= 4 && received[3] !== 0) reject(new Error(`CONNACK refused: ${received[3]}`));
      if (received.length >= 9 && received[4] === 0x90) resolve();
    });
    socket.write(Buffer.concat([packet(0x10, connectBody), packet(0x82, subscribeBody)]));
  });
  socket.removeAllListeners('data');
  socket.pause(); // from here on nothing is read: the kernel buffers fill, then the broker's
  return socket;
}

describe('a stalled subscriber cannot stall the others', () => {
  it('keeps delivering to a healthy subscriber and disconnects the one that stopped reading', {
    timeout: 60_000,
  }, async () => {
    // drainTimeout is long on purpose: what must keep delivery going is the per-client send queue.
    const { broker, port } = await startBroker(resources, {
      limits: { clientBufferBytes: 512 * 1024, concurrency: 4, drainTimeoutMs: 600_000 },
    });
    const topic = `doorstep/${GATEWAY}/alarms/flood/smoke`;
    const stuckGone = brokerEvent(broker, 'clientDisconnect', (e) => e.clientId === 'watcher-stuck');
    const slow = brokerEvent(broker, 'slowClient', (e) => e.clientId === 'watcher-stuck');
    await stalledSubscriber(port, 'watcher-stuck', `doorstep/${GATEWAY}/alarms/#`);

    const healthy = await connectClient(resources, port, {
      clientId: 'watcher-healthy',
      username: 'watcher',
      password: PASSWORDS.watcher,
    });
    const inbox = collect(healthy);
    assert.deepEqual(await subscribeGranted(healthy, [`doorstep/${GATEWAY}/alarms/#`], 0), [0]);

    // 400 × 64 KiB = 25 MiB: far more than loopback socket buffers hold for the stuck reader.
    const count = 400;
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(64 * 1024, 0x20);
      payload.write(String(i));
      await broker.publish({ topic, payload, qos: 0 });
    }
    await inbox.next(count);
    const indices = new Set(inbox.messages.map((m) => Number.parseInt(m.payload, 10)));
    assert.equal(indices.size, count);
    const [slowEvent] = await slow;
    assert.ok(slowEvent.bufferedBytes > 512 * 1024);
    await stuckGone;
  });
});
