import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RegisterBank, RtuSlave, SimUnit, TcpSlaveServer } from '../../../drivers/sim/index.js';
import { runChild } from './helpers.js';
import { AcceptedSocketLink } from './socket-link.js';

// Interoperation with Debian's python3-pymodbus 3.0 as the master (/usr/bin/python3, async child).
// pymodbus's ModbusSerialClient needs pyserial, which this machine lacks (python3-serial is not
// installed), so RTU framing is exercised with pymodbus's ModbusRtuFramer over a TCP socket to an
// RtuSlave; Modbus TCP with its default socket framer against the TcpSlaveServer.

const SCRIPT = fileURLToPath(new URL('./pymodbus-client.py', import.meta.url));

function deviceUnit(unitId: number): SimUnit {
  const bank = new RegisterBank();
  for (let i = 0; i < 10; i++) bank.setUint16('holding', i, 200 + i);
  bank.setUint16('input', 0, 7);
  bank.setUint16('input', 1, 8);
  bank.setBits('coil', 0, [true, false, false, true, true]);
  return new SimUnit({ unitId, bank });
}

interface ClientResult {
  holding: number[];
  input: number[];
  coils: boolean[];
  write_registers: boolean;
  write_coil: boolean;
  unmapped_exception: number | null;
}

async function pymodbus(port: number, framing: 'tcp' | 'rtu', unitId: number): Promise<ClientResult> {
  const run = await runChild('/usr/bin/python3', [SCRIPT, String(port), framing, String(unitId)]);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as ClientResult;
}

function assertDeviceSeen(result: ClientResult, unit: SimUnit): void {
  assert.deepEqual(
    result.holding,
    Array.from({ length: 10 }, (_, i) => 200 + i),
  );
  assert.deepEqual(result.input, [7, 8]);
  assert.deepEqual(result.coils, [true, false, false, true, true]);
  assert.equal(result.write_registers, true);
  assert.equal(result.write_coil, true);
  assert.equal(result.unmapped_exception, 2);
  assert.deepEqual(unit.bank.read('holding', 5, 2), [1111, 2222]);
  assert.equal(unit.bank.getBit('coil', 1), true);
}

describe('pymodbus 3.0 client against the TCP slave', () => {
  const unit = deviceUnit(4);
  const server = new TcpSlaveServer({ units: [unit] });
  let port = 0;
  before(async () => {
    ({ port } = await server.listen());
  });
  after(() => server.close());

  it('reads, writes and sees exception 02 through Modbus TCP', async () => {
    assertDeviceSeen(await pymodbus(port, 'tcp', 4), unit);
  });
});

describe('pymodbus 3.0 RTU framer against the RTU slave', () => {
  const unit = deviceUnit(11);
  const link = new AcceptedSocketLink();
  const slave = new RtuSlave({ link, units: [unit] });
  before(() => slave.start());
  after(() => slave.stop());

  it('reads, writes and sees exception 02 with RTU framing and CRC', async () => {
    assertDeviceSeen(await pymodbus(link.port, 'rtu', 11), unit);
    assert.equal(slave.counters.badCrc, 0);
  });
});
