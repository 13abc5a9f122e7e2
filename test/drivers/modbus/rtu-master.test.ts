import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { RtuMaster } from '../../../drivers/modbus/rtu-master.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import { registersPdu, rtu, scriptRtuSlave } from './scripted-slave.js';

async function pair(name: string) {
  const [gateway, device] = MemoryLink.pair(name);
  await gateway.open();
  await device.open();
  after(async () => {
    await gateway.close();
    await device.close();
  });
  return { gateway, device };
}

function rejectsWith(code: string, check?: (details: Record<string, unknown>) => void) {
  return (error: unknown) => {
    assert.ok(isDoorstepError(error), `expected a DoorstepError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    check?.(error.details);
    return true;
  };
}

/** Replies to function 3 with registers address, address+1, … so every reply is recognisable. */
function holdingEcho(unitId: number, pdu: Buffer): Buffer {
  const address = pdu.readUInt16BE(1);
  const count = pdu.readUInt16BE(3);
  return rtu(
    unitId,
    registersPdu(
      3,
      Array.from({ length: count }, (_, i) => address + i),
    ),
  );
}

describe('RtuMaster', () => {
  it('reads all four tables and decodes bits least-significant first', async () => {
    const { gateway, device } = await pair('rtu-read');
    scriptRtuSlave(device, ({ unitId, pdu }) => {
      const fc = pdu[0]!;
      if (fc === 1) return { bytes: rtu(unitId, [1, 2, 0b0000_0101, 0b1]) };
      if (fc === 2) return { bytes: rtu(unitId, [2, 1, 0b10]) };
      if (fc === 3) return { bytes: holdingEcho(unitId, pdu) };
      if (fc === 4) return { bytes: rtu(unitId, registersPdu(4, [0xffff, 7])) };
      return undefined;
    });
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 500 });
    after(() => master.dispose());
    assert.deepEqual(await master.readCoils(3, 0, 9), [
      true,
      false,
      true,
      false,
      false,
      false,
      false,
      false,
      true,
    ]);
    assert.deepEqual(await master.readDiscreteInputs(3, 0, 2), [false, true]);
    assert.deepEqual(await master.readHoldingRegisters(3, 100, 3), [100, 101, 102]);
    assert.deepEqual(await master.readInputRegisters(3, 0, 2), [0xffff, 7]);
  });

  it('writes with functions 5, 6, 15 and 16 in the encoding of MBAP v1.1b3 §6', async () => {
    const { gateway, device } = await pair('rtu-write');
    const { seen } = scriptRtuSlave(device, ({ unitId, pdu }) => ({
      bytes: rtu(unitId, pdu.subarray(0, 5)),
    }));
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 500 });
    after(() => master.dispose());
    await master.writeCoil(1, 10, true);
    await master.writeRegister(1, 11, 0x1234);
    await master.writeCoils(1, 20, [true, false, true, true, false, false, false, false, true]);
    await master.writeRegisters(1, 30, [1, 2]);
    assert.deepEqual(
      seen.map((r) => [...r.pdu]),
      [
        [5, 0, 10, 0xff, 0],
        [6, 0, 11, 0x12, 0x34],
        [15, 0, 20, 0, 9, 2, 0b0000_1101, 0b1],
        [16, 0, 30, 0, 2, 4, 0, 1, 0, 2],
      ],
    );
  });

  it('assembles a reply that arrives in pieces by its expected length', async () => {
    const { gateway, device } = await pair('rtu-split');
    scriptRtuSlave(device, ({ unitId, pdu }) => ({
      bytes: holdingEcho(unitId, pdu),
      pieces: 5,
      pieceGapMs: 5,
    }));
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 1000 });
    after(() => master.dispose());
    assert.deepEqual(await master.readHoldingRegisters(1, 0, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('runs concurrent calls one after another, never overlapping on the line', async () => {
    const { gateway, device } = await pair('rtu-serial');
    let inFlight = 0;
    let maxInFlight = 0;
    scriptRtuSlave(device, ({ unitId, pdu }) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => inFlight--, 9);
      return { bytes: holdingEcho(unitId, pdu), delayMs: 10 };
    });
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 1000 });
    after(() => master.dispose());
    const results = await Promise.all(
      [1, 2, 3, 4].map((unit) => master.readHoldingRegisters(unit, unit * 10, 1)),
    );
    assert.deepEqual(results, [[10], [20], [30], [40]]);
    assert.equal(maxInFlight, 1);
  });

  it('times out with DRV_ERR_TIMEOUT, never matches the late reply to the next request, and recovers', async () => {
    const { gateway, device } = await pair('rtu-late');
    scriptRtuSlave(device, ({ unitId, pdu }, index) => ({
      bytes: holdingEcho(unitId, pdu),
      delayMs: index === 0 ? 80 : 0,
    }));
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 40, flushQuietMs: 150 });
    after(() => master.dispose());
    await assert.rejects(
      master.readHoldingRegisters(1, 500, 1),
      rejectsWith('DRV_ERR_TIMEOUT', (d) => assert.equal(d.timeoutMs, 40)),
    );
    // Same unit, function and length: only the flush can keep the late [500] away from this request.
    assert.deepEqual(await master.readHoldingRegisters(1, 600, 1), [600]);
    assert.equal(master.lateReplies, 1, 'the late reply was discarded and counted as late');
  });

  it('reports a bad CRC as DRV_ERR_CRC and recovers on the next request', async () => {
    const { gateway, device } = await pair('rtu-crc');
    scriptRtuSlave(device, ({ unitId, pdu }, index) => {
      const bytes = holdingEcho(unitId, pdu);
      if (index === 0) bytes[bytes.length - 1]! ^= 0xff;
      return { bytes };
    });
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 300 });
    after(() => master.dispose());
    await assert.rejects(master.readHoldingRegisters(1, 0, 2), rejectsWith('DRV_ERR_CRC'));
    assert.deepEqual(await master.readHoldingRegisters(1, 0, 2), [0, 1]);
  });

  it('reports a reply from another unit as DRV_ERR_UNIT_MISMATCH with both ids', async () => {
    const { gateway, device } = await pair('rtu-unit');
    scriptRtuSlave(device, ({ unitId, pdu }, index) => ({
      bytes: holdingEcho(index === 0 ? 9 : unitId, pdu),
    }));
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 300 });
    after(() => master.dispose());
    await assert.rejects(
      master.readHoldingRegisters(2, 0, 1),
      rejectsWith('DRV_ERR_UNIT_MISMATCH', (d) => assert.deepEqual([d.got, d.expected], [9, 2])),
    );
    assert.deepEqual(await master.readHoldingRegisters(2, 0, 1), [0]);
  });

  it('reports an exception reply as DRV_ERR_EXCEPTION with its §7 name', async () => {
    const { gateway, device } = await pair('rtu-exception');
    scriptRtuSlave(device, ({ unitId, pdu }, index) => ({
      bytes: index === 0 ? rtu(unitId, [0x83, 0x02]) : holdingEcho(unitId, pdu),
    }));
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 300 });
    after(() => master.dispose());
    await assert.rejects(
      master.readHoldingRegisters(1, 9999, 1),
      rejectsWith('DRV_ERR_EXCEPTION', (d) => {
        assert.equal(d.exceptionCode, 2);
        assert.equal(d.exceptionName, 'ILLEGAL DATA ADDRESS');
      }),
    );
    assert.deepEqual(await master.readHoldingRegisters(1, 1, 1), [1]);
  });

  it('reports a truncated reply as DRV_ERR_SHORT_FRAME with the byte counts', async () => {
    const { gateway, device } = await pair('rtu-short');
    scriptRtuSlave(device, ({ unitId, pdu }, index) => {
      const bytes = holdingEcho(unitId, pdu);
      return { bytes: index === 0 ? bytes.subarray(0, 6) : bytes };
    });
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 60 });
    after(() => master.dispose());
    await assert.rejects(
      master.readHoldingRegisters(1, 0, 4),
      rejectsWith('DRV_ERR_SHORT_FRAME', (d) => assert.deepEqual([d.got, d.expected], [6, 13])),
    );
    assert.deepEqual(await master.readHoldingRegisters(1, 0, 4), [0, 1, 2, 3]);
  });

  it('reports garbage as DRV_ERR_BAD_REPLY and a wrong byte count as DRV_ERR_REPLY_MISMATCH', async () => {
    const { gateway, device } = await pair('rtu-garbage');
    scriptRtuSlave(device, ({ unitId, pdu }, index) => {
      if (index === 0) return { bytes: Buffer.from([unitId, 0x47, 0x13, 0x99, 0x01]) };
      if (index === 1) return { bytes: rtu(unitId, registersPdu(3, [1])) }; // asked for 2 registers
      return { bytes: holdingEcho(unitId, pdu) };
    });
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 300 });
    after(() => master.dispose());
    await assert.rejects(master.readHoldingRegisters(1, 0, 2), rejectsWith('DRV_ERR_BAD_REPLY'));
    await assert.rejects(master.readHoldingRegisters(1, 0, 2), rejectsWith('DRV_ERR_REPLY_MISMATCH'));
    assert.deepEqual(await master.readHoldingRegisters(1, 0, 2), [0, 1]);
  });

  it('reads device identification across "more follows" pages', async () => {
    const { gateway, device } = await pair('rtu-devid');
    const object = (id: number, text: string) => [id, text.length, ...Buffer.from(text, 'latin1')];
    scriptRtuSlave(device, ({ unitId, pdu }) => {
      const first = pdu[3]!;
      const page =
        first === 0
          ? [0x2b, 0x0e, 1, 0x81, 0xff, 2, 2, ...object(0, 'Acme'), ...object(1, 'GD-100')]
          : [0x2b, 0x0e, 1, 0x81, 0x00, 0, 1, ...object(2, 'v1.4')];
      return { bytes: rtu(unitId, page) };
    });
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 300 });
    after(() => master.dispose());
    const objects = await master.readDeviceIdentification(5, 1);
    assert.deepEqual(
      [...objects],
      [
        [0, 'Acme'],
        [1, 'GD-100'],
        [2, 'v1.4'],
      ],
    );
  });

  it('refuses out-of-range requests with DRV_ERR_BAD_REQUEST before touching the line', async () => {
    const { gateway, device } = await pair('rtu-invalid');
    const { seen } = scriptRtuSlave(device, () => undefined);
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 300 });
    after(() => master.dispose());
    await assert.rejects(master.readHoldingRegisters(1, 0, 126), rejectsWith('DRV_ERR_BAD_REQUEST'));
    await assert.rejects(master.readCoils(1, 65535, 2), rejectsWith('DRV_ERR_BAD_REQUEST'));
    await assert.rejects(master.readCoils(0, 0, 1), rejectsWith('DRV_ERR_BAD_REQUEST'));
    await assert.rejects(master.writeRegister(1, 0, 70000), rejectsWith('DRV_ERR_BAD_REQUEST'));
    assert.equal(seen.length, 0);
  });

  it('fails an in-flight request with DRV_ERR_LINK_DOWN when the link drops', async () => {
    const { gateway, device } = await pair('rtu-drop');
    scriptRtuSlave(device, () => {
      setTimeout(() => gateway.fail('unplugged'), 5);
      return undefined;
    });
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 2000 });
    after(() => master.dispose());
    await assert.rejects(master.readHoldingRegisters(1, 0, 1), rejectsWith('DRV_ERR_LINK_DOWN'));
    await assert.rejects(master.readHoldingRegisters(1, 0, 1), rejectsWith('DRV_ERR_LINK_DOWN'));
  });
});
