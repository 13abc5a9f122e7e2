import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { freePort } from '../../support/net.js';
import { api, enrollGateway, startDoorstep, writeCloudConfig } from '../../support/processes.js';
import { openPtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';
import { startPymodbus } from '../bus/helpers.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const ADMIN: [string, string] = ['admin', 'correct horse battery'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

/**
 * The installer's flow of issue 14, end to end, with no doorstep code on the device side: a gas
 * detector map doorstep has never seen — concentration ×10 %LEL in input 0, alarm bits in input 1,
 * set points in holding 0/1 — served by Debian's pymodbus over a real pty; the installer writes a
 * profile file, `doorstep profile check`s it, names the file in gateway.yaml, and `doorstep edge`
 * polls it: 12.3 %LEL, no alarm, arriving in a real `doorstep cloud` through the uplink, where the
 * device is in the registry under its label (社区食堂 厨房). The nearest built-in profile read this
 * map as 50 %LEL with AL2.
 */
const PROFILE = `# Gas detector of a vendor doorstep does not ship (map from its manual, table 3)
type: register
id: site-gas-gd10
version: 1
kind: gas
title: Gas detector, concentration ×10 in input 0, alarm bits in input 1
modelledOn: the site's wall-mounted catalytic gas detectors (RS-485, Modbus RTU)
source: vendor Modbus manual, table 3 "input registers"
fields:
  - { kind: numeric, point: gas, table: input, address: 0, type: int16, scale: 0.1 }
  - { kind: bit, point: gas_al1, table: input, address: 1, bit: 0 }
  - { kind: bit, point: gas_al2, table: input, address: 1, bit: 1 }
  - { kind: bit, point: fault, table: input, address: 1, bit: 7 }
  - { kind: numeric, point: set_point_low, name: Low set point, nameZh: 低报设定值, unit: "%LEL", range: [0, 100], priority: diagnostic, table: holding, address: 0, type: uint16, scale: 0.1 }
  - { kind: numeric, point: set_point_high, name: High set point, nameZh: 高报设定值, unit: "%LEL", range: [0, 100], priority: diagnostic, table: holding, address: 1, type: uint16, scale: 0.1 }
quality: { badWhen: [fault] }
intervals: { critical: 200, normal: 500, diagnostic: 500 }
`;

/** Waits for a condition, generously: the suite shares two cores. */
async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, limitMs = 60_000) {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('installer flow: a profile file for an unknown map, served by pymodbus, polled by doorstep edge', () => {
  it('checks the file and reads 12.3 %LEL, no alarm, with the set points, in the cloud', async () => {
    const dir = tempDir('doorstep-installer-');
    after(() => dir.dispose());

    // A real cloud, and the gateway enrolled in it as an installer does.
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/`;
    writeCloudConfig(join(dir.path, 'cloud.yaml'), { port, db: join(dir.path, 'cloud.db'), admin: ADMIN });
    const cloud = startDoorstep(['cloud', '--config', join(dir.path, 'cloud.yaml')]);
    after(() => cloud.stop('SIGKILL'));
    await cloud.waitFor(/doorstep cloud listening on /, 60_000);
    const enrolled = await enrollGateway(base, ADMIN, { id: 'gw-installer', site: SITE });
    writeFileSync(join(dir.path, 'gw.secret'), enrolled.secret, { mode: 0o600 });
    const profileFile = join(dir.path, 'site-gas-gd10.yaml');
    writeFileSync(profileFile, PROFILE);

    const check = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bin/doorstep.ts', 'profile', 'check', profileFile],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /ok — register profile site-gas-gd10 v1 \(gas\): 6 point\(s\)/);

    // What the device holds: 12.3 %LEL (123), no alarm bits; set points 10 and 25 %LEL.
    const units = join(dir.path, 'units.json');
    writeFileSync(units, JSON.stringify({ units: { '5': { input: [123, 0], holding: [100, 250] } } }));
    const pty = await openPtyPair();
    after(() => pty.close());
    const slave = await startPymodbus(['rtu', pty.b, units]);
    after(() => slave.stop());

    const config = join(dir.path, 'gateway.yaml');
    writeFileSync(
      config,
      stringify({
        gateway: { id: 'gw-installer', site: SITE },
        buses: [{ id: 'rs485', type: 'rtu', port: pty.a, baudRate: 19200, parity: 'none', timeoutMs: 300 }],
        devices: [
          {
            id: 'gas-canteen',
            bus: 'rs485',
            // relative to gateway.yaml
            profile: './site-gas-gd10.yaml',
            unitId: 5,
            location: '社区食堂 厨房',
          },
        ],
        storage: { dataDir: dir.path },
        health: { port: 0 },
        telemetry: { flushIntervalMs: 200 },
        uplink: { url: base, credentialsFile: join(dir.path, 'gw.secret'), intervalMs: 300 },
      }),
    );
    const edge = startDoorstep(['edge', '--config', config]);
    after(() => edge.stop('SIGKILL'));
    const healthUrl = /health (http:\/\/\S+\/health)/.exec(
      await edge.waitFor(/health http:\/\//, 60_000),
    )![1]!;

    const health = async () =>
      (await (await fetch(healthUrl)).json()) as {
        devices: Record<string, { state: string; detail?: string }>;
        rules: { readingsEvaluated: number };
      };
    await waitUntil(
      async () => (await health()).devices?.['gas-canteen']?.state === 'online',
      'device online',
    );
    // Every block (critical, and the slower set points) read a few times.
    await waitUntil(async () => (await health()).rules.readingsEvaluated >= 30, 'readings evaluated');
    assert.equal((await health()).devices['gas-canteen']?.state, 'online');

    // The readings as the district sees them: the latest of each point in the cloud.
    const latest = async () => {
      const { status, body } = await api<{
        items: { point: string; value: unknown; unit: string; quality: string; gateway: string }[];
      }>(base, 'GET', '/v1/readings?device=gas-canteen&limit=10000', { token: enrolled.adminToken });
      assert.equal(status, 200);
      const out = new Map<string, { value: unknown; unit: string; quality: string; gateway: string }>();
      for (const r of body.items) out.set(r.point, r);
      return out;
    };
    await waitUntil(async () => (await latest()).size >= 6, 'all six points in the cloud');
    const got = await latest();
    assert.deepEqual(got.get('gas'), {
      ...got.get('gas'),
      value: 12.3,
      unit: '%LEL',
      quality: 'good',
      gateway: 'gw-installer',
    });
    assert.equal(got.get('gas_al1')?.value, false);
    assert.equal(got.get('gas_al2')?.value, false);
    assert.equal(got.get('fault')?.value, false);
    assert.equal(got.get('set_point_low')?.value, 10);
    assert.equal(got.get('set_point_high')?.value, 25);

    // … and a labelled device in the district's registry, with the profile file it was read by.
    const registered = async () => {
      const { status, body } = await api<{
        items: { device: string; label: string; kind: string; profile: string; status: string }[];
      }>(base, 'GET', '/v1/registry/devices?gateway=gw-installer', { token: enrolled.adminToken });
      assert.equal(status, 200);
      return body.items.find((d) => d.device === 'gas-canteen');
    };
    await waitUntil(async () => (await registered()) !== undefined, 'the device in the registry');
    const record = await registered();
    assert.equal(record?.label, '社区食堂 厨房');
    assert.equal(record?.kind, 'gas');
    assert.equal(record?.status, 'active');
    assert.equal(record?.profile, 'site-gas-gd10');
    assert.equal(await edge.stop('SIGTERM'), 0);
  });
});
