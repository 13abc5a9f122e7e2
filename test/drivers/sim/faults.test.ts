import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { hasValidCrc } from '../../../drivers/modbus/crc16.js';
import {
  FaultInjector,
  RegisterBank,
  RtuSlave,
  SimUnit,
  TcpSlaveServer,
} from '../../../drivers/sim/index.js';
import { connectRaw, exchange, hex, mbap, rtuReply, rtuRequest } from './helpers.js';

// Each fault mode's exact bytes on RTU and TCP, and the times / probability controls.

function makeUnit(unitId: number): SimUnit {
  const bank = new RegisterBank();
  bank.setUint16('holding', 0, 0x1234);
  bank.setUint16('holding', 1, 0x5678);
  return new SimUnit({ unitId, bank, seed: 42 });
}

const READ_TWO = rtuRequest(7, 0x03, 0, 0, 0, 2);
const CLEAN_REPLY = rtuReply(7, 0x03, 4, 0x12, 0x34, 0x56, 0x78);

describe('fault modes on an RTU bus', () => {
  const [master, bus] = MemoryLink.pair('faults');
  const unit = makeUnit(7);
  const slave = new RtuSlave({ link: bus, units: [unit] });
  before(async () => {
    await master.open();
    await slave.start();
  });
  afterEach(() => unit.faults.clear());
  after(async () => {
    await slave.stop();
    await master.close();
  });

  it('clean reply as the baseline', async () => {
    assert.equal(hex(await exchange(master, READ_TWO, { expectedBytes: 9 })), hex(CLEAN_REPLY));
  });

  it('silence: no reply and the request is not executed', async () => {
    unit.faults.set({ mode: 'silence' });
    const write = rtuRequest(7, 0x06, 0, 0, 0xaa, 0xaa);
    assert.equal((await exchange(master, write, { quietMs: 60 })).length, 0);
    assert.equal(unit.bank.getUint16('holding', 0), 0x1234);
    assert.equal(unit.faults.injected.silence, 1);
  });

  it('slow: the same bytes, only later', async () => {
    unit.faults.set({ mode: 'slow', delayMs: 150 });
    const early = await exchange(master, READ_TWO, { quietMs: 60 });
    assert.equal(early.length, 0, 'nothing within the first 60 ms');
    unit.faults.set({ mode: 'slow', delayMs: 80 });
    // The second reply (sent 60 ms later, 80 ms slow) arrives first, then the 150 ms one: both intact.
    const both = await exchange(master, READ_TWO, { expectedBytes: 18, quietMs: 300 });
    assert.equal(hex(both), hex(CLEAN_REPLY) + hex(CLEAN_REPLY));
    assert.equal(unit.faults.injected.slow, 2);
  });

  it('bad_crc: the reply with its CRC inverted', async () => {
    unit.faults.set({ mode: 'bad_crc' });
    const reply = await exchange(master, READ_TWO, { expectedBytes: 9 });
    assert.equal(hex(reply.subarray(0, 7)), hex(CLEAN_REPLY.subarray(0, 7)));
    assert.equal(reply.readUInt16LE(7), CLEAN_REPLY.readUInt16LE(7) ^ 0xffff);
    assert.equal(hasValidCrc(reply), false);
  });

  it('wrong_unit: a valid frame from another unit id (given, or the next id by default)', async () => {
    unit.faults.set({ mode: 'wrong_unit', unitId: 9 });
    assert.equal(
      hex(await exchange(master, READ_TWO, { expectedBytes: 9 })),
      hex(rtuReply(9, 0x03, 4, 0x12, 0x34, 0x56, 0x78)),
    );
    unit.faults.set({ mode: 'wrong_unit' });
    assert.equal(
      hex(await exchange(master, READ_TWO, { expectedBytes: 9 })),
      hex(rtuReply(8, 0x03, 4, 0x12, 0x34, 0x56, 0x78)),
    );
  });

  it('exception: the given code, and a write is not applied', async () => {
    unit.faults.set({ mode: 'exception', exceptionCode: 0x06 });
    assert.equal(hex(await exchange(master, READ_TWO, { expectedBytes: 5 })), hex(rtuReply(7, 0x83, 0x06)));
    const write = rtuRequest(7, 0x06, 0, 1, 0, 1);
    assert.equal(hex(await exchange(master, write, { expectedBytes: 5 })), hex(rtuReply(7, 0x86, 0x06)));
    assert.equal(unit.bank.getUint16('holding', 1), 0x5678);
  });

  it('short_frame: the reply truncated by k bytes', async () => {
    unit.faults.set({ mode: 'short_frame', dropBytes: 3 });
    assert.equal(hex(await exchange(master, READ_TWO, { quietMs: 40 })), hex(CLEAN_REPLY.subarray(0, 6)));
    unit.faults.set({ mode: 'short_frame', dropBytes: 100 });
    assert.equal(hex(await exchange(master, READ_TWO, { quietMs: 40 })), hex(CLEAN_REPLY.subarray(0, 1)));
  });

  it('garbage: random bytes instead of the reply, or before it, reproducible from the seed', async () => {
    unit.faults.set({ mode: 'garbage', length: 6 });
    const instead = await exchange(master, READ_TWO, { quietMs: 40 });
    assert.equal(instead.length, 6);
    assert.notEqual(hex(instead), hex(CLEAN_REPLY.subarray(0, 6)));
    unit.faults.set({ mode: 'garbage', length: 4, placement: 'before' });
    const before = await exchange(master, READ_TWO, { quietMs: 40 });
    assert.equal(before.length, 4 + CLEAN_REPLY.length);
    assert.equal(hex(before.subarray(4)), hex(CLEAN_REPLY));
    // The same seed and the same sequence of rolls give the same bytes.
    const twin = new FaultInjector(42);
    twin.set({ mode: 'garbage', length: 6 });
    assert.equal(hex(twin.decide({ unitId: 7, transport: 'rtu' }).garbage!.bytes), hex(instead));
  });

  it('times: a fault affects only the next N replies, then the unit answers cleanly', async () => {
    unit.faults.set({ mode: 'exception', exceptionCode: 4, times: 2 });
    assert.equal(hex(await exchange(master, READ_TWO, { expectedBytes: 5 })), hex(rtuReply(7, 0x83, 0x04)));
    assert.equal(hex(await exchange(master, READ_TWO, { expectedBytes: 5 })), hex(rtuReply(7, 0x83, 0x04)));
    assert.equal(hex(await exchange(master, READ_TWO, { expectedBytes: 9 })), hex(CLEAN_REPLY));
    assert.equal(unit.faults.list().length, 0);
  });

  it('faults combine: wrong unit and bad CRC on the same reply', async () => {
    unit.faults.set({ mode: 'wrong_unit', unitId: 1 }, { mode: 'bad_crc' });
    const reply = await exchange(master, READ_TWO, { expectedBytes: 9 });
    assert.equal(reply[0], 1);
    assert.equal(hasValidCrc(reply), false);
  });

  it('counts injected faults per mode and requests per unit', () => {
    const stats = unit.stats();
    assert.equal(stats.faults.bad_crc, 2);
    assert.equal(stats.faults.wrong_unit, 3);
    assert.equal(stats.faults.silence, 1);
    assert.ok(stats.requests >= 17);
  });
});

