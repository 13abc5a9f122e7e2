import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BusScheduler } from '../../../drivers/bus/scheduler.js';
import { MemoryLink } from '../../../drivers/link/memory.js';
import { RtuSlave } from '../../../drivers/sim/modbus-slave/rtu-slave.js';
import { SimUnit } from '../../../drivers/sim/modbus-slave/unit.js';
import { RegisterBank } from '../../../drivers/sim/register-bank.js';
import type { DeviceLinkState } from '../../../protocol/index.js';

describe('BusScheduler link factory failures', () => {
  it('a link factory that throws is retried with backoff, and polling starts once it works', async () => {
    const [gatewaySide, deviceSide] = MemoryLink.pair('factory');
    const slave = new RtuSlave({
      link: deviceSide,
      units: [new SimUnit({ unitId: 1, bank: new RegisterBank().map('holding', 0, 2) })],
    });
    await slave.start();
    let calls = 0;
    const states: DeviceLinkState[] = [];
    const scheduler = new BusScheduler({
      bus: 'factory',
      protocol: 'rtu',
      reconnect: { initialMs: 10, factor: 2, maxMs: 50 },
      createLink: () => {
        calls++;
        if (calls < 3) throw new Error('adapter not plugged in yet');
        return gatewaySide;
      },
    });
    scheduler.onDeviceState((s) => states.push(s));
    scheduler.addDevice({
      device: 'd1',
      unitId: 1,
      timeoutMs: 200,
      retries: 0,
      blocks: [{ id: 'b', table: 'holding', address: 0, count: 2, intervalMs: 20, priority: 'critical' }],
    });
    scheduler.start();
    try {
      for (let i = 0; i < 200 && !states.some((s) => s.state === 'online'); i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.ok(calls >= 3, `factory called ${calls} times`);
      assert.ok(
        states.some((s) => s.state === 'offline' && s.reason === 'DRV_ERR_LINK_OPEN'),
        'reported while failing',
      );
      assert.ok(
        states.some((s) => s.state === 'online'),
        'online once the factory works',
      );
    } finally {
      await scheduler.stop();
      await slave.stop();
    }
  });
});
