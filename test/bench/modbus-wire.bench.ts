/**
 * Modbus RTU throughput against the wire-time limit. The simulator paces replies at real wire time
 * for the baud rate (ptys ignore baud rates), the gateway's bus scheduler polls one 10-register
 * block back to back over a real socat pty pair. Modbus over serial line v1.02: at 8N1 a
 * 10-register read is 41.7 ms at 9600 baud → 24 tx/s, 20.8 ms at 19200 → 48 tx/s.
 * Target ≥ 90 % of the limit.
 *
 * The gateway case: two devices on one 9600-baud bus, each with a critical block polled "as fast as
 * the bus allows" (intervalMs 0, what `pollIntervals.critical: 0` gives), sharing the bus by
 * priority ageing; target ≥ 95 % of the limit. Beside it, the same two devices at the former floor
 * of 100 ms (info).
 */
import { BusScheduler } from '../../drivers/bus/scheduler.js';
import { SerialLink } from '../../drivers/link/serial.js';
import type { SerialSettings } from '../../drivers/link/types.js';
import { RtuSlave } from '../../drivers/sim/modbus-slave/rtu-slave.js';
import { SimUnit } from '../../drivers/sim/modbus-slave/unit.js';
import { RegisterBank } from '../../drivers/sim/register-bank.js';
import { openPtyPair } from '../support/pty.js';
import { info, report } from './report.js';

const WIRE_LIMIT_TX_PER_S: Record<number, number> = { 9600: 24, 19200: 48 };
const DURATION_MS = 10_000;

async function measure(baudRate: number, units = 1, intervalMs = 1): Promise<number> {
  const pty = await openPtyPair();
  const settings: SerialSettings = { baudRate, parity: 'none', dataBits: 8, stopBits: 1 };
  const ids = Array.from({ length: units }, (_, i) => i + 1);
  const slave = new RtuSlave({
    link: new SerialLink({ path: pty.b, ...settings }),
    units: ids.map((unitId) => new SimUnit({ unitId, bank: new RegisterBank().map('holding', 0, 10) })),
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
  for (const unitId of ids) {
    scheduler.addDevice({
      device: `d${unitId}`,
      unitId,
      timeoutMs: 1000,
      retries: 0,
      // interval 1 ms or 0: always due, so the bus is never idle — what the wire allows is the limit.
      blocks: [{ id: 'b', table: 'holding', address: 0, count: 10, intervalMs, priority: 'critical' }],
    });
  }
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

{
  const limit = WIRE_LIMIT_TX_PER_S[9600]!;
  const rate = await measure(9600, 2, 0);
  report({
    name: 'Modbus RTU 9600 8N1, two devices, critical block as fast as the bus allows (interval 0)',
    value: rate,
    unit: 'tx/s',
    target: Math.round(0.95 * limit * 10) / 10,
    comparator: '>=',
    note: `${((rate / limit) * 100).toFixed(1)} % of the ${limit} tx/s wire-time limit`,
  });
  const floor = await measure(9600, 2, 100);
  info({
    name: 'Modbus RTU 9600 8N1, two devices at the former 100 ms floor',
    value: floor,
    unit: 'tx/s',
    note: `${((floor / limit) * 100).toFixed(1)} % of the ${limit} tx/s wire-time limit`,
  });
}
