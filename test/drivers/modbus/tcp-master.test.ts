import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { TcpMaster } from '../../../drivers/modbus/tcp-master.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import { mbap, registersPdu, scriptTcpSlave } from './scripted-slave.js';

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

function holdingEcho(transactionId: number, unitId: number, pdu: Buffer): Buffer {
  const address = pdu.readUInt16BE(1);
  const count = pdu.readUInt16BE(3);
  return mbap(
    transactionId,
    unitId,
    registersPdu(
      3,
      Array.from({ length: count }, (_, i) => address + i),
    ),
  );
}

describe('TcpMaster', () => {
  it('reads and writes with MBAP framing and distinct transaction ids', async () => {
    const { gateway, device } = await pair('tcp-basic');
    const { seen } = scriptTcpSlave(device, ({ transactionId, unitId, pdu }) => {
      if (pdu[0] === 3) return { bytes: holdingEcho(transactionId!, unitId, pdu), pieces: 3, pieceGapMs: 2 };
      return { bytes: mbap(transactionId!, unitId, pdu.subarray(0, 5)) };
    });
    const master = new TcpMaster(gateway, { defaultTimeoutMs: 500 });
    after(() => master.dispose());
    assert.deepEqual(await master.readHoldingRegisters(1, 40, 3), [40, 41, 42]);
    await master.writeRegisters(1, 5, [9, 8]);
    await master.writeCoil(255, 3, false);
    assert.equal(new Set(seen.map((r) => r.transactionId)).size, 3);
    assert.deepEqual([...seen[1]!.pdu], [16, 0, 5, 0, 2, 4, 0, 9, 0, 8]);
    assert.equal(seen[2]!.unitId, 255);
  });

  it('discards the reply to a timed-out transaction and answers the next request with its own reply', async () => {
    const { gateway, device } = await pair('tcp-late');
    scriptTcpSlave(device, ({ transactionId, unitId, pdu }, index) => ({
      bytes: holdingEcho(transactionId!, unitId, pdu),
      // Wide margins: on a loaded machine timers fire late, and only the order matters here.
      delayMs: index === 0 ? 250 : 200,
    }));
    const master = new TcpMaster(gateway, { defaultTimeoutMs: 100 });
    after(() => master.dispose());
    await assert.rejects(master.readHoldingRegisters(1, 100, 1), rejectsWith('DRV_ERR_TIMEOUT'));
    // The late [100] arrives while this request waits; only the transaction id tells them apart.
    assert.deepEqual(await master.readHoldingRegisters(1, 200, 1, { timeoutMs: 2000 }), [200]);
    assert.equal(master.staleReplies, 1);
  });

  it('maps exception, wrong unit, truncated and unsynchronised replies to their codes, then recovers', async () => {
    const { gateway, device } = await pair('tcp-faults');
    scriptTcpSlave(device, ({ transactionId, unitId, pdu }, index) => {
      const tid = transactionId!;
      switch (index) {
        case 0:
          return { bytes: mbap(tid, unitId, [0x83, 0x04]) };
        case 1:
          return { bytes: holdingEcho(tid, unitId + 1, pdu) };
        case 2:
          return { bytes: holdingEcho(tid, unitId, pdu).subarray(0, 10) };
        case 3:
          return { bytes: Buffer.from([0, 0, 0x12, 0x34, 0, 9, 1, 3, 0]) };
        default:
          return { bytes: holdingEcho(tid, unitId, pdu) };
      }
    });
    const master = new TcpMaster(gateway, { defaultTimeoutMs: 300 });
    after(() => master.dispose());
    await assert.rejects(
      master.readHoldingRegisters(1, 0, 2),
      rejectsWith('DRV_ERR_EXCEPTION', (d) => assert.equal(d.exceptionName, 'SERVER DEVICE FAILURE')),
    );
    await assert.rejects(master.readHoldingRegisters(1, 0, 2), rejectsWith('DRV_ERR_UNIT_MISMATCH'));
    await assert.rejects(
      master.readHoldingRegisters(1, 0, 2),
      rejectsWith('DRV_ERR_SHORT_FRAME', (d) => assert.deepEqual([d.got, d.expected], [10, 13])),
    );
    await assert.rejects(master.readHoldingRegisters(1, 0, 2), rejectsWith('DRV_ERR_BAD_REPLY'));
    // Both the timed-out fragment and the bad header were dropped, so the stream is in step again.
    assert.deepEqual(await master.readHoldingRegisters(1, 7, 2), [7, 8]);
  });

  it('fails an in-flight request with DRV_ERR_LINK_DOWN when the connection drops', async () => {
    const { gateway, device } = await pair('tcp-drop');
    scriptTcpSlave(device, () => {
      setTimeout(() => gateway.fail('peer reset'), 5);
      return undefined;
    });
    const master = new TcpMaster(gateway, { defaultTimeoutMs: 2000 });
    after(() => master.dispose());
    await assert.rejects(master.readInputRegisters(1, 0, 1), rejectsWith('DRV_ERR_LINK_DOWN'));
  });
});
