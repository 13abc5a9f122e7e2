import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SerialLink } from '../../../drivers/link/serial.js';
import { RegisterBank, RtuSlave, SimUnit, TcpSlaveServer } from '../../../drivers/sim/index.js';
import { openPtyPair, type PtyPair } from '../../support/pty.js';
import { runChild } from './helpers.js';

// Interoperation with a Modbus master not written here: Debian's mbpoll (libmodbus), as an async
// child process, against the RTU slave over a real socat pty pair and against the TCP slave.

function deviceBank(): RegisterBank {
  const bank = new RegisterBank();
  for (let i = 0; i < 10; i++) bank.setUint16('holding', i, 100 + i);
  bank.setFloat32('holding', 20, 21.5, 'CDAB');
  bank.setFloat32('holding', 22, -3.25, 'ABCD');
  bank.setInt16('input', 0, -42);
  bank.setBits('coil', 0, [true, false, true, true]);
  return bank;
}

/** The `[n]: value` lines mbpoll prints for one poll. */
function values(stdout: string): string[] {
  return [...stdout.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)].map((m) => `${m[1]}=${m[2]}`);
}

describe('mbpoll against the RTU slave over a socat pty pair', () => {
  let pty: PtyPair;
  let slave: RtuSlave;
  const unit = new SimUnit({ unitId: 3, bank: deviceBank() });

  before(async () => {
    pty = await openPtyPair();
    const link = new SerialLink({ path: pty.b, baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 });
    // Paced at real 9600 8N1 wire time with a 5 ms turnaround: mbpoll must cope with a realistic device.
    slave = new RtuSlave({
      link,
      units: [unit],
      pace: { baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1, turnaroundMs: 5 },
    });
    await slave.start();
  });
  after(async () => {
    await slave?.stop();
    await pty?.close();
  });

  const rtu = (...args: string[]) =>
    runChild('mbpoll', ['-m', 'rtu', '-b', '9600', '-P', 'none', '-d', '8', '-s', '1', '-0', ...args]);

  it('reads 10 holding registers (fc 03)', async () => {
    const run = await rtu('-a', '3', '-t', '4', '-r', '0', '-c', '10', '-1', pty.a);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(
      values(run.stdout),
      Array.from({ length: 10 }, (_, i) => `${i}=${100 + i}`),
    );
  });

  it('reads float32 in both word orders (mbpoll: CDAB by default, ABCD with -B)', async () => {
    const swapped = await rtu('-a', '3', '-t', '4:float', '-r', '20', '-c', '1', '-1', pty.a);
    assert.deepEqual(values(swapped.stdout), ['20=21.5'], swapped.stdout + swapped.stderr);
    const bigEndian = await rtu('-a', '3', '-t', '4:float', '-B', '-r', '22', '-c', '1', '-1', pty.a);
    assert.deepEqual(values(bigEndian.stdout), ['22=-3.25'], bigEndian.stdout + bigEndian.stderr);
  });

  it('reads input registers (fc 04) and coils (fc 01)', async () => {
    // mbpoll prints 16-bit registers unsigned: int16 −42 is 65494 on the wire.
    const input = await rtu('-a', '3', '-t', '3', '-r', '0', '-c', '1', '-1', pty.a);
    assert.deepEqual(values(input.stdout), ['0=65494'], input.stdout + input.stderr);
    const coils = await rtu('-a', '3', '-t', '0', '-r', '0', '-c', '4', '-1', pty.a);
    assert.deepEqual(values(coils.stdout), ['0=1', '1=0', '2=1', '3=1']);
  });

  it('writes registers (fc 16) and a coil (fc 05) that the bank then holds', async () => {
    const registers = await rtu('-a', '3', '-t', '4', '-r', '5', pty.a, '4321', '8765');
    assert.equal(registers.code, 0, registers.stdout + registers.stderr);
    assert.deepEqual(unit.bank.read('holding', 5, 2), [4321, 8765]);
    const coil = await rtu('-a', '3', '-t', '0', '-r', '1', pty.a, '1');
    assert.equal(coil.code, 0, coil.stdout + coil.stderr);
    assert.equal(unit.bank.getBit('coil', 1), true);
  });

  it('sees exception 02 for an unmapped address and a timeout for a unit not on the bus', async () => {
    const unmapped = await rtu('-a', '3', '-t', '4', '-r', '300', '-c', '1', '-1', pty.a);
    assert.match(unmapped.stdout + unmapped.stderr, /illegal data address/i);
    const absent = await rtu('-a', '9', '-t', '4', '-r', '0', '-c', '1', '-1', '-o', '0.3', pty.a);
    assert.match(absent.stdout + absent.stderr, /timed out/i);
  });
});

describe('mbpoll against the TCP slave', () => {
  const unit = new SimUnit({ unitId: 1, bank: deviceBank() });
  const server = new TcpSlaveServer({ units: [unit] });
  let port = 0;
  before(async () => {
    ({ port } = await server.listen());
  });
  after(() => server.close());

  const tcp = (...args: string[]) => runChild('mbpoll', ['-m', 'tcp', '-p', String(port), '-0', ...args]);

  it('reads holding and input registers', async () => {
    const holding = await tcp('-a', '1', '-t', '4', '-r', '0', '-c', '3', '-1', '127.0.0.1');
    assert.deepEqual(values(holding.stdout), ['0=100', '1=101', '2=102'], holding.stdout + holding.stderr);
    const input = await tcp('-a', '1', '-t', '3', '-r', '0', '-c', '1', '-1', '127.0.0.1');
    assert.deepEqual(values(input.stdout), ['0=65494']);
  });

  it('writes a register through the TCP server', async () => {
    const write = await tcp('-a', '1', '-t', '4', '-r', '9', '127.0.0.1', '999');
    assert.equal(write.code, 0, write.stdout + write.stderr);
    assert.equal(unit.bank.getUint16('holding', 9), 999);
  });
});
