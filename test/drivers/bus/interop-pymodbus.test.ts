import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { BusScheduler } from '../../../drivers/bus/scheduler.js';
import type { PollFailure, PollResult, TcpEndpoint } from '../../../drivers/bus/types.js';
import { SerialLink } from '../../../drivers/link/serial.js';
import { TcpLink } from '../../../drivers/link/tcp.js';
import { TcpMaster } from '../../../drivers/modbus/tcp-master.js';
import { openPtyPair } from '../../support/pty.js';
import { startPymodbus, until } from './helpers.js';

const blocks = [
  {
    id: 'holding',
    table: 'holding' as const,
    address: 0,
    count: 10,
    intervalMs: 30,
    priority: 'critical' as const,
  },
  { id: 'input', table: 'input' as const, address: 0, count: 2, intervalMs: 60, priority: 'normal' as const },
  { id: 'coils', table: 'coil' as const, address: 0, count: 5, intervalMs: 60, priority: 'normal' as const },
  {
    id: 'unmapped',
    table: 'holding' as const,
    address: 500,
    count: 1,
    intervalMs: 200,
    priority: 'diagnostic' as const,
  },
];

function collect(scheduler: BusScheduler) {
  const results: PollResult[] = [];
  const failures: PollFailure[] = [];
  scheduler.onResult((r) => results.push(r));
  scheduler.onPollError((f) => failures.push(f));
  const latest = (blockId: string) => results.filter((r) => r.blockId === blockId).at(-1)?.values;
  return { results, failures, latest };
}

async function exercise(scheduler: BusScheduler, endpoint?: TcpEndpoint): Promise<void> {
  const { failures, latest } = collect(scheduler);
  scheduler.addDevice({
    device: 'pm',
    unitId: 1,
    timeoutMs: 500,
    retries: 1,
    blocks,
    ...(endpoint && { endpoint }),
  });
  scheduler.start();
  await until(
    () => latest('holding') !== undefined && latest('input') !== undefined && latest('coils') !== undefined,
    'first polls',
    10_000,
  );
  assert.deepEqual(latest('holding'), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  assert.deepEqual(latest('input'), [1000, 1001]);
  assert.deepEqual(latest('coils'), [false, false, false, false, false]);
  await scheduler.write('pm', { table: 'holding', address: 5, values: [1111, 2222] });
  await scheduler.write('pm', { table: 'holding', address: 9, values: [9999] });
  await scheduler.write('pm', { table: 'coil', address: 1, values: [true] });
  await scheduler.write('pm', { table: 'coil', address: 3, values: [true, true] });
  await until(
    () => JSON.stringify(latest('holding')) === JSON.stringify([0, 10, 20, 30, 40, 1111, 2222, 70, 80, 9999]),
    'written registers read back',
    10_000,
  );
  await until(
    () => JSON.stringify(latest('coils')) === JSON.stringify([false, true, false, true, true]),
    'written coils read back',
    10_000,
  );
  await until(() => failures.length > 0, 'exception from the unmapped block', 10_000);
  assert.equal(failures[0]?.blockId, 'unmapped');
  assert.equal(failures[0]?.error.code, 'DRV_ERR_EXCEPTION');
  assert.equal(failures[0]?.error.details.exceptionName, 'ILLEGAL DATA ADDRESS');
  assert.equal(scheduler.deviceStates()[0]?.state, 'online');
}

describe('interoperation with pymodbus 3.0 slaves', () => {
  it('RTU over a socat pty pair: reads, writes and an exception through the scheduler', async () => {
    const pty = await openPtyPair();
    after(() => pty.close());
    const slave = await startPymodbus(['rtu', pty.b]);
    after(() => slave.stop());
    const scheduler = new BusScheduler({
      bus: 'pty',
      protocol: 'rtu',
      serial: { baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 },
      createLink: () =>
        new SerialLink({ path: pty.a, baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 }),
    });
    after(() => scheduler.stop());
    await exercise(scheduler);
  });

  it('TCP on 127.0.0.1: reads, writes, an exception, and device identification', async () => {
    const slave = await startPymodbus(['tcp']);
    after(() => slave.stop());
    const port = Number(slave.ready);
    const scheduler = new BusScheduler({
      bus: 'lan',
      protocol: 'tcp',
      createLink: (endpoint) =>
        new TcpLink({ host: endpoint!.host, port: endpoint!.port, connectTimeoutMs: 2000 }),
    });
    after(() => scheduler.stop());
    await exercise(scheduler, { host: '127.0.0.1', port });
    const link = new TcpLink({ host: '127.0.0.1', port });
    await link.open();
    const master = new TcpMaster(link, { defaultTimeoutMs: 1000 });
    after(async () => {
      master.dispose();
      await link.close();
    });
    const identity = await master.readDeviceIdentification(1, 1);
    assert.equal(identity.get(0), 'pymodbus');
    assert.equal(identity.get(1), 'PM');
    assert.equal(identity.get(2), '3.0');
  });
});