describe('fault probability', () => {
  it('triggers at about the given rate, identically for the same seed', () => {
    const rolls = (seed: number) => {
      const injector = new FaultInjector(seed);
      injector.set({ mode: 'silence', probability: 0.3 });
      return Array.from({ length: 2000 }, () => injector.decide({ unitId: 1, transport: 'rtu' }).silence);
    };
    const first = rolls(123);
    assert.deepEqual(rolls(123), first);
    assert.notDeepEqual(rolls(124), first);
    const rate = first.filter(Boolean).length / first.length;
    assert.ok(rate > 0.25 && rate < 0.35, `rate ${rate}`);
  });

  it('rejects impossible fault settings with SIM_ERR_CONFIG', () => {
    const injector = new FaultInjector();
    assert.throws(() => injector.add({ mode: 'silence', probability: 1.5 }), { code: 'SIM_ERR_CONFIG' });
    assert.throws(() => injector.add({ mode: 'short_frame', dropBytes: 0 }), { code: 'SIM_ERR_CONFIG' });
    assert.throws(() => injector.add({ mode: 'slow', delayMs: -1 }), { code: 'SIM_ERR_CONFIG' });
    assert.throws(() => injector.add({ mode: 'exception', exceptionCode: 0, times: 1 }), {
      code: 'SIM_ERR_CONFIG',
    });
    assert.throws(() => injector.add({ mode: 'silence', times: 0 }), { code: 'SIM_ERR_CONFIG' });
    assert.equal(injector.list().length, 0);
  });
});

