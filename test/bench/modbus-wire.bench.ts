/**
 * Modbus RTU throughput against the wire-time limit. The simulator paces replies at real wire time
 * for the baud rate (ptys ignore baud rates), the gateway's bus scheduler polls one 10-register
 * block back to back over a real socat pty pair. Modbus over serial line v1.02: at 8N1 a
 * 10-register read is 41.7 ms at 9600 baud → 24 tx/s, 20.8 ms at 19200 → 48 tx/s.
 * Target ≥ 90 % of the limit.
 */
import { BusScheduler } from '../../drivers/bus/scheduler.js';
import { SerialLink } from '../../drivers/link/serial.js';
import type { SerialSettings } from '../../drivers/link/types.js';
import { RtuSlave } from '../../drivers/sim/modbus-slave/rtu-slave.js';
import { SimUnit } from '../../drivers/sim/modbus-slave/unit.js';
import { RegisterBank } from '../../drivers/sim/register-bank.js';
import { openPtyPair } from '../support/pty.js';
import { report } from './report.js';

const WIRE_LIMIT_TX_PER_S: Record<number, number> = { 9600: 24, 19200: 48 };
const DURATION_MS = 10_000;

async function measure(baudRate: number): Promise<number> {
  const pty = await openPtyPair();
  const settings: SerialSettings = { baudRate, parity: 'none', dataBits: 8, stopBits: 1 };
  const bank = new RegisterBank().map('holding', 0, 10);
  const slave = new RtuSlave({
    link: new SerialLink({ path: pty.b, ...settings }),
    units: [new SimUnit({ unitId: 1, bank })],
    pace: { ...settings, turnaroundMs: 0 },
  });
  await slave.start();
  const scheduler = new BusScheduler({
    bus: 'bench',
    protocol: 'rtu',
    serial: settings,
    createLink: () => new SerialLink({ path: pty.a, ...settings }),
  });
  let done = 0;
  let measuring = false;
  scheduler.onResult(() => {
    if (measuring) done++;
  });
  scheduler.addDevice({
    device: 'd1',
    unitId: 1,
    timeoutMs: 1000,
    retries: 0,
    // interval 1 ms: always due, so the bus is never idle — what the wire allows is the limit.
    blocks: [{ id: 'b', table: 'holding', address: 0, count: 10, intervalMs: 1, priority: 'critical' }],
  });
  scheduler.start();
  await new Promise((r) => setTimeout(r, 1500)); // warm up: link open, first transactions
  measuring = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, DURATION_MS));
  measuring = false;
  const rate = (done * 1000) / (performance.now() - start);
  await scheduler.stop();
  await slave.stop();
  await pty.close();
  return rate;
}

for (const baud of [9600, 19200]) {
  const limit = WIRE_LIMIT_TX_PER_S[baud]!;
  const rate = await measure(baud);
  report({
    name: `Modbus RTU ${baud} 8N1, 10 registers, paced simulator over a pty`,
    value: rate,
    unit: 'tx/s',
    target: 0.9 * limit,
    comparator: '>=',
    note: `${((rate / limit) * 100).toFixed(1)} % of the ${limit} tx/s wire-time limit`,
  });
}
