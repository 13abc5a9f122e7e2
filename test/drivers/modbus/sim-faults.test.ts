import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { TcpLink } from '../../../drivers/link/tcp.js';
import { RtuMaster } from '../../../drivers/modbus/rtu-master.js';
import { TcpMaster } from '../../../drivers/modbus/tcp-master.js';
import { type Fault, RegisterBank, RtuSlave, SimUnit, TcpSlaveServer } from '../../../drivers/sim/index.js';
import { isDoorstepError } from '../../../protocol/errors.js';

function simUnit(unitId: number): SimUnit {
  const bank = new RegisterBank().map('holding', 0, 16).map('coil', 0, 16);
  for (let i = 0; i < 16; i++) bank.setUint16('holding', i, unitId * 1000 + i);
  return new SimUnit({
    unitId,
    bank,
    identity: { vendorName: 'SimCo', productCode: `GD-${unitId}`, revision: '2.1' },
  });
}

/** Each fault mode of the simulated slave and the catalogue code the master must report for it. */
const CASES: Array<{ fault: Fault; code: string }> = [
  { fault: { mode: 'silence', times: 1 }, code: 'DRV_ERR_TIMEOUT' },
  { fault: { mode: 'slow', delayMs: 150, times: 1 }, code: 'DRV_ERR_TIMEOUT' },
  { fault: { mode: 'bad_crc', times: 1 }, code: 'DRV_ERR_CRC' },
  { fault: { mode: 'wrong_unit', unitId: 9, times: 1 }, code: 'DRV_ERR_UNIT_MISMATCH' },
  { fault: { mode: 'exception', exceptionCode: 4, times: 1 }, code: 'DRV_ERR_EXCEPTION' },
  { fault: { mode: 'short_frame', dropBytes: 3, times: 1 }, code: 'DRV_ERR_SHORT_FRAME' },
  { fault: { mode: 'garbage', length: 12, times: 1 }, code: 'DRV_ERR_BAD_REPLY' },
];

describe('masters against the simulated slave bank (drivers/sim)', () => {
  it('RTU over MemoryLink: every fault mode maps to its code and the next poll recovers', async () => {
    const [gateway, device] = MemoryLink.pair('sim-rtu');
    const unit = simUnit(2);
    const slave = new RtuSlave({ link: device, units: [simUnit(1), unit] });
    await slave.start();
    await gateway.open();
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 80, flushQuietMs: 200 });
    after(async () => {
      master.dispose();
      await slave.stop();
      await gateway.close();
    });
    for (const { fault, code } of CASES) {
      unit.faults.set(fault);
      await assert.rejects(
        master.readHoldingRegisters(2, 0, 4),
        (error: unknown) => isDoorstepError(error) && error.code === code,
        `${fault.mode} → ${code}`,
      );
      assert.deepEqual(
        await master.readHoldingRegisters(2, 0, 4),
        [2000, 2001, 2002, 2003],
        `recovery after ${fault.mode}`,
      );
      assert.deepEqual(await master.readHoldingRegisters(1, 4, 1), [1004], `other unit after ${fault.mode}`);
    }
    await master.writeRegisters(2, 8, [5, 6]);
    assert.deepEqual(unit.bank.read('holding', 8, 2), [5, 6]);
    const identity = await master.readDeviceIdentification(2, 1);
    assert.equal(identity.get(0), 'SimCo');
    assert.equal(identity.get(1), 'GD-2');
  });

  it('TCP on 127.0.0.1: fault modes map to their codes, late replies are discarded, the next request recovers', async () => {
    const unit = simUnit(1);
    const server = new TcpSlaveServer({ units: [unit] });
    const { port } = await server.listen();
    const link = new TcpLink({ host: '127.0.0.1', port, connectTimeoutMs: 1000 });
    await link.open();
    const master = new TcpMaster(link, { defaultTimeoutMs: 80 });
    after(async () => {
      master.dispose();
      await link.close();
      await server.close();
    });
    for (const { fault, code } of CASES.filter((c) => c.fault.mode !== 'bad_crc')) {
      unit.faults.set(fault);
      const expected =
        fault.mode === 'garbage' ? ['DRV_ERR_BAD_REPLY', 'DRV_ERR_SHORT_FRAME', 'DRV_ERR_TIMEOUT'] : [code];
      await assert.rejects(
        master.readHoldingRegisters(1, 0, 4),
        (error: unknown) => isDoorstepError(error) && expected.includes(error.code),
        `${fault.mode} → ${code}`,
      );
      unit.faults.clear();
      if (!link.isOpen) break;
      assert.deepEqual(
        await master.readHoldingRegisters(1, 0, 4, { timeoutMs: 400 }),
        [1000, 1001, 1002, 1003],
        `after ${fault.mode}`,
      );
    }
    assert.ok(master.staleReplies >= 1, 'the slow reply was discarded as stale');
  });
});
