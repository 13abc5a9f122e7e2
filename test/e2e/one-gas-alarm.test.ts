import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { freePort } from '../support/net.js';
import { api, type DoorstepProcess, enrollGateway, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';

const ADMIN: [string, string] = ['admin', 'correct horse battery'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

interface CaseView {
  id: string;
  device: string;
  type: string;
  condition: string;
}
interface AlarmView {
  id: string;
  type: string;
  state: string;
  value?: number | boolean;
  sources?: string[];
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
 * One gas leak through real processes — a simulated Midas-style detector over Modbus TCP, the
 * gateway, the cloud — is one case per level, whichever of the detector's AL1/AL2 bits and
 * doorstep's set points sees it first; the transitions in the cloud name both sources.
 */
describe('one gas leak, one case per level, end to end', () => {
  const dir = tempDir('doorstep-e2e-gas-');
  let site: RunningSimSite | undefined;
  const procs: DoorstepProcess[] = [];
  let base = '';
  let token = '';

  before(async () => {
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
            { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
          ],
        },
        log: { level: 'warn' },
      }),
    );
    const cloud = startDoorstep(['cloud', '--config', join(dir.path, 'cloud.yaml')]);
    procs.push(cloud);
    await cloud.waitFor(/doorstep cloud listening on /);
    const enrolled = await enrollGateway(base, ADMIN, { id: 'gw-gas', site: SITE });
    token = enrolled.adminToken;
    writeFileSync(join(dir.path, 'gw.secret'), enrolled.secret, { mode: 0o600 });
    site = await startSimSite({
      tcp: [
        {
          name: 'lane',
          devices: [{ id: 'gas-1', profile: 'gas-status-word-int16', unitId: 1, heartbeat: false }],
        },
      ],
    });
    writeFileSync(
      join(dir.path, 'gateway.yaml'),
      stringify({
        gateway: { id: 'gw-gas', site: SITE },
        buses: [{ id: 'lan', type: 'tcp', timeoutMs: 500 }],
        devices: [
          {
            id: 'gas-1',
            bus: 'lan',
            profile: 'gas-status-word-int16',
            host: '127.0.0.1',
            port: site.tcp[0]!.port,
            unitId: 1,
            location: '3号楼 厨房',
            pollIntervals: { critical: 200, normal: 200, diagnostic: 1000 },
          },
        ],
        storage: { dataDir: dir.path },
        uplink: { url: base, credentialsFile: join(dir.path, 'gw.secret'), intervalMs: 300 },
        health: { port: 0 },
      }),
    );
    const edge = startDoorstep(['edge', '--config', join(dir.path, 'gateway.yaml')], {
      DOORSTEP_LOG_LEVEL: 'warn',
    });
    procs.push(edge);
    await edge.waitFor(/doorstep edge gw-gas running/);
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop('SIGKILL');
    await site?.stop();
    dir.dispose();
  });

  it('AL1 before the set point, AL2 with 50 %LEL: two cases, gas_low and gas_high, never gas_al1/gas_al2', async () => {
    const gas = site!.devices.get('gas-1')!;
    const cases = async () =>
      (await api<{ items: CaseView[] }>(base, 'GET', '/v1/cases', { token })).body.items.filter(
        (c) => c.device === 'gas-1',
      );
    const transitions = async (type: string) =>
      (await api<{ items: AlarmView[] }>(base, 'GET', `/v1/alarms?gateway=gw-gas&type=${type}`, { token }))
        .body.items;

    // The detector's own AL1 (set at 15 %LEL on this unit) sees the leak before doorstep's 20.
    gas.set({ gas: 16, gas_al1: true });
    await until('gas_low raised in the cloud', async () => (await transitions('gas_low')).length === 1);
    gas.set({ gas: 30, gas_al1: true }); // doorstep's set point joins: the same alarm
    gas.set({ gas: 62, gas_al1: true, gas_al2: true });
    await until('gas_high raised in the cloud', async () => (await transitions('gas_high')).length === 1);
    gas.set({ gas: 0, gas_al1: false, gas_al2: false });
    await until(
      'both cleared in the cloud',
      async () => (await transitions('gas_low')).length === 2 && (await transitions('gas_high')).length === 2,
    );

    const all = await cases();
    assert.deepEqual(all.map((c) => c.type).sort(), ['gas_high', 'gas_low'], JSON.stringify(all));
    const low = await transitions('gas_low');
    const byState = Object.fromEntries(low.map((t) => [t.state, t]));
    assert.equal(byState.raised?.id, byState.cleared?.id, 'one identity from raise to clear');
    assert.deepEqual(byState.raised?.sources, ['device']);
    assert.equal(byState.raised?.value, 16, 'the concentration, not the AL1 flag');
    assert.deepEqual(byState.cleared?.sources, ['device', 'threshold']);
    const high = await transitions('gas_high');
    assert.deepEqual(high.find((t) => t.state === 'raised')?.sources, ['device', 'threshold']);
    // Nothing was raised under the detector's bit names.
    for (const type of ['gas_al1', 'gas_al2']) assert.deepEqual(await transitions(type), [], type);
  });
});
