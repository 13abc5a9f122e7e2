import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RegisterBank, SimUnit, TcpSlaveServer } from '../../../drivers/sim/index.js';
import { connectRaw, hex, mbap } from './helpers.js';

function unitWithHolding(unitId: number, base: number): SimUnit {
  const bank = new RegisterBank();
  for (let i = 0; i < 4; i++) bank.setUint16('holding', i, base + i);
  return new SimUnit({ unitId, bank });
}

describe('TcpSlaveServer', () => {
  const servers: TcpSlaveServer[] = [];
  const clients: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const client of clients) await client.close();
    for (const server of servers) await server.close();
  });

  async function start(options: ConstructorParameters<typeof TcpSlaveServer>[0]) {
    const server = new TcpSlaveServer(options);
    servers.push(server);
    const address = await server.listen();
    return { server, port: address.port, host: address.host };
  }
  async function client(port: number) {
    const c = await connectRaw(port);
    clients.push(c);
    return c;
  }

  const unit1 = unitWithHolding(1, 0x100);
  const unit2 = unitWithHolding(2, 0x200);
  let port = 0;
  let server: TcpSlaveServer;

  before(async () => {
    ({ server, port } = await start({ units: [unit1, unit2], unknownUnit: 'silence' }));
  });

  it('listens on 127.0.0.1 and a kernel-chosen port', () => {
    assert.equal(server.address?.host, '127.0.0.1');
    assert.ok(port > 0);
  });

  it('echoes the transaction id and routes by the MBAP unit id', async () => {
    const c = await client(port);
    const one = await c.send(mbap(0x1234, 1, 0x03, 0, 0, 0, 2), { expectedBytes: 13 });
    assert.equal(hex(one), hex(mbap(0x1234, 1, 0x03, 4, 0x01, 0x00, 0x01, 0x01)));
    const two = await c.send(mbap(0xbeef, 2, 0x03, 0, 1, 0, 1), { expectedBytes: 11 });
    assert.equal(hex(two), hex(mbap(0xbeef, 2, 0x03, 2, 0x02, 0x01)));
  });

  it('answers exceptions with the MBAP header (02 unmapped, 01 unknown function)', async () => {
    const c = await client(port);
    assert.equal(
      hex(await c.send(mbap(7, 1, 0x03, 0, 9, 0, 1), { expectedBytes: 9 })),
      hex(mbap(7, 1, 0x83, 0x02)),
    );
    assert.equal(
      hex(await c.send(mbap(8, 1, 0x08, 0, 0, 0, 0), { expectedBytes: 9 })),
      hex(mbap(8, 1, 0x88, 0x01)),
    );
  });

  it('answers pipelined requests in order and several connections at once', async () => {
    const a = await client(port);
    const b = await client(port);
    const both = Buffer.concat([mbap(1, 1, 0x03, 0, 0, 0, 1), mbap(2, 2, 0x03, 0, 0, 0, 1)]);
    const [ra, rb] = await Promise.all([
      a.send(both, { expectedBytes: 22 }),
      b.send(mbap(3, 1, 0x06, 0, 3, 0x12, 0x34), { expectedBytes: 12 }),
    ]);
    assert.equal(hex(ra), hex(mbap(1, 1, 0x03, 2, 0x01, 0x00)) + hex(mbap(2, 2, 0x03, 2, 0x02, 0x00)));
    assert.equal(hex(rb), hex(mbap(3, 1, 0x06, 0, 3, 0x12, 0x34)));
    assert.equal(unit1.bank.getUint16('holding', 3), 0x1234);
    assert.ok(server.connectionCount >= 2);
  });

  it('stays silent for unit ids it does not serve (default)', async () => {
    const c = await client(port);
    assert.equal((await c.send(mbap(9, 77, 0x03, 0, 0, 0, 1), { quietMs: 60 })).length, 0);
    assert.ok(server.counters.otherUnits >= 1);
  });

  it('answers unknown unit ids with exception 0x0B when configured as a gateway', async () => {
    const gw = await start({ units: [unitWithHolding(1, 0)], unknownUnit: 'gateway_exception' });
    const c = await client(gw.port);
    assert.equal(
      hex(await c.send(mbap(5, 9, 0x03, 0, 0, 0, 1), { expectedBytes: 9 })),
      hex(mbap(5, 9, 0x83, 0x0b)),
    );
  });

  it('answers every unit id from its first unit when answerAnyUnitId is set, echoing the id', async () => {
    const any = await start({ units: [unitWithHolding(1, 0x500)], answerAnyUnitId: true });
    const c = await client(any.port);
    for (const id of [0, 1, 42, 255]) {
      const reply = await c.send(mbap(id, id, 0x03, 0, 0, 0, 1), { expectedBytes: 11 });
      assert.equal(hex(reply), hex(mbap(id, id, 0x03, 2, 0x05, 0x00)), `unit id ${id}`);
    }
  });

  it('discards frames whose protocol id is not 0 and closes on an impossible length', async () => {
    const c = await client(port);
    const foreign = mbap(1, 1, 0x03, 0, 0, 0, 1);
    foreign.writeUInt16BE(1, 2);
    assert.equal((await c.send(foreign, { quietMs: 60 })).length, 0);
    const impossible = mbap(2, 1, 0x03, 0, 0, 0, 1);
    impossible.writeUInt16BE(400, 4);
    await c.send(impossible, { quietMs: 60 });
    assert.equal(c.socket.destroyed || c.socket.readableEnded, true);
    assert.ok(server.counters.badHeaders >= 2);
  });

  it('closes connections beyond maxConnections', async () => {
    const limited = await start({ units: [unitWithHolding(1, 0)], maxConnections: 1 });
    const first = await client(limited.port);
    const second = await client(limited.port);
    const reply = await second.send(mbap(1, 1, 0x03, 0, 0, 0, 1), { quietMs: 60 });
    assert.equal(reply.length, 0);
    assert.equal(limited.server.counters.connectionsRejected, 1);
    assert.equal((await first.send(mbap(1, 1, 0x03, 0, 0, 0, 1), { expectedBytes: 11 })).length, 11);
  });

  it('close() ends every connection and frees the port', async () => {
    const own = await start({ units: [unitWithHolding(1, 0)] });
    const c = await client(own.port);
    await own.server.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(c.socket.destroyed || c.socket.readableEnded, true);
    assert.equal(own.server.connectionCount, 0);
  });
});
