import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DeviceAcquisition } from '../../../drivers/acquisition.js';
import { BusScheduler } from '../../../drivers/bus/scheduler.js';
import { TcpLink } from '../../../drivers/link/tcp.js';
import { getRegisterProfile } from '../../../drivers/profiles/catalogue/index.js';
import { startSimSite } from '../../../drivers/sim/site.js';
import type { DeviceLinkState, Reading } from '../../../protocol/index.js';

async function waitFor(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A decode that contradicts itself is flagged, not trusted (issue 14): a gas detector (doorstep's
 * simulator over Modbus TCP) reporting AL2 with 0 %LEL is `faulty` with DRV_ERR_IMPLAUSIBLE and
 * the reason, its readings uncertain; once the values agree again it is online and good.
 */
describe('implausible decodes make the device faulty, with the reason', () => {
  it('AL2 with 0 %LEL, then 300 %LEL, then a real reading', async () => {
    const site = await startSimSite({
      tcp: [
        { name: 'lan', devices: [{ id: 'gas', profile: 'gas-float32-cdab', unitId: 1, heartbeat: false }] },
      ],
    });
    after(() => site.stop());
    const sim = site.devices.get('gas')!;
    const endpoint = { host: site.tcp[0]!.host, port: site.tcp[0]!.port };
    const scheduler = new BusScheduler({
      bus: 'lan',
      protocol: 'tcp',
      createLink: (e) => new TcpLink({ host: e!.host, port: e!.port }),
    });
    const acquisition = new DeviceAcquisition(scheduler);
    const states: DeviceLinkState[] = [];
    const readings: Reading[] = [];
    acquisition.onDeviceState((s) => states.push(s));
    acquisition.onReadings((r) => readings.push(...r));
    acquisition.add({
      id: 'gas',
      profile: getRegisterProfile('gas-float32-cdab'),
      unitId: 1,
      timeoutMs: 1000,
      retries: 1,
      endpoint,
      intervals: { critical: 100, normal: 100, diagnostic: 100 },
    });
    acquisition.start();
    scheduler.start();
    after(async () => {
      acquisition.stop();
      await scheduler.stop();
    });
    const last = () => states.at(-1);
    const latest = (point: string) => readings.filter((r) => r.point === point).at(-1);
    await waitFor('online', () => last()?.state === 'online');

    sim.set({ gas: 0, gas_al1: true, gas_al2: true });
    await waitFor('faulty', () => last()?.state === 'faulty');
    assert.equal(last()?.reason, 'DRV_ERR_IMPLAUSIBLE');
    assert.match(last()!.detail!, /gas_al2 is set while gas = 0 %LEL/);
    await waitFor('an uncertain AL2', () => latest('gas_al2')?.value === true);
    assert.equal(latest('gas_al2')?.quality, 'uncertain');

    sim.set({ gas: 300, gas_al1: false, gas_al2: false });
    await waitFor('the range reason', () =>
      /gas = 300 %LEL is outside its physical range/.test(last()?.detail ?? ''),
    );
    assert.equal(last()?.state, 'faulty');

    sim.set({ gas: 30, gas_al1: true, gas_al2: false });
    await waitFor('online again', () => last()?.state === 'online');
    await waitFor('a good reading', () => latest('gas')?.value === 30);
    assert.equal(latest('gas')?.quality, 'good');
    assert.equal(latest('gas_al1')?.quality, 'good');
  });
});
