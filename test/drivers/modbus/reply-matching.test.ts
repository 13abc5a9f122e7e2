import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryLink } from '../../../drivers/link/memory.js';
import type { ReplyEvent } from '../../../drivers/modbus/master.js';
import { type ModbusRequest, replyMismatch } from '../../../drivers/modbus/pdu.js';
import { RtuMaster } from '../../../drivers/modbus/rtu-master.js';
import { TcpMaster } from '../../../drivers/modbus/tcp-master.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import { mbap, registersPdu, rtu, scriptRtuSlave, scriptTcpSlave } from './scripted-slave.js';

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

function rejectsWith(code: string) {
  return (error: unknown) => {
    assert.ok(isDoorstepError(error), `expected a DoorstepError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/** Registers address, address+1, … so that every reply says which request it answers. */
function echoRegisters(unitId: number, pdu: Buffer): Buffer {
  const address = pdu.readUInt16BE(1);
  const count = pdu.readUInt16BE(3);
  return rtu(
    unitId,
    registersPdu(
      pdu[0]!,
      Array.from({ length: count }, (_, i) => address + i),
    ),
  );
}

function events(master: RtuMaster | TcpMaster): ReplyEvent[] {
  const seen: ReplyEvent[] = [];
  master.onReplyEvent((e) => seen.push(e));
  return seen;
}

describe('a reply is accepted only when it answers the request', () => {
  it('replyMismatch: unit-less checks of function code, exception form, byte count and write echoes', () => {
    const read = { kind: 'read', table: 'holding', address: 0, count: 2 } as const;
    assert.equal(replyMismatch(read, registersPdu(3, [1, 2])), undefined);
    assert.equal(replyMismatch(read, Buffer.from([0x83, 0x02])), undefined);
    assert.match(replyMismatch(read, registersPdu(4, [1, 2]))!, /function code 0x4/);
    assert.match(replyMismatch(read, Buffer.from([0x84, 0x02]))!, /function code 0x84/);
    assert.match(replyMismatch(read, registersPdu(3, [1]))!, /byte count 2, expected 4/);
    const coils = { kind: 'read', table: 'coil', address: 0, count: 9 } as const;
    assert.equal(replyMismatch(coils, Buffer.from([1, 2, 0xff, 1])), undefined);
    assert.match(replyMismatch(coils, Buffer.from([1, 1, 0xff]))!, /byte count 1, expected 2/);
    const writeRegister = { kind: 'writeRegister', address: 7, value: 0x1234 } as const;
    assert.equal(replyMismatch(writeRegister, Buffer.from([6, 0, 7, 0x12, 0x34])), undefined);
    assert.match(replyMismatch(writeRegister, Buffer.from([6, 0, 8, 0x12, 0x34]))!, /echoed address 8/);
    assert.match(replyMismatch(writeRegister, Buffer.from([6, 0, 7, 0x12, 0x35]))!, /echoed value 4661/);
    const writeCoil = { kind: 'writeCoil', address: 1, value: true } as const;
    assert.equal(replyMismatch(writeCoil, Buffer.from([5, 0, 1, 0xff, 0])), undefined);
    assert.match(replyMismatch(writeCoil, Buffer.from([5, 0, 1, 0, 0]))!, /echoed value 0, expected 65280/);
    const writeCoils: ModbusRequest = { kind: 'writeCoils', address: 3, values: [true, false, true] };
    assert.equal(replyMismatch(writeCoils, Buffer.from([15, 0, 3, 0, 3])), undefined);
    assert.match(replyMismatch(writeCoils, Buffer.from([15, 0, 3, 0, 2]))!, /echoed quantity 2, expected 3/);
    const writeRegisters: ModbusRequest = { kind: 'writeRegisters', address: 9, values: [1, 2] };
    assert.equal(replyMismatch(writeRegisters, Buffer.from([16, 0, 9, 0, 2])), undefined);
    assert.match(replyMismatch(writeRegisters, Buffer.from([16, 0, 10, 0, 2]))!, /echoed address 10/);
  });

  it('RTU: a frame from another unit is discarded and counted; the answer that follows is accepted', async () => {
    const { gateway, device } = await pair('match-unit');
    scriptRtuSlave(device, ({ unitId, pdu }) => ({
      // Another unit's reply of the very same shape first, then the real answer.
      bytes: Buffer.concat([rtu(unitId + 1, registersPdu(3, [0xdead])), echoRegisters(unitId, pdu)]),
    }));
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 300 });
    after(() => master.dispose());
    const seen = events(master);
    assert.deepEqual(await master.readHoldingRegisters(4, 20, 1), [20]);
    assert.equal(master.rejectedReplies, 1);
    assert.deepEqual(
      seen.map((e) => e.kind === 'rejected' && e.code),
      ['DRV_ERR_UNIT_MISMATCH'],
    );
  });

  it('RTU: a wrong function code, a wrong byte count and a wrong echo are each discarded, never taken', async () => {
    const { gateway, device } = await pair('match-fields');
    scriptRtuSlave(device, ({ unitId, pdu }, index) => {
      const right = pdu[0] === 6 ? rtu(unitId, pdu.subarray(0, 5)) : echoRegisters(unitId, pdu);
      switch (index) {
        case 0: // input registers answering a holding read
          return { bytes: Buffer.concat([rtu(unitId, registersPdu(4, [99])), right]) };
        case 1: // two registers answering a read of one
          return { bytes: Buffer.concat([rtu(unitId, registersPdu(3, [98, 97])), right]) };
        case 2: // a write echo with another value
          return { bytes: Buffer.concat([rtu(unitId, [6, 0, 5, 0, 1]), right]) };
        case 3: // only the wrong echo: the request fails with the reason, after its timeout
          return { bytes: rtu(unitId, [6, 0, 6, 0, 7]) };
        default:
          return { bytes: right };
      }
    });
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 150 });
    after(() => master.dispose());
    assert.deepEqual(await master.readHoldingRegisters(1, 40, 1), [40]);
    assert.deepEqual(await master.readHoldingRegisters(1, 41, 1), [41]);
    await master.writeRegister(1, 5, 2);
    await assert.rejects(master.writeRegister(1, 5, 7), rejectsWith('DRV_ERR_REPLY_MISMATCH'));
    assert.equal(master.rejectedReplies, 4);
    assert.deepEqual(await master.readHoldingRegisters(1, 42, 1), [42]);
  });

  it('RTU: a reply inside the late-reply guard is discarded, counted as late, with its turnaround', async () => {
    const { gateway, device } = await pair('match-guard');
    const sentAt: number[] = [];
    scriptRtuSlave(device, ({ unitId, pdu }, index) => {
      sentAt.push(performance.now());
      // 1.5 × the timeout: after the timeout, inside the guard (the timeout again).
      return { bytes: echoRegisters(unitId, pdu), delayMs: index === 0 ? 120 : 0 };
    });
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 80, flushQuietMs: 5 });
    after(() => master.dispose());
    const seen = events(master);
    await assert.rejects(master.readHoldingRegisters(1, 500, 1), rejectsWith('DRV_ERR_TIMEOUT'));
    // Another address, same shape: only the guard keeps the late [500] from answering it.
    assert.deepEqual(await master.readHoldingRegisters(1, 600, 1), [600]);
    assert.equal(master.lateReplies, 1);
    const late = seen.find((e) => e.kind === 'late');
    assert.ok(late && late.kind === 'late' && late.turnaroundMs !== undefined);
    assert.ok(late.turnaroundMs! >= 110, `turnaround ${late.turnaroundMs} ms`);
    assert.equal(late.timeoutMs, 80);
    assert.ok(sentAt[1]! - sentAt[0]! >= 160 - 5, 'the next request waited out the guard');
  });

  it('RTU: a reply later than the guard cannot answer a same-shape request for another address of that unit', async () => {
    const { gateway, device } = await pair('match-owed');
    scriptRtuSlave(device, ({ unitId, pdu }, index) => ({
      bytes: echoRegisters(unitId, pdu),
      delayMs: index === 0 ? 3 * 50 : 5, // 3 × the timeout: after the default guard
    }));
    const master = new RtuMaster(gateway, { defaultTimeoutMs: 50, flushQuietMs: 5 });
    after(() => master.dispose());
    await assert.rejects(master.readHoldingRegisters(1, 500, 1), rejectsWith('DRV_ERR_TIMEOUT'));
    const held = master.heldUntil(1, { kind: 'read', table: 'holding', address: 600, count: 1 });
    assert.ok(held !== undefined, 'a same-shape read of another address is held');
    assert.equal(
      master.heldUntil(1, { kind: 'read', table: 'holding', address: 500, count: 1 }),
      undefined,
      'the same request is not held: any reply to it has the right content',
    );
    assert.equal(master.heldUntil(2, { kind: 'read', table: 'holding', address: 600, count: 1 }), undefined);
    assert.deepEqual(await master.readHoldingRegisters(1, 600, 1), [600]);
    assert.equal(master.lateReplies, 1);
    assert.equal(master.heldUntil(1, { kind: 'read', table: 'holding', address: 600, count: 1 }), undefined);
  });

  it('TCP: a stale transaction id is discarded and counted as late with its turnaround; a wrong function code is rejected', async () => {
    const { gateway, device } = await pair('match-tcp');
    scriptTcpSlave(device, ({ transactionId, unitId, pdu }, index) => {
      const tid = transactionId!;
      if (index === 0) return { bytes: mbap(tid, unitId, registersPdu(3, [100])), delayMs: 90 };
      if (index === 1) return { bytes: mbap(tid, unitId, registersPdu(3, [200])), delayMs: 60 };
      if (index === 2) return { bytes: mbap(tid, unitId, registersPdu(4, [300])) };
      return { bytes: mbap(tid, unitId, registersPdu(3, [pdu.readUInt16BE(1)])) };
    });
    const master = new TcpMaster(gateway, { defaultTimeoutMs: 40 });
    after(() => master.dispose());
    const seen = events(master);
    await assert.rejects(master.readHoldingRegisters(1, 100, 1), rejectsWith('DRV_ERR_TIMEOUT'));
    // The stale [100] arrives while this one waits; its own [200] answers it.
    assert.deepEqual(await master.readHoldingRegisters(1, 200, 1, { timeoutMs: 500 }), [200]);
    await assert.rejects(master.readHoldingRegisters(1, 300, 1), rejectsWith('DRV_ERR_REPLY_MISMATCH'));
    assert.deepEqual(await master.readHoldingRegisters(1, 7, 1), [7]);
    assert.equal(master.staleReplies, 1);
    assert.equal(master.rejectedReplies, 1);
    const late = seen.find((e) => e.kind === 'late');
    assert.ok(late?.kind === 'late' && late.turnaroundMs! >= 80, JSON.stringify(late));
  });
});
