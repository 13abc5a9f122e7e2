import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { SqliteCloudStore } from '../../cloud/store/sqlite/store.js';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import { freePort } from '../support/net.js';
import {
  api,
  type DoorstepProcess,
  enrollGateway,
  startDoorstep,
  writeCloudConfig,
} from '../support/processes.js';
import { tempDir } from '../support/tmp.js';

const ADMIN: [string, string] = ['admin', 'correct horse battery'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

interface EdgeHealth {
  outbox: { totalRows: number; pending: Record<string, { rows: number }> };
  uplink?: { lastSuccessAt?: number; consecutiveFailures: number };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Edge and cloud as real processes: the cloud stopped and restarted (backlog drains), SIGKILL of
 * the gateway and of the cloud mid-batch; at the end every row the gateway's outbox accepted is in
 * the cloud exactly once — counted on both sides: 0 lost, 0 duplicated.
 */
describe('edge ↔ cloud sync, end to end', () => {
  const dir = tempDir('doorstep-e2e-sync-');
  let site: RunningSimSite | undefined;
  let cloud: DoorstepProcess | undefined;
  let edge: DoorstepProcess | undefined;
  let cloudUrl = '';
  let edgeHealth = '';
  const cloudConfig = join(dir.path, 'cloud.yaml');
  const edgeConfig = join(dir.path, 'gateway.yaml');

  const startCloud = async () => {
    cloud = startDoorstep(['cloud', '--config', cloudConfig]);
    await cloud.waitFor(/doorstep cloud listening on /);
  };
  const startEdge = async () => {
    edge = startDoorstep(['edge', '--config', edgeConfig], { DOORSTEP_LOG_LEVEL: 'warn' });
    const line = await edge.waitFor(/health http:\/\/\S+\/health/);
    edgeHealth = /health (http:\/\/\S+\/health)/.exec(line)![1]!;
  };
  const health = async () => (await (await fetch(edgeHealth)).json()) as EdgeHealth;

  before(async () => {
    const port = await freePort();
    cloudUrl = `http://127.0.0.1:${port}/`;
    writeCloudConfig(cloudConfig, { port, db: join(dir.path, 'cloud.db'), admin: ADMIN });
    await startCloud();
    const { secret } = await enrollGateway(cloudUrl, ADMIN, { id: 'gw-e2e', site: SITE });
    writeFileSync(join(dir.path, 'gateway.secret'), secret, { mode: 0o600 });

    site = await startSimSite({
      tcp: [
        {
          name: 'lane',
          devices: [
            { id: 'smoke-a', profile: 'smoke-status-register', unitId: 1 },
            { id: 'gas-1', profile: 'gas-float32-abcd', unitId: 2 },
            { id: 'pressure-1', profile: 'pressure-float32-loop', unitId: 3 },
          ],
        },
      ],
    });
    const simPort = site.tcp[0]!.port;
    const device = (id: string, profile: string, unitId: number) => ({
      id,
      bus: 'lan',
      profile,
      unitId,
      host: '127.0.0.1',
      port: simPort,
      location: id,
      pollIntervals: { critical: 200, normal: 200, diagnostic: 200 },
    });
    writeFileSync(
      edgeConfig,
      stringify({
        gateway: { id: 'gw-e2e', site: SITE },
        buses: [{ id: 'lan', type: 'tcp', timeoutMs: 300 }],
        devices: [
          device('smoke-a', 'smoke-status-register', 1),
          device('gas-1', 'gas-float32-abcd', 2),
          device('pressure-1', 'pressure-float32-loop', 3),
        ],
        storage: { dataDir: dir.path },
        // every reading goes to the cloud: lots of telemetry to lose or duplicate
        telemetry: { deadbandPercent: 0, heartbeatMs: 1000, flushIntervalMs: 200 },
        uplink: {
          url: cloudUrl,
          credentialsFile: join(dir.path, 'gateway.secret'),
          intervalMs: 300,
          requestTimeoutMs: 3000,
          backlogRowsPerSecond: 'max',
          batchRows: 300,
        },
        health: { port: 0 },
      }),
    );
    await startEdge();
  });

  after(async () => {
    await edge?.stop('SIGKILL');
    await cloud?.stop('SIGKILL');
    await site?.stop();
    dir.dispose();
  });

  it('drains a backlog after a cloud outage and survives SIGKILL on both sides with 0 lost, 0 duplicated', async () => {
    // Sync is flowing.
    await until('first sync', async () => (await health()).uplink?.lastSuccessAt);

    // The cloud goes away for a while; the gateway keeps acquiring and raises an alarm meanwhile.
    await cloud!.stop('SIGTERM');
    site!.devices.get('smoke-a')!.set({ smoke: true });
    await until('alarm and backlog pending', async () => {
      const h = await health();
      return h.outbox.pending.alarm!.rows >= 1 && h.outbox.pending.telemetry!.rows >= 100;
    });
    await startCloud();

    // SIGKILL the gateway while it drains the backlog, then start it again.
    await until('drain under way', async () => (await health()).uplink?.consecutiveFailures === 0);
    await edge!.stop('SIGKILL');
    await startEdge();

    // SIGKILL the cloud while batches are arriving, then start it again.
    await new Promise((r) => setTimeout(r, 500));
    await cloud!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    await startCloud();

    // The alarm reached the cloud.
    const { adminToken } = await enrollToken();
    await until('alarm in the cloud', async () => {
      const r = await api<
        { items?: { device: string; state: string }[] } | { device: string; state: string }[]
      >(cloudUrl, 'GET', '/v1/alarms?limit=100', { token: adminToken });
      const items = Array.isArray(r.body) ? r.body : (r.body.items ?? []);
      return items.some((t) => t.device === 'smoke-a' && t.state === 'raised');
    });

    // Silence the field (the gateway keeps producing telemetry while devices answer), let the gateway
    // catch up, then stop both cleanly and count.
    await site?.stop();
    site = undefined;
    await until('outbox empty', async () => (await health()).outbox.totalRows === 0, 150_000);
    assert.equal(await edge!.stop('SIGTERM'), 0);
    assert.equal(await cloud!.stop('SIGTERM'), 0);

    const outbox = new SqliteOutbox({ path: join(dir.path, 'outbox.db') });
    outbox.open();
    const edgeStats = outbox.stats();
    outbox.close();
    const store = new SqliteCloudStore({ path: join(dir.path, 'cloud.db') });
    const stored = await store.countRecords('gw-e2e');
    await store.close();
    const cloudTotal = stored.alarms + stored.events + stored.telemetry;
    const dropped = Object.values(edgeStats.counters.dropped).reduce(
      (sum, reasons) => sum + Object.values(reasons).reduce((a, b) => a + b, 0),
      0,
    );
    assert.equal(edgeStats.totalRows, 0, 'nothing left in the outbox');
    assert.equal(edgeStats.counters.quarantined, 0, 'nothing quarantined');
    assert.equal(dropped, 0, 'nothing dropped');
    assert.ok(edgeStats.counters.accepted > 100, `accepted ${edgeStats.counters.accepted}`);
    assert.equal(edgeStats.counters.acked, edgeStats.counters.accepted, 'every accepted row acknowledged');
    assert.equal(
      cloudTotal,
      edgeStats.counters.accepted,
      'the cloud holds exactly what the gateway accepted',
    );
    assert.ok(stored.alarms >= 1);
  });

  async function enrollToken(): Promise<{ adminToken: string }> {
    const t = await api<{ token: string }>(cloudUrl, 'POST', '/v1/api-tokens', { basic: ADMIN, json: {} });
    return { adminToken: t.body.token };
  }
});
