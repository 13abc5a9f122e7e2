import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { SerialLink } from '../../../drivers/link/serial.js';
import { TcpLink } from '../../../drivers/link/tcp.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import { openPtyPair } from '../../support/pty.js';
import { until } from '../bus/helpers.js';

describe('SerialLink', () => {
  it('carries bytes both ways over a pty pair and reports the loss of the pty as DRV_ERR_LINK_DOWN', async () => {
    const pty = await openPtyPair();
    after(() => pty.close());
    const gateway = new SerialLink({
      path: pty.a,
      baudRate: 19200,
      parity: 'none',
      dataBits: 8,
      stopBits: 1,
    });
    const device = new SerialLink({ path: pty.b, baudRate: 19200, parity: 'none', dataBits: 8, stopBits: 1 });
    after(async () => {
      await gateway.close();
      await device.close();
    });
    await gateway.open();
    await device.open();
    await gateway.open(); // no-op
    assert.equal(gateway.name, `serial:${pty.a}`);
    const atDevice: Buffer[] = [];
    const atGateway: Buffer[] = [];
    device.onData((c) => atDevice.push(c));
    gateway.onData((c) => atGateway.push(c));
    await gateway.write(Buffer.from([1, 3, 0, 0, 0, 1]));
    await until(() => Buffer.concat(atDevice).length >= 6, 'bytes at the device');
    await device.write(Buffer.from('ok'));
    await until(() => Buffer.concat(atGateway).toString() === 'ok', 'bytes at the gateway');
    assert.deepEqual([...Buffer.concat(atDevice)], [1, 3, 0, 0, 0, 1]);

    const closes: Array<Error | undefined> = [];
    gateway.onClose((e) => closes.push(e));
    await device.close();
    await pty.close(); // socat exits: the pty behind the gateway link goes away
    await until(() => closes.length > 0, 'close notification', 5000);
    assert.ok(isDoorstepError(closes[0], 'DRV_ERR_LINK_DOWN'), String(closes[0]));
    assert.equal(gateway.isOpen, false);
    await assert.rejects(gateway.write(Buffer.from([0])), (e: unknown) =>
      isDoorstepError(e, 'DRV_ERR_LINK_DOWN'),
    );
  });

  it('fails to open a missing path with DRV_ERR_LINK_OPEN', async () => {
    const link = new SerialLink({ path: '/dev/serial/by-id/usb-doorstep-not-plugged-in' });
    await assert.rejects(link.open(), (e: unknown) => isDoorstepError(e, 'DRV_ERR_LINK_OPEN'));
    assert.equal(link.isOpen, false);
  });
});

describe('TcpLink', () => {
  it('connects, carries bytes, and reports the peer closing as DRV_ERR_LINK_DOWN', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const link = new TcpLink({ host: '127.0.0.1', port, connectTimeoutMs: 1000 });
    after(() => link.close());
    await link.open();
    assert.equal(link.isOpen, true);
    const received: Buffer[] = [];
    link.onData((c) => received.push(c));
    await link.write(Buffer.from('hi'));
    await until(() => Buffer.concat(received).toString() === 'echo:hi', 'echo');
    const closes: Array<Error | undefined> = [];
    link.onClose((e) => closes.push(e));
    for (const s of sockets) s.destroy();
    await until(() => closes.length > 0, 'close notification');
    assert.ok(isDoorstepError(closes[0], 'DRV_ERR_LINK_DOWN'));
    await assert.rejects(link.write(Buffer.from('x')), (e: unknown) =>
      isDoorstepError(e, 'DRV_ERR_LINK_DOWN'),
    );
  });

  it('reports a refused connection as DRV_ERR_LINK_OPEN and a deliberate close without an error', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await new Promise<void>((resolve) => server.close(() => resolve())); // nothing listens there now
    const refused = new TcpLink({ host: '127.0.0.1', port, connectTimeoutMs: 1000 });
    await assert.rejects(refused.open(), (e: unknown) => isDoorstepError(e, 'DRV_ERR_LINK_OPEN'));

    const liveSockets = new Set<Socket>();
    const live = createServer((socket) => {
      liveSockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => live.listen(0, '127.0.0.1', resolve));
    after(async () => {
      for (const s of liveSockets) s.destroy();
      await new Promise<void>((resolve) => live.close(() => resolve()));
    });
    const liveAddress = live.address();
    const link = new TcpLink({
      host: '127.0.0.1',
      port: typeof liveAddress === 'object' && liveAddress ? liveAddress.port : 0,
    });
    await link.open();
    const closes: Array<Error | undefined> = [];
    link.onClose((e) => closes.push(e));
    await link.close();
    assert.deepEqual(closes, [undefined]);
  });
});
