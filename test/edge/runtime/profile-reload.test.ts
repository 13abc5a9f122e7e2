import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { startPymodbus } from '../../drivers/bus/helpers.js';
import { startDoorstep } from '../../support/processes.js';
import { openPtyPair } from '../../support/pty.js';
import { tempDir } from '../../support/tmp.js';

/**
 * SIGHUP reloads a changed profile FILE (issue 14, "SIGHUP reloads profiles too"): a real
 * `doorstep edge` polls Debian's pymodbus on a pty through a profile file; the vendor's new
 * firmware moves the concentration from an int16 ×0.1 in input 0 to a float32 in inputs 2–3, the
 * installer edits the file (version 2) and sends SIGHUP. The readings decode with the new map, the
 * alarm raised from the detector's AL1 stays open — not cleared, not raised again — and the device
 * never goes offline or faulty.
 */
const profileV1 = `type: register
id: site-gas-fw
version: 1
kind: gas
title: Site gas detector, firmware 1 map
modelledOn: the site's gas detectors, firmware 1 (int16 ×0.1 in input 0)
fields:
  - { kind: numeric, point: gas, table: input, address: 0, type: int16, scale: 0.1 }
  - { kind: bit, point: gas_al1, table: input, address: 1, bit: 0 }
intervals: { critical: 200, normal: 500, diagnostic: 500 }
`;

const profileV2 = `type: register
id: site-gas-fw
version: 2
kind: gas
title: Site gas detector, firmware 2 map
modelledOn: the site's gas detectors, firmware 2 (float32 in inputs 2–3)
fields:
  - { kind: numeric, point: gas, table: input, address: 2, type: float32 }
  - { kind: bit, point: gas_al1, table: input, address: 1, bit: 0 }
intervals: { critical: 200, normal: 500, diagnostic: 500 }
`;

interface Health {
  devices: Record<string, { state: string }>;
  rules: {
    readingsEvaluated: number;
    openAlarms: { device: string; type: string }[];
    transitions: Record<string, number>;
  };
}

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, limitMs = 60_000) {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('SIGHUP reloads a changed profile file', () => {
  it('decodes with the new map and keeps readings flowing and the open alarm', async () => {
    const dir = tempDir('doorstep-profile-reload-');
    after(() => dir.dispose());
    const profileFile = join(dir.path, 'site-gas-fw.yaml');
    writeFileSync(profileFile, profileV1);

    // The device holds both maps' registers: 12.3 %LEL as int16 ×10, AL1, and 12.5 %LEL as float32.
    const units = join(dir.path, 'units.json');
    writeFileSync(units, JSON.stringify({ units: { '5': { input: [123, 1, 0x4148, 0x0000] } } }));
    const pty = await openPtyPair();
    after(() => pty.close());
    const slave = await startPymodbus(['rtu', pty.b, units]);
    after(() => slave.stop());

    const config = join(dir.path, 'gateway.yaml');
    writeFileSync(
      config,
      stringify({
        gateway: { id: 'gw-reload', site: { district: 'd1', town: 't1', community: 'c1' } },
        buses: [{ id: 'rs485', type: 'rtu', port: pty.a, baudRate: 19200, parity: 'none', timeoutMs: 300 }],
        devices: [
          { id: 'gas-boiler', bus: 'rs485', profile: './site-gas-fw.yaml', unitId: 5, location: '锅炉房' },
        ],
        storage: { dataDir: dir.path },
        health: { port: 0 },
        telemetry: { flushIntervalMs: 200 },
      }),
    );
    const edge = startDoorstep(['edge', '--config', config]);
    after(() => edge.stop('SIGKILL'));
    const url = /health (http:\/\/\S+\/health)/.exec(await edge.waitFor(/health http:\/\//, 60_000))![1]!;
    const health = async () => (await (await fetch(url)).json()) as Health;
    const states = new Set<string>();
    const watch = setInterval(() => {
      void health()
        .then((h) => states.add(h.devices?.['gas-boiler']?.state ?? 'absent'))
        .catch(() => undefined);
    }, 50);
    after(() => clearInterval(watch));

    await waitUntil(
      async () => (await health()).rules.openAlarms?.some((a) => a.device === 'gas-boiler'),
      'the AL1 alarm raised',
    );
    const before = await health();
    assert.equal(before.rules.transitions.raised, 1);

    writeFileSync(profileFile, profileV2);
    edge.child.kill('SIGHUP');
    await edge.waitFor(/configuration reloaded/, 60_000);
    const seen = (await health()).rules.readingsEvaluated;
    await waitUntil(
      async () => (await health()).rules.readingsEvaluated >= seen + 30,
      'readings after reload',
    );
    const afterReload = await health();
    assert.equal(afterReload.devices['gas-boiler']?.state, 'online');
    assert.deepEqual(
      afterReload.rules.openAlarms.map((a) => `${a.device}/${a.type}`),
      ['gas-boiler/gas_low'],
      'the alarm is still open',
    );
    assert.equal(afterReload.rules.transitions.raised, 1, 'not raised a second time');
    assert.equal(afterReload.rules.transitions.cleared, 0, 'not cleared by the reload');
    clearInterval(watch);
    assert.ok(!states.has('offline') && !states.has('faulty'), `device states seen: ${[...states]}`);

    assert.equal(await edge.stop('SIGTERM'), 0);
    const db = new Database(join(dir.path, 'outbox.db'), { readonly: true });
    let rows: { payload: string }[];
    try {
      rows = db.prepare('select payload from entries order by rowid').all() as { payload: string }[];
    } finally {
      db.close();
    }
    const gas = rows
      .map((r) => JSON.parse(r.payload) as { device?: string; point?: string; value?: unknown })
      .filter((r) => r.device === 'gas-boiler' && r.point === 'gas')
      .map((r) => r.value);
    const first12_5 = gas.indexOf(12.5);
    assert.ok(gas.indexOf(12.3) >= 0 && first12_5 > gas.indexOf(12.3), `gas readings: ${gas.join(', ')}`);
    assert.ok(!gas.slice(first12_5).includes(12.3), 'after the reload only the new map decodes');
    const alarms = rows
      .map((r) => JSON.parse(r.payload) as { device?: string; type?: string; state?: string })
      .filter((r) => r.device === 'gas-boiler' && r.type === 'gas_low');
    assert.deepEqual(
      alarms.map((a) => a.state),
      ['raised'],
    );
  });
});
