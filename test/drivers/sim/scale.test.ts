import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { RegisterBank, RtuSlave, SimUnit, TcpSlaveServer } from '../../../drivers/sim/index.js';
import { connectRaw, exchange, hex, mbap, rtuReply, rtuRequest } from './helpers.js';

// 500 simulated units from one process: 300 over 10 TCP servers (30 each) and 200 over 5 RTU buses
// (40 each). Every unit is polled and must answer with its own value.

const TCP_SERVERS = 10;
const UNITS_PER_SERVER = 30;
const RTU_BUSES = 5;
const UNITS_PER_BUS = 40;

function unitWithSignature(unitId: number, signature: number): SimUnit {
  return new SimUnit({ unitId, bank: new RegisterBank().setUint16('input', 0, signature) });
}

describe('500 units in one process', () => {
  const servers: TcpSlaveServer[] = [];
  const buses: Array<{ slave: RtuSlave; master: MemoryLink; units: SimUnit[] }> = [];
  const tcpUnits: SimUnit[][] = [];

  before(async () => {
    for (let s = 0; s < TCP_SERVERS; s++) {
      const units = Array.from({ length: UNITS_PER_SERVER }, (_, i) =>
        unitWithSignature(i + 1, s * 1000 + i),
      );
      tcpUnits.push(units);
      const server = new TcpSlaveServer({ units });
      servers.push(server);
      await server.listen();
    }
    for (let b = 0; b < RTU_BUSES; b++) {
      const [master, bus] = MemoryLink.pair(`bus${b}`);
      const units = Array.from({ length: UNITS_PER_BUS }, (_, i) =>
        unitWithSignature(i + 1, 50_000 + b * 100 + i),
      );
      const slave = new RtuSlave({ link: bus, units });
      await master.open();
      await slave.start();
      buses.push({ slave, master, units });
    }
  });
  after(async () => {
    for (const server of servers) await server.close();
    for (const { slave, master } of buses) {
      await slave.stop();
      await master.close();
    }
  });

  it('every TCP unit answers its own register, per server over one connection', async () => {
    await Promise.all(
      servers.map(async (server, s) => {
        const client = await connectRaw(server.address!.port);
        try {
          const requests = Buffer.concat(
            Array.from({ length: UNITS_PER_SERVER }, (_, i) => mbap(i, i + 1, 0x04, 0, 0, 0, 1)),
          );
          const replies = await client.send(requests, {
            expectedBytes: UNITS_PER_SERVER * 11,
            quietMs: 2000,
          });
          const expected = Array.from({ length: UNITS_PER_SERVER }, (_, i) => {
            const value = s * 1000 + i;
            return hex(mbap(i, i + 1, 0x04, 2, value >> 8, value & 0xff));
          }).join('');
          assert.equal(hex(replies), expected);
        } finally {
          await client.close();
        }
      }),
    );
    for (const units of tcpUnits) for (const unit of units) assert.equal(unit.counters.requests, 1);
  });

  it('every RTU unit answers on its bus, buses polled concurrently', async () => {
    await Promise.all(
      buses.map(async ({ master }, b) => {
        for (let i = 0; i < UNITS_PER_BUS; i++) {
          const value = 50_000 + b * 100 + i;
          const reply = await exchange(master, rtuRequest(i + 1, 0x04, 0, 0, 0, 1), {
            expectedBytes: 7,
            quietMs: 2000,
          });
          assert.equal(hex(reply), hex(rtuReply(i + 1, 0x04, 2, value >> 8, value & 0xff)));
        }
      }),
    );
    const served = buses.flatMap(({ units }) => units).filter((unit) => unit.counters.requests === 1).length;
    assert.equal(served, RTU_BUSES * UNITS_PER_BUS);
    assert.equal(servers.length * UNITS_PER_SERVER + served, 500);
  });
});