describe('fault modes on TCP', () => {
  const unit = makeUnit(7);
  const server = new TcpSlaveServer({ units: [unit] });
  let client: Awaited<ReturnType<typeof connectRaw>>;
  const READ = mbap(0x0102, 7, 0x03, 0, 0, 0, 2);
  const CLEAN = mbap(0x0102, 7, 0x03, 4, 0x12, 0x34, 0x56, 0x78);
  before(async () => {
    const { port } = await server.listen();
    client = await connectRaw(port);
  });
  afterEach(() => unit.faults.clear());
  after(async () => {
    await client.close();
    await server.close();
  });

  it('bad_crc does not apply (no CRC in Modbus TCP) and is not counted', async () => {
    unit.faults.set({ mode: 'bad_crc' });
    assert.equal(hex(await client.send(READ, { expectedBytes: 13 })), hex(CLEAN));
    assert.equal(unit.faults.injected.bad_crc, 0);
  });

  it('wrong_unit, exception, short_frame and garbage change the MBAP reply', async () => {
    unit.faults.set({ mode: 'wrong_unit', unitId: 3 });
    assert.equal(
      hex(await client.send(READ, { expectedBytes: 13 })),
      hex(mbap(0x0102, 3, 0x03, 4, 0x12, 0x34, 0x56, 0x78)),
    );
    unit.faults.set({ mode: 'exception', exceptionCode: 2 });
    assert.equal(hex(await client.send(READ, { expectedBytes: 9 })), hex(mbap(0x0102, 7, 0x83, 0x02)));
    unit.faults.set({ mode: 'short_frame', dropBytes: 2 });
    assert.equal(hex(await client.send(READ, { quietMs: 40 })), hex(CLEAN.subarray(0, CLEAN.length - 2)));
    unit.faults.set({ mode: 'garbage', length: 5, placement: 'before' });
    const garbled = await client.send(READ, { quietMs: 40 });
    assert.equal(hex(garbled.subarray(5)), hex(CLEAN));
  });

  it('silence and slow', async () => {
    unit.faults.set({ mode: 'silence', times: 1 });
    assert.equal((await client.send(READ, { quietMs: 60 })).length, 0);
    unit.faults.set({ mode: 'slow', delayMs: 120, times: 1 });
    assert.equal((await client.send(READ, { quietMs: 50 })).length, 0, 'nothing within 50 ms');
    // the slow reply arrives later on the same connection; the next request queues behind it
    const next = await client.send(mbap(0x0103, 7, 0x03, 0, 0, 0, 2), { expectedBytes: 26, quietMs: 300 });
    assert.equal(hex(next), hex(CLEAN) + hex(mbap(0x0103, 7, 0x03, 4, 0x12, 0x34, 0x56, 0x78)));
  });
});
