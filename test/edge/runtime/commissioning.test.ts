import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RunningSimSite, startSimSite } from '../../../drivers/sim/site.js';
import { buildEdge, type Edge } from '../../../edge/runtime/gateway.js';
import type { AlarmTransition } from '../../../protocol/index.js';
import { tempDir } from '../../support/tmp.js';
import { eventually, gatewayConfig } from './helpers.js';

/**
 * A gateway in commissioning (gateway.commissioning: true) raises every alarm as a test, so the
 * town sees the installer's walk test without anyone being paged; handing over (commissioning:
 * false, applied by reload as on SIGHUP) makes the next alarm real.
 */
describe('gateway in commissioning mode', () => {
  const dir = tempDir('doorstep-edge-commissioning-');
  let site: RunningSimSite;
  let edge: Edge;
  const transitions: AlarmTransition[] = [];
  let doc: (commissioning: boolean) => Record<string, unknown>;

  before(async () => {
    site = await startSimSite({
      tcp: [{ name: 'lane', devices: [{ id: 'gas-1', profile: 'gas-float32-abcd', unitId: 3 }] }],
    });
    const port = site.tcp[0]!.port;
    doc = (commissioning) => ({
      gateway: { id: 'gw-test', site: { district: 'd1', town: 't1', community: 'c1' }, commissioning },
      buses: [{ id: 'lan', type: 'tcp', timeoutMs: 200, retries: 0 }],
      devices: [
        {
          id: 'gas-1',
          bus: 'lan',
          profile: 'gas-float32-abcd',
          unitId: 3,
          host: '127.0.0.1',
          port,
          location: '食堂 厨房',
          pollIntervals: { critical: 100, normal: 200, diagnostic: 500 },
          rules: { gas_low: { onDelayMs: 0 } },
        },
      ],
      storage: { dataDir: dir.path },
      health: { port: 0 },
    });
    edge = buildEdge(gatewayConfig(doc(true)));
    edge.onTransition((t) => transitions.push(t));
    await edge.start();
  });

  after(async () => {
    await edge?.stop();
    await site?.stop();
    dir.dispose();
  });

  const raisedGasLow = (from: number) =>
    eventually(
      () => transitions.slice(from).find((t) => t.type === 'gas_low' && t.state === 'raised'),
      15_000,
      'gas_low raised',
    );

  it('marks every alarm raised while commissioning as a test, and the next one after handover as real', async () => {
    assert.equal(edge.health().commissioning, true);
    await eventually(() => edge.health().devices['gas-1']?.state === 'online', 10_000, 'gas-1 online');
    site.devices.get('gas-1')!.set({ gas: 30 });
    const test = await raisedGasLow(0);
    assert.equal(test.test, true, 'raised in commissioning: a test');
    site.devices.get('gas-1')!.set({ gas: 0 });
    const cleared = await eventually(
      () => transitions.find((t) => t.type === 'gas_low' && t.state === 'cleared'),
      15_000,
      'gas_low cleared',
    );
    assert.equal(cleared.test, true);

    // Handover: the file now says commissioning: false; SIGHUP reloads it.
    await edge.reload(gatewayConfig(doc(false)));
    assert.equal(edge.health().commissioning, false);
    assert.deepEqual(edge.health().rules.walkTest, []);
    const from = transitions.length;
    site.devices.get('gas-1')!.set({ gas: 30 });
    const real = await raisedGasLow(from);
    assert.equal(real.test, false, 'raised after handover: real');
    site.devices.get('gas-1')!.set({ gas: 0 });
  });
});
