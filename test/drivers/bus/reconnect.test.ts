import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BusScheduler } from '../../../drivers/bus/scheduler.js';
import type { PollResult } from '../../../drivers/bus/types.js';
import { SerialLink } from '../../../drivers/link/serial.js';
import { TcpLink } from '../../../drivers/link/tcp.js';
import { RegisterBank, RtuSlave, SimUnit, TcpSlaveServer } from '../../../drivers/sim/index.js';
import type { DeviceLinkState } from '../../../protocol/device.js';
import { tempDir } from '../../support/tmp.js';
import { startSocat, until } from './helpers.js';

function simUnit(unitId: number): SimUnit {
  const bank = new RegisterBank().map('holding', 0, 8);
  bank.setUint16('holding', 0, unitId * 11);
  return new SimUnit({ unitId, bank });
}

const block = {
  id: 'r',
  table: 'holding' as const,
  address: 0,
  count: 2,
  intervalMs: 20,
  priority: 'critical' as const,
};

function observe(scheduler: BusScheduler) {
  const results: PollResult[] = [];
  const states: DeviceLinkState[] = [];
  scheduler.onResult((r) => results.push(r));
  scheduler.onDeviceState((s) => states.push(s));
  return { results, states };
}

describe('BusScheduler reconnects', () => {
  it('RTU over a socat pty: the pty vanishes, devices report DRV_ERR_LINK_DOWN, polling resumes when the path reappears', async () => {
    const dir = tempDir('doorstep-reconnect-');
    after(() => dir.dispose());
    const a = join(dir.path, 'gateway');
    const b = join(dir.path, 'device');
    let socat = await startSocat(a, b);
    after(() => socat.stop());
    const startSlave = async () => {
      const slave = new RtuSlave({
        link: new SerialLink({ path: b, parity: 'none' }),
        units: [simUnit(1), simUnit(2)],
      });
      await slave.start();
      return slave;
    };
    let slave = await startSlave();
    after(() => slave.stop());
    const opened: string[] = [];
    const scheduler = new BusScheduler({
      bus: 'pty',
      protocol: 'rtu',
      createLink: () => {
        opened.push(a);
        return new SerialLink({ path: a, parity: 'none' });
      },
      reconnect: { initialMs: 50, factor: 2, maxMs: 400 },
    });
    after(() => scheduler.stop());
    const { results, states } = observe(scheduler);
    scheduler.addDevice({ device: 'one', unitId: 1, timeoutMs: 300, retries: 0, blocks: [block] });
    scheduler.addDevice({ device: 'two', unitId: 2, timeoutMs: 300, retries: 0, blocks: [block] });
    scheduler.start();
    await until(() => results.filter((r) => r.device === 'two').length >= 3, 'polling over the pty', 10_000);
    assert.deepEqual(results.find((r) => r.device === 'two')?.values, [22, 0]);

    await slave.stop();
    await socat.stop(); // the adapter is unplugged: both pty ends vanish
    await until(() => states.filter((s) => s.state === 'offline').length >= 2, 'both offline', 10_000);
    const reasons = new Set(states.filter((s) => s.state === 'offline').map((s) => s.reason));
    assert.ok(
      [...reasons].every((r) => r === 'DRV_ERR_LINK_DOWN' || r === 'DRV_ERR_LINK_OPEN'),
      [...reasons].join(),
    );

    socat = await startSocat(a, b); // replugged: the same path reappears
    slave = await startSlave();
    const before = results.length;
    await until(
      () => results.length >= before + 4 && scheduler.deviceStates().every((s) => s.state === 'online'),
      'polling again',
      10_000,
    );
    assert.ok(opened.length >= 2, 'the link factory was invoked again');
  });

  it('TCP: one connection per endpoint for several units; the server goes away and comes back on the same port', async () => {
    let server = new TcpSlaveServer({ units: [simUnit(1), simUnit(2)] });
    const { port } = await server.listen();
    after(() => server.close());
    const endpoint = { host: '127.0.0.1', port };
    let linksMade = 0;
    const scheduler = new BusScheduler({
      bus: 'lan',
      protocol: 'tcp',
      createLink: (ep) => {
        linksMade++;
        return new TcpLink({ host: ep!.host, port: ep!.port, connectTimeoutMs: 500 });
      },
      reconnect: { initialMs: 50, factor: 2, maxMs: 400 },
    });
    after(() => scheduler.stop());
    const { results, states } = observe(scheduler);
    scheduler.addDevice({ device: 'one', unitId: 1, timeoutMs: 300, retries: 0, blocks: [block], endpoint });
    scheduler.addDevice({ device: 'two', unitId: 2, timeoutMs: 300, retries: 0, blocks: [block], endpoint });
    scheduler.start();
    await until(
      () => results.filter((r) => r.device === 'two').length >= 3 && results.some((r) => r.device === 'one'),
      'polling',
      10_000,
    );
    assert.equal(server.counters.connectionsAccepted, 1);
    assert.equal(linksMade, 1);
    assert.deepEqual(scheduler.stats().links, 1);

    await server.close();
    await until(() => states.filter((s) => s.state === 'offline').length >= 2, 'offline', 10_000);
    assert.equal(states.find((s) => s.state === 'offline')?.reason, 'DRV_ERR_LINK_DOWN');

    server = new TcpSlaveServer({ units: [simUnit(1), simUnit(2)], port });
    await server.listen();
    const before = results.length;
    await until(
      () => results.length >= before + 4 && scheduler.deviceStates().every((s) => s.state === 'online'),
      'polling again',
      10_000,
    );
    assert.ok(linksMade >= 2);
    assert.equal(server.counters.connectionsAccepted, 1);
  });
});
