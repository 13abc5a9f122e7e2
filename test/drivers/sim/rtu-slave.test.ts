import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { RegisterBank, type RegisterChange, RtuSlave, SimUnit } from '../../../drivers/sim/index.js';
import { exchange, hex, rtuReply, rtuRequest } from './helpers.js';

// Byte-level checks of every function code and exception path (Modbus Application Protocol
// v1.1b3 §6, §7) over a MemoryLink pair, with frames built by hand and CRCs from drivers/modbus.

describe('RtuSlave over a MemoryLink: function codes', () => {
  const [master, bus] = MemoryLink.pair('rtu-fc');
  const bank = new RegisterBank();
  const changes: RegisterChange[] = [];
  bank.onChange((change) => changes.push(change));
  for (let i = 0; i < 10; i++) bank.setUint16('holding', i, 100 + i);
  for (let i = 0; i < 5; i++) bank.setUint16('input', i, 0x1000 + i);
  bank.setBits('coil', 0, [true, false, true, false, false, false, false, false, false, true]);
  bank.map('coil', 10, 10);
  bank.setBits('discrete', 0, [false, true, true]);
  const unit3 = new SimUnit({
    unitId: 3,
    bank,
    identity: { vendorName: 'ACME', productCode: 'GD-100', revision: '2.1' },
  });
  const unit5 = new SimUnit({ unitId: 5, bank: new RegisterBank({ unmappedAsZero: true }) });
  const slave = new RtuSlave({ link: bus, units: [unit3, unit5] });

  before(async () => {
    await master.open();
    await slave.start();
  });
  after(async () => {
    await slave.stop();
    await master.close();
  });

  it('03 read holding registers: 10 registers from 0', async () => {
    const reply = await exchange(master, rtuRequest(3, 0x03, 0x00, 0x00, 0x00, 0x0a), { expectedBytes: 25 });
    const words = Array.from({ length: 10 }, (_, i) => [0, 100 + i]).flat();
    assert.equal(hex(reply), hex(rtuReply(3, 0x03, 20, ...words)));
  });

  it('04 read input registers', async () => {
    const reply = await exchange(master, rtuRequest(3, 0x04, 0x00, 0x01, 0x00, 0x02), { expectedBytes: 9 });
    assert.equal(hex(reply), hex(rtuReply(3, 0x04, 4, 0x10, 0x01, 0x10, 0x02)));
  });

  it('01 read coils packs the first coil into the LSB (§6.1)', async () => {
    const reply = await exchange(master, rtuRequest(3, 0x01, 0x00, 0x00, 0x00, 0x0a), { expectedBytes: 7 });
    assert.equal(hex(reply), hex(rtuReply(3, 0x01, 2, 0b0000_0101, 0b0000_0010)));
  });

  it('02 read discrete inputs', async () => {
    const reply = await exchange(master, rtuRequest(3, 0x02, 0x00, 0x00, 0x00, 0x03), { expectedBytes: 6 });
    assert.equal(hex(reply), hex(rtuReply(3, 0x02, 1, 0b110)));
  });

  it('05 write single coil echoes the request and tells listeners it came from the master', async () => {
    changes.length = 0;
    const request = rtuRequest(3, 0x05, 0x00, 0x01, 0xff, 0x00);
    const reply = await exchange(master, request, { expectedBytes: 8 });
    assert.equal(hex(reply), hex(request));
    assert.equal(bank.getBit('coil', 1), true);
    assert.deepEqual(changes, [{ table: 'coil', address: 1, values: [1], source: 'master' }]);
  });

  it('05 with a value other than 0xFF00/0x0000 answers exception 03', async () => {
    const reply = await exchange(master, rtuRequest(3, 0x05, 0x00, 0x01, 0x12, 0x34), { expectedBytes: 5 });
    assert.equal(hex(reply), hex(rtuReply(3, 0x85, 0x03)));
  });

  it('06 write single register echoes the request', async () => {
    const request = rtuRequest(3, 0x06, 0x00, 0x04, 0xbe, 0xef);
    const reply = await exchange(master, request, { expectedBytes: 8 });
    assert.equal(hex(reply), hex(request));
    assert.equal(bank.getUint16('holding', 4), 0xbeef);
  });

  it('0F write multiple coils (the §6.11 example: 10 coils from CD 01)', async () => {
    const reply = await exchange(master, rtuRequest(3, 0x0f, 0x00, 0x0a, 0x00, 0x0a, 0x02, 0xcd, 0x01), {
      expectedBytes: 8,
    });
    assert.equal(hex(reply), hex(rtuReply(3, 0x0f, 0x00, 0x0a, 0x00, 0x0a)));
    const bits = bank.read('coil', 10, 10)!;
    assert.deepEqual(bits, [1, 0, 1, 1, 0, 0, 1, 1, 1, 0]);
  });

  it('10 write multiple registers', async () => {
    const reply = await exchange(
      master,
      rtuRequest(3, 0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0a, 0x01, 0x02),
      {
        expectedBytes: 8,
      },
    );
    assert.equal(hex(reply), hex(rtuReply(3, 0x10, 0x00, 0x01, 0x00, 0x02)));
    assert.deepEqual(bank.read('holding', 1, 2), [0x000a, 0x0102]);
  });

  it('exception 02 for unmapped addresses, reads crossing the map end, and past 0xFFFF', async () => {
    for (const [address, quantity] of [
      [50, 1],
      [8, 5],
      [0xffff, 2],
    ] as const) {
      const request = rtuRequest(3, 0x03, address >> 8, address & 0xff, 0, quantity);
      const reply = await exchange(master, request, { expectedBytes: 5 });
      assert.equal(hex(reply), hex(rtuReply(3, 0x83, 0x02)), `address ${address} × ${quantity}`);
    }
    const write = await exchange(master, rtuRequest(3, 0x06, 0x00, 0x63, 0x00, 0x01), { expectedBytes: 5 });
    assert.equal(hex(write), hex(rtuReply(3, 0x86, 0x02)));
  });

  it('exception 03 for quantities outside the spec limits (125 read, 123 write, 2000 bits)', async () => {
    const cases: Array<[string, Buffer, number]> = [
      ['0 registers', rtuRequest(3, 0x03, 0, 0, 0, 0), 0x83],
      ['126 registers', rtuRequest(3, 0x03, 0, 0, 0, 126), 0x83],
      ['2001 coils', rtuRequest(3, 0x01, 0, 0, 0x07, 0xd1), 0x81],
      [
        '124 registers written',
        rtuRequest(3, 0x10, 0, 0, 0, 124, 248, ...new Array<number>(248).fill(0)),
        0x90,
      ],
      ['byte count not 2 × quantity', rtuRequest(3, 0x10, 0, 0, 0, 2, 3, 1, 2, 3), 0x90],
    ];
    for (const [label, request, functionCode] of cases) {
      const reply = await exchange(master, request, { expectedBytes: 5 });
      assert.equal(hex(reply), hex(rtuReply(3, functionCode, 0x03)), label);
    }
    // 125 registers is legal: the check is on the quantity, then the map (only 10 mapped → 02).
    const atLimit = await exchange(master, rtuRequest(3, 0x03, 0, 0, 0, 125), { expectedBytes: 5 });
    assert.equal(hex(atLimit), hex(rtuReply(3, 0x83, 0x02)));
  });

  it('exception 01 for an unsupported function code, delimited by silence', async () => {
    const reply = await exchange(master, rtuRequest(3, 0x07), { expectedBytes: 5, quietMs: 100 });
    assert.equal(hex(reply), hex(rtuReply(3, 0x87, 0x01)));
  });

  it('2B/0E read device identification: basic stream, individual access, and its exceptions', async () => {
    const text = (s: string) => [...Buffer.from(s, 'latin1')];
    const basic = await exchange(master, rtuRequest(3, 0x2b, 0x0e, 0x01, 0x00), { quietMs: 30 });
    assert.equal(
      hex(basic),
      hex(
        rtuReply(
          3,
          0x2b,
          0x0e,
          0x01,
          0x81,
          0x00,
          0x00,
          3,
          0,
          4,
          ...text('ACME'),
          1,
          6,
          ...text('GD-100'),
          2,
          3,
          ...text('2.1'),
        ),
      ),
    );
    const one = await exchange(master, rtuRequest(3, 0x2b, 0x0e, 0x04, 0x01), { quietMs: 30 });
    assert.equal(hex(one), hex(rtuReply(3, 0x2b, 0x0e, 0x04, 0x81, 0x00, 0x00, 1, 1, 6, ...text('GD-100'))));
    const missing = await exchange(master, rtuRequest(3, 0x2b, 0x0e, 0x04, 0x05), { expectedBytes: 5 });
    assert.equal(hex(missing), hex(rtuReply(3, 0xab, 0x02)));
    const badCode = await exchange(master, rtuRequest(3, 0x2b, 0x0e, 0x05, 0x00), { expectedBytes: 5 });
    assert.equal(hex(badCode), hex(rtuReply(3, 0xab, 0x03)));
  });

  it('a bank that treats unmapped addresses as zero answers zeros', async () => {
    const reply = await exchange(master, rtuRequest(5, 0x03, 0x03, 0xe8, 0x00, 0x02), { expectedBytes: 9 });
    assert.equal(hex(reply), hex(rtuReply(5, 0x03, 4, 0, 0, 0, 0)));
  });

  it('stays silent for a unit it does not serve, as on a multi-drop bus', async () => {
    const before = slave.counters.otherUnits;
    const reply = await exchange(master, rtuRequest(9, 0x03, 0, 0, 0, 1), { quietMs: 60 });
    assert.equal(reply.length, 0);
    assert.equal(slave.counters.otherUnits, before + 1);
  });

  it('applies a broadcast write to every unit and does not reply', async () => {
    const reply = await exchange(master, rtuRequest(0, 0x06, 0x00, 0x02, 0x00, 0x2a), { quietMs: 60 });
    assert.equal(reply.length, 0);
    assert.equal(unit3.bank.getUint16('holding', 2), 42);
    assert.equal(unit5.bank.getUint16('holding', 2), 42);
    assert.equal(unit3.counters.broadcasts, 1);
    const read = await exchange(master, rtuRequest(0, 0x03, 0, 0, 0, 1), { quietMs: 60 });
    assert.equal(read.length, 0, 'broadcast reads get no reply');
  });

  it('ignores a request with a bad CRC and counts it; the next request after silence is served', async () => {
    const badCrcBefore = slave.counters.badCrc;
    const request = rtuRequest(3, 0x03, 0, 0, 0, 1);
    request[request.length - 1]! ^= 0x01;
    assert.equal((await exchange(master, request, { quietMs: 60 })).length, 0);
    assert.equal(slave.counters.badCrc, badCrcBefore + 1);
    const good = await exchange(master, rtuRequest(3, 0x03, 0, 0, 0, 1), { expectedBytes: 7 });
    assert.equal(hex(good), hex(rtuReply(3, 0x03, 2, 0, 100)));
  });

  it('drops garbage at the next silence and counts its bytes', async () => {
    const before = slave.counters.malformedBytes;
    const garbage = Buffer.from([0x03, 0x41, 0x42, 0x43, 0x44]);
    assert.equal((await exchange(master, garbage, { quietMs: 60 })).length, 0);
    assert.equal(slave.counters.malformedBytes, before + garbage.length);
    const good = await exchange(master, rtuRequest(3, 0x03, 0, 0, 0, 1), { expectedBytes: 7 });
    assert.equal(good.length, 7);
  });

  it('reassembles a request that arrives in pieces', async () => {
    const request = rtuRequest(3, 0x10, 0x00, 0x05, 0x00, 0x01, 0x02, 0x12, 0x34);
    const chunks: Buffer[] = [];
    const unsubscribe = master.onData((chunk) => chunks.push(chunk));
    // One write per byte: MemoryLink delivers each as its own chunk on a later macrotask. No sleeps
    // between them: a gap longer than the silence timeout would (rightly) end the frame.
    for (const byte of request) await master.write(Buffer.from([byte]));
    await sleep(40);
    unsubscribe();
    assert.equal(hex(Buffer.concat(chunks)), hex(rtuReply(3, 0x10, 0x00, 0x05, 0x00, 0x01)));
    assert.equal(bank.getUint16('holding', 5), 0x1234);
  });

  it('counts requests, replies and exceptions per unit', () => {
    assert.ok(unit3.counters.requests >= 20);
    assert.ok(unit3.counters.exceptions >= 10);
    assert.equal(unit3.counters.replies, unit3.counters.requests);
  });
});

