import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RunningSimSite, startSimSite } from '../../../drivers/sim/site.js';
import { buildEdge, type Edge } from '../../../edge/runtime/gateway.js';
import { openPtyPair, type PtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';
import { gatewayConfig, type HealthBody, httpGet } from './helpers.js';

/**
 * An RS-485 bus (doorstep's simulator on a socat pty) where every reply fails its CRC: no valid
 * frame for `degradedAfterMs`, so the bus is `degraded` with DRV_ERR_CRC as its reason (the stall
 * watchdog's failures counted by code) and recovers when the replies are good again.
 */
describe('a Modbus RTU bus that delivers no valid frame (buildEdge, pty)', () => {
  const dir = tempDir('doorstep-edge-rtu-degraded-');
  let pty: PtyPair;
  let site: RunningSimSite;
  let edge: Edge;
  let base: string;

  const until = async (what: string, check: (h: HealthBody) => boolean, ms = 30_000): Promise<HealthBody> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const body = JSON.parse((await httpGet(`${base}/health`)).text) as HealthBody;
      if (check(body)) return body;
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what}; /health: ${JSON.stringify(body.buses)} ${JSON.stringify(body.devices)}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    pty = await openPtyPair();
    site = await startSimSite({
      rtu: [
        {
          name: 'line',
          path: pty.b,
          devices: [{ id: 'smoke-1', profile: 'smoke-status-register', unitId: 1 }],
        },
      ],
    });
    const config = gatewayConfig({
      gateway: { id: 'gw-rtu', site: { district: 'd1', town: 't1', community: 'c1' } },
      buses: [
        {
          id: 'rs485',
          type: 'rtu',
          port: pty.a,
          baudRate: 9600,
          parity: 'none',
          timeoutMs: 300,
          retries: 0,
          degradedAfterMs: 1500,
        },
      ],
      devices: [
        {
          id: 'smoke-1',
          bus: 'rs485',
          profile: 'smoke-status-register',
          unitId: 1,
          location: '1号楼',
          pollIntervals: { critical: 200, normal: 300, diagnostic: 500 },
        },
      ],
      storage: { dataDir: dir.path },
      health: { port: 0 },
    });
    edge = buildEdge(config);
    await edge.start();
    const a = edge.healthAddress()!;
    base = `http://${a.host}:${a.port}`;
  });

  after(async () => {
    await edge?.stop();
    await site?.stop();
    await pty?.close();
    dir.dispose();
  });

  it('goes degraded with the commonest failure as its reason, and recovers', async () => {
    await until('smoke-1 online', (h) => h.devices['smoke-1']?.state === 'online');
    site.devices.get('smoke-1')!.unit.faults.set({ mode: 'bad_crc' });
    const h = await until('bus degraded', (x) => x.buses.rs485?.state === 'degraded');
    const bus = h.buses.rs485!;
    assert.equal(bus.reason, 'DRV_ERR_CRC');
    assert.match(bus.detail ?? '', /bus rs485 completed no transaction/);
    assert.ok((bus.rejected?.DRV_ERR_CRC ?? 0) > 0, JSON.stringify(bus.rejected));
    assert.ok(
      h.problems.some((p) => /^bus rs485 (stalled|degraded): /.test(p)),
      JSON.stringify(h.problems),
    );
    assert.equal(h.devices['smoke-1']!.state, 'offline');
    assert.equal(h.devices['smoke-1']!.reason, 'DRV_ERR_CRC');

    site.devices.get('smoke-1')!.unit.faults.clear();
    const ok = await until(
      'bus ok, device online',
      (x) => x.buses.rs485?.state === 'ok' && x.devices['smoke-1']?.state === 'online',
    );
    assert.equal(ok.buses.rs485!.reason, undefined);
  });
});
