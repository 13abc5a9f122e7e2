/**
 * How closely the simulated RTU bus paces a back-to-back master to the modelled wire time
 * (Modbus over serial line v1.02; drivers/sim/modbus-slave/pacing.ts). A master that sends each
 * request the instant the previous reply arrives must see the modelled rate within a few %, and
 * never faster. Also: round trips per second of an unpaced TCP slave across 10 connections.
 */
import { performance } from 'node:perf_hooks';
import { MemoryLink } from '../../drivers/link/memory.js';
import { withCrc } from '../../drivers/modbus/crc16.js';
import {
  type Pace,
  RegisterBank,
  RtuSlave,
  SimUnit,
  TcpSlaveServer,
  transactionTimeMs,
} from '../../drivers/sim/index.js';
import { report } from './report.js';

async function pacedRate(pace: Pace, transactions: number): Promise<{ achieved: number; modelled: number }> {
  const [master, bus] = MemoryLink.pair('bench');
  const slave = new RtuSlave({
    link: bus,
    units: [new SimUnit({ unitId: 1, bank: new RegisterBank().map('holding', 0, 10) })],
    pace,
  });
  await master.open();
  await slave.start();
  const request = withCrc(Buffer.from([1, 0x03, 0, 0, 0, 10]));
  let received = 0;
  let done = 0;
  let startedAt = 0;
  const finished = new Promise<number>((resolve) => {
    master.onData((chunk) => {
      received += chunk.length;
      if (received < 25) return;
      received = 0;
      done++;
      if (done === 1) startedAt = performance.now(); // measure from the first reply: steady state
      if (done === transactions + 1) resolve(performance.now());
      else void master.write(request);
    });
  });
  await master.write(request);
  const endedAt = await finished;
  await slave.stop();
  await master.close();
  return {
    achieved: (transactions * 1000) / (endedAt - startedAt),
    modelled: 1000 / transactionTimeMs(8, 25, pace),
  };
}

async function tcpRoundTrips(durationMs: number): Promise<number> {
  const units = Array.from(
    { length: 10 },
    (_, i) => new SimUnit({ unitId: i + 1, bank: new RegisterBank().map('holding', 0, 10) }),
  );
  const server = new TcpSlaveServer({ units });
  const { port } = await server.listen();
  const { connect } = await import('node:net');
  let count = 0;
  const deadline = performance.now() + durationMs;
  await Promise.all(
    units.map(
      (unit) =>
        new Promise<void>((resolve) => {
          const socket = connect({ host: '127.0.0.1', port });
          const request = Buffer.from([0, 1, 0, 0, 0, 6, unit.unitId, 0x03, 0, 0, 0, 10]);
          let pending = 0;
          socket.on('connect', () => socket.write(request));
          socket.on('data', (chunk: Buffer) => {
            pending += chunk.length;
            while (pending >= 29) {
              pending -= 29;
              count++;
              if (performance.now() < deadline) socket.write(request);
              else {
                socket.destroy();
                resolve();
                return;
              }
            }
          });
        }),
    ),
  );
  await server.close();
  return (count * 1000) / durationMs;
}

const line = (baudRate: number, turnaroundMs: number): Pace => ({
  baudRate,
  parity: 'none',
  dataBits: 8,
  stopBits: 1,
  turnaroundMs,
});

for (const [pace, transactions] of [
  [line(9600, 0), 150],
  [line(9600, 10), 120],
  [line(19200, 0), 300],
  [line(115200, 0), 800],
] as const) {
  const { achieved, modelled } = await pacedRate(pace, transactions);
  const label = `${pace.baudRate} 8N1, turnaround ${pace.turnaroundMs} ms, 10-register read`;
  const note = `${achieved.toFixed(2)} tx/s vs modelled ${modelled.toFixed(2)} tx/s over ${transactions} transactions`;
  report({
    name: `sim pacing accuracy (${label})`,
    value: (100 * achieved) / modelled,
    unit: '% of modelled rate',
    target: 97,
    comparator: '>=',
    note,
  });
  report({
    name: `sim pacing never faster (${label})`,
    value: (100 * achieved) / modelled,
    unit: '% of modelled rate',
    target: 100.5,
    comparator: '<=',
  });
}

const tcp = await tcpRoundTrips(2000);
report({
  name: 'sim TCP slave round trips, 10 connections, unpaced',
  value: Math.round(tcp),
  unit: 'req/s',
  target: 5000,
  comparator: '>=',
});
