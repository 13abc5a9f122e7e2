/**
 * The device registry through real processes: two `doorstep edge` gateways and `doorstep cloud`
 * (SQLite), simulated Modbus TCP detectors. The gateways' inventories give the cloud its labels —
 * the gas leak's case and its notice in the duty inbox say 社区食堂 厨房, not `gas-canteen` — and
 * the detector, moved to the other gateway under its register code and taken out of the first
 * one's configuration (SIGHUP), keeps one record whose history holds the case from before.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { DutyInbox } from '../../cloud/notify/inbox.js';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { freePort } from '../support/net.js';
import { api, type DoorstepProcess, enrollGateway, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';

const ADMIN: [string, string] = ['admin', 'registry e2e admin password'];
const LANE_100 = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };
const LANE_200 = { district: 'pudong', town: 'zhangjiang', community: 'lane-200' };
const SECRET = 'registry-e2e-inbox-secret';

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface RegistryView {
  code: string;
  gateway: string;
  device: string;
  label: string;
  building?: string;
  status: string;
  removedAt?: number;
}

describe('device registry end to end: labels in cases and notices, a device moved keeps its record', () => {
  const dir = tempDir('doorstep-e2e-registry-');
  const inbox = new DutyInbox({ port: 0, secret: SECRET });
  let sim: RunningSimSite | undefined;
  const procs: DoorstepProcess[] = [];
  let base = '';
  let token = '';
  let edge1: DoorstepProcess;

  const gatewayYaml = (id: string, site: object, secretFile: string, devices: object[]) =>
    stringify({
      gateway: { id, site },
      buses: [{ id: 'lan', type: 'tcp', timeoutMs: 500 }],
      devices,
      storage: { dataDir: join(dir.path, id) },
      uplink: { url: base, credentialsFile: secretFile, intervalMs: 300 },
      health: { port: 0 },
    });
  const device = (id: string, profile: string, unitId: number, extra: object) => ({
    id,
    bus: 'lan',
    profile,
    host: '127.0.0.1',
    port: sim!.tcp[0]!.port,
    unitId,
    pollIntervals: { critical: 200, normal: 200, diagnostic: 1000 },
    ...extra,
  });
  const registry = async (query = '') =>
    (await api<{ items: RegistryView[] }>(base, 'GET', `/v1/registry/devices?status=all${query}`, { token }))
      .body.items;

  before(async () => {
    await inbox.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}/`;
    writeFileSync(
      join(dir.path, 'cloud.yaml'),
      stringify({
        district: { slug: 'pudong', name: '浦东新区' },
        http: { host: '127.0.0.1', port },
        storage: { kind: 'sqlite', path: join(dir.path, 'cloud.db') },
        bootstrap: {
          admin: { username: ADMIN[0], password: ADMIN[1] },
          sites: [
            { path: 'pudong/zhangjiang', name: '张江镇' },
            { path: 'pudong/zhangjiang/lane-100', name: '100弄' },
            { path: 'pudong/zhangjiang/lane-200', name: '200弄' },
          ],
        },
        escalation: {
          people: [
            {
              id: 'inbox-duty',
              name: '社区值班',
              site: 'pudong/zhangjiang/lane-100',
              roles: ['duty'],
              channels: [{ kind: 'webhook', url: inbox.webhookUrl, secret: SECRET }],
            },
          ],
        },
        log: { level: 'warn' },
      }),
    );
    const cloud = startDoorstep(['cloud', '--config', join(dir.path, 'cloud.yaml')]);
    procs.push(cloud);
    await cloud.waitFor(/doorstep cloud listening on /);
    const g1 = await enrollGateway(base, ADMIN, { id: 'gw-100', site: LANE_100 });
    const g2 = await enrollGateway(base, ADMIN, { id: 'gw-200', site: LANE_200 });
    token = g1.adminToken;
    writeFileSync(join(dir.path, 'gw-100.secret'), g1.secret, { mode: 0o600 });
    mkdirSync(join(dir.path, 'gw-100'));
    mkdirSync(join(dir.path, 'gw-200'));
    writeFileSync(join(dir.path, 'gw-200.secret'), g2.secret, { mode: 0o600 });
    sim = await startSimSite({
      tcp: [
        {
          name: 'lane',
          devices: [
            { id: 'gas-canteen', profile: 'gas-status-word-int16', unitId: 1, heartbeat: false },
            { id: 'smoke-3-2', profile: 'smoke-status-register', unitId: 2 },
          ],
        },
      ],
    });
    writeFileSync(
      join(dir.path, 'gw-100.yaml'),
      gatewayYaml('gw-100', LANE_100, join(dir.path, 'gw-100.secret'), [
        device('gas-canteen', 'gas-status-word-int16', 1, {
          location: '社区食堂 厨房',
          code: 'PD-ZJ-000001',
          building: '社区食堂',
          floor: '1F',
          installedOn: '2024-05-01',
        }),
        device('smoke-3-2', 'smoke-status-register', 2, {
          location: '3号楼2单元 楼道',
          building: '3号楼',
          unit: '2单元',
        }),
      ]),
    );
    edge1 = startDoorstep(['edge', '--config', join(dir.path, 'gw-100.yaml')], {
      DOORSTEP_LOG_LEVEL: 'warn',
    });
    procs.push(edge1);
    await edge1.waitFor(/doorstep edge gw-100 running/);
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop('SIGKILL');
    await sim?.stop();
    await inbox.stop();
    dir.dispose();
  });

  it('the inventory reaches the registry; a gas leak is a case at 社区食堂 厨房 and the notice says so', async () => {
    const listed = await until('both devices in the registry', async () => {
      const items = await registry();
      return items.length === 2 && items;
    });
    assert.deepEqual(
      listed.map((d) => [d.code, d.label, d.building, d.status]),
      [
        ['PD-ZJ-000001', '社区食堂 厨房', '社区食堂', 'active'],
        ['gw-100.smoke-3-2', '3号楼2单元 楼道', '3号楼', 'active'],
      ],
    );

    sim!.devices.get('gas-canteen')!.set({ gas: 62, gas_al1: true, gas_al2: true });
    const gasCase = await until('a gas case in the cloud', async () => {
      const cases = (
        await api<{ items: Array<{ id: string; device: string; type: string; location?: string }> }>(
          base,
          'GET',
          '/v1/cases',
          { token },
        )
      ).body.items;
      return cases.find((c) => c.device === 'gas-canteen');
    });
    assert.equal(gasCase.location, '社区食堂 厨房');
    const notice = await until('the first notice in the duty inbox', async () =>
      inbox.messages().find((m) => m.payload.cases.some((c) => c.device === 'gas-canteen')),
    );
    const rendered = notice.payload.cases.find((c) => c.device === 'gas-canteen')!;
    assert.equal(rendered.location, '社区食堂 厨房');
    assert.match(notice.payload.text, /社区食堂 厨房/);
    sim!.devices.get('gas-canteen')!.set({ gas: 0, gas_al1: false, gas_al2: false });
  });

  it('moved to another gateway under its code and taken out of the first (SIGHUP): one record, its case follows', async () => {
    writeFileSync(
      join(dir.path, 'gw-200.yaml'),
      gatewayYaml('gw-200', LANE_200, join(dir.path, 'gw-200.secret'), [
        device('kitchen-gas', 'gas-status-word-int16', 1, { location: '200弄 厨房', code: 'PD-ZJ-000001' }),
      ]),
    );
    const edge2 = startDoorstep(['edge', '--config', join(dir.path, 'gw-200.yaml')], {
      DOORSTEP_LOG_LEVEL: 'warn',
    });
    procs.push(edge2);
    await edge2.waitFor(/doorstep edge gw-200 running/);
    await until('the record moved to gw-200', async () =>
      (await registry()).some((d) => d.code === 'PD-ZJ-000001' && d.gateway === 'gw-200'),
    );

    // gw-100 now has only the smoke detector… and not even that: both leave its configuration.
    writeFileSync(
      join(dir.path, 'gw-100.yaml'),
      gatewayYaml('gw-100', LANE_100, join(dir.path, 'gw-100.secret'), []),
    );
    edge1.child.kill('SIGHUP');
    const removed = await until('the smoke detector marked removed', async () => {
      const d = (await registry()).find((x) => x.code === 'gw-100.smoke-3-2');
      return d?.status === 'removed' && d;
    });
    assert.ok(removed.removedAt! > 0);

    const all = await registry();
    assert.deepEqual(
      all.map((d) => [d.code, d.gateway, d.device, d.label, d.status]),
      [
        ['gw-100.smoke-3-2', 'gw-100', 'smoke-3-2', '3号楼2单元 楼道', 'removed'],
        ['PD-ZJ-000001', 'gw-200', 'kitchen-gas', '200弄 厨房', 'active'],
      ],
    );
    const one = await api<{
      device: RegistryView;
      bindings: Array<{ gateway: string; device: string; until?: number }>;
      cases: Array<{ gateway: string; device: string; location?: string }>;
    }>(base, 'GET', '/v1/registry/devices/PD-ZJ-000001', { token });
    assert.equal(one.status, 200);
    assert.deepEqual(
      one.body.bindings.map((b) => [b.gateway, b.device, b.until !== undefined]),
      [
        ['gw-100', 'gas-canteen', true],
        ['gw-200', 'kitchen-gas', false],
      ],
    );
    // The leak's cases (gas_low and gas_high) from before the move, found by the code.
    assert.ok(one.body.cases.length >= 1);
    for (const c of one.body.cases)
      assert.deepEqual([c.gateway, c.device, c.location], ['gw-100', 'gas-canteen', '社区食堂 厨房']);
  });
});