describe('RtuSlave configuration', () => {
  it('rejects unit ids outside 1–247 and duplicates with SIM_ERR_CONFIG', () => {
    const [, bus] = MemoryLink.pair('cfg');
    assert.throws(() => new RtuSlave({ link: bus, units: [new SimUnit({ unitId: 248 })] }), {
      code: 'SIM_ERR_CONFIG',
    });
    assert.throws(() => new RtuSlave({ link: bus, units: [new SimUnit({ unitId: 0 })] }), {
      code: 'SIM_ERR_CONFIG',
    });
    assert.throws(
      () => new RtuSlave({ link: bus, units: [new SimUnit({ unitId: 1 }), new SimUnit({ unitId: 1 })] }),
      { code: 'SIM_ERR_CONFIG' },
    );
    assert.throws(
      () =>
        new RtuSlave({
          link: bus,
          pace: { baudRate: 0, parity: 'none', dataBits: 8, stopBits: 1, turnaroundMs: 0 },
        }),
      { code: 'SIM_ERR_CONFIG' },
    );
  });

  it('does no I/O in its constructor and stops cleanly', async () => {
    const [master, bus] = MemoryLink.pair('life');
    const slave = new RtuSlave({ link: bus, units: [new SimUnit({ unitId: 1 })] });
    assert.equal(bus.isOpen, false);
    await master.open();
    await slave.start();
    assert.equal(bus.isOpen, true);
    await slave.stop();
    assert.equal(bus.isOpen, false);
    await master.close();
  });
});
