import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { freePort } from '../support/net.js';
import { api, type DoorstepProcess, enrollGateway, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';

const ADMIN: [string, string] = ['admin', 'downlink admin password'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface CaseView {
  id: string;
  device: string;
  type: string;
  condition: string;
  acked: boolean;
  stage: string;
}

/**
 * Back to the site: an acknowledgement in the cloud silences the gateway's siren, a reset in the
 * cloud resets the gateway's latch, and afterwards edge and cloud agree on the alarm's state.
 */
describe('cloud actions reach the gateway through the downlink', () => {
  const dir = tempDir('doorstep-e2e-downlink-');
  let site: RunningSimSite | undefined;
  const procs: DoorstepProcess[] = [];
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await site?.stop();
    dir.dispose();
  });

  it('ack silences the siren, reset resets the latch, states match', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/`;
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
    await cloud.waitFor(/listening on/);
    const { secret, adminToken } = await enrollGateway(base, ADMIN, { id: 'gw-site', site: SITE });
    writeFileSync(join(dir.path, 'gw.secret'), secret, { mode: 0o600 });

    site = await startSimSite({
      tcp: [
        {
          name: 'lane',
          devices: [
            { id: 'smoke-1', profile: 'smoke-status-register', unitId: 1 },
            { id: 'siren', profile: 'io-module-8di8do', unitId: 2 },
          ],
        },
      ],
    });
    const simPort = site.tcp[0]!.port;
    const fast = { critical: 200, normal: 500, diagnostic: 1000 };
    writeFileSync(
      join(dir.path, 'gateway.yaml'),
      stringify({
        gateway: { id: 'gw-site', site: SITE },
        buses: [{ id: 'lan', type: 'tcp', timeoutMs: 300 }],
        devices: [
          {
            id: 'smoke-1',
            bus: 'lan',
            profile: 'smoke-status-register',
            host: '127.0.0.1',
            port: simPort,
            unitId: 1,
            location: '1号楼',
            pollIntervals: fast,
          },
          {
            id: 'siren',
            bus: 'lan',
            profile: 'io-module-8di8do',
            host: '127.0.0.1',
            port: simPort,
            unitId: 2,
            location: '门卫室',
            pollIntervals: fast,
          },
        ],
        storage: { dataDir: dir.path },
        uplink: { url: base, credentialsFile: join(dir.path, 'gw.secret'), intervalMs: 300 },
        actions: [
          {
            id: 'siren',
            on: { types: ['smoke'] },
            do: { kind: 'write', device: 'siren', table: 'coil', address: 0 },
          },
        ],
        health: { port: 0 },
      }),
    );
    const edge = startDoorstep(['edge', '--config', join(dir.path, 'gateway.yaml')]);
    procs.push(edge);
    const health = /health (http:\/\/\S+\/health)/.exec(await edge.waitFor(/health http:/))![1]!;
    const sirenOn = () => site!.devices.get('siren')!.unit.bank.read('coil', 0, 1)?.[0] === 1;

    // Fire: the siren sounds on site and a case opens in the cloud.
    site.devices.get('smoke-1')!.set({ smoke: true });
    await until('siren on', async () => sirenOn());
    const kase = await until('case in the cloud', async () => {
      const r = await api<{ items: CaseView[] }>(base, 'GET', '/v1/cases?open=true', { token: adminToken });
      return r.body.items.find((c) => c.device === 'smoke-1' && c.type === 'smoke');
    });

    // Acknowledged in the cloud → the downlink silences the siren.
    const ack = await api(base, 'POST', `/v1/cases/${encodeURIComponent(kase.id)}/ack`, {
      token: adminToken,
      json: {},
    });
    assert.equal(ack.status, 200, JSON.stringify(ack.body));
    await until('siren silenced by the cloud', async () => !sirenOn());

    // The smoke clears; the latched alarm waits for a reset, which comes from the cloud.
    site.devices.get('smoke-1')!.set({ smoke: false });
    await until('latched in the cloud', async () => {
      const r = await api<{ case: CaseView }>(base, 'GET', `/v1/cases/${encodeURIComponent(kase.id)}`, {
        token: adminToken,
      });
      return r.body.case.condition === 'latched';
    });
    const reset = await api(base, 'POST', `/v1/cases/${encodeURIComponent(kase.id)}/reset`, {
      token: adminToken,
      json: {},
    });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));

    // The gateway resets its latch, reports the reset, and both sides agree: nothing open.
    await until('reset reached the cloud', async () => {
      const r = await api<{ case: CaseView }>(base, 'GET', `/v1/cases/${encodeURIComponent(kase.id)}`, {
        token: adminToken,
      });
      return r.body.case.condition === 'cleared';
    });
    const edgeHealth = (await (await fetch(health)).json()) as {
      rules: { openAlarms: { device: string; type: string }[] };
    };
    assert.ok(
      !edgeHealth.rules.openAlarms.some((a) => a.device === 'smoke-1' && a.type === 'smoke'),
      'the gateway has no open smoke alarm either',
    );
  });
});
