import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { RegisterDump } from '../../provisioning/dump.js';
import { initWorkspace } from '../../provisioning/init.js';
import { startPymodbus } from '../drivers/bus/helpers.js';
import { openPtyPair, type PtyPair } from '../support/pty.js';
import { tempDir } from '../support/tmp.js';
import { runProvision } from './support.js';

/**
 * A vendor doorstep has no profile for, played by Debian's pymodbus on a socat pty: a gas detector
 * at unit 9 whose concentration (12.3 %LEL, ×0.1) sits in holding register 1 and whose set point
 * (20) in register 3, and a pressure reading (0.28 MPa, ×0.01) in input register 0. Its map ends
 * at address 99 (the fixture's 100 registers), so a 125-register read is refused and the dump
 * falls back to blocks of 16.
 */
describe('provision scan: a unit that matches no profile becomes work', () => {
  const dir = tempDir('doorstep-unknown-');
  let bus: PtyPair;
  let slave: Awaited<ReturnType<typeof startPymodbus>>;
  const holding = Array.from({ length: 40 }, (_, i) => [0, 123, 0, 20][i] ?? 0);
  const input = Array.from({ length: 40 }, (_, i) => (i === 0 ? 28 : 0));

  before(async () => {
    bus = await openPtyPair();
    const units = join(dir.path, 'units.json');
    writeFileSync(units, JSON.stringify({ units: { '9': { holding, input } } }));
    slave = await startPymodbus(['rtu', bus.b, units]);
  });

  after(async () => {
    await slave?.stop();
    await bus?.close();
    dir.dispose();
  });

  it('saves its registers, adds a disabled entry pointing at `doorstep profile new --dump`, and the config still validates', async () => {
    const ws = join(dir.path, 'ws');
    initWorkspace({
      dir: ws,
      gateway: 'gw-unknown',
      site: { district: 'pudong', town: 'zhangjiang', community: 'lane-100' },
    });
    const scan = await runProvision([
      'scan',
      '--dir',
      ws,
      '--port',
      bus.a,
      '--bauds',
      '9600',
      '--parities',
      'none',
      '--units',
      '8-10',
      '--timeout',
      '200',
      '--merge',
      '--progress',
      'plain',
    ]);
    assert.equal(scan.code, 0, `${scan.stdout}\n${scan.stderr}`);
    const file = join(ws, 'dumps', `unit-9-${bus.a.split('/').pop()}.json`);
    assert.match(
      scan.stderr,
      /unit 9 on .* matched no profile: \d+ register\(s\) saved to .*unit-9-.*\.json; write its profile with `doorstep profile new --dump .*unit-9-/,
    );
    assert.match(scan.stderr, /1 unidentified device\(s\) as disabled entries/);
    const dump = JSON.parse(readFileSync(file, 'utf8')) as RegisterDump;
    assert.equal(dump.kind, 'doorstep-register-dump');
    assert.equal(dump.unitId, 9);
    assert.deepEqual(dump.probed, [
      { table: 'holding', from: 0, to: 124 },
      { table: 'input', from: 0, to: 124 },
    ]);
    const word = (table: string, address: number) => {
      const b = dump.blocks.find(
        (x) => x.table === table && address >= x.address && address < x.address + x.values.length,
      );
      return b?.values[address - b.address];
    };
    assert.equal(word('holding', 1), 123, 'gas ×0.1 %LEL as the vendor stores it');
    assert.equal(word('holding', 3), 20);
    assert.equal(word('input', 0), 28, 'pressure ×0.01 MPa');
    // The 125-register read was refused (the map ends at 99): blocks of 16 up to 95 were read.
    assert.equal(word('holding', 95), 0);
    assert.equal(word('holding', 100), undefined, 'beyond the map: refused, left out');
    assert.ok(!dump.blocks.some((b) => b.values.length === 125));

    const yaml = readFileSync(join(ws, 'gateway.yaml'), 'utf8');
    assert.match(
      yaml,
      /# answered but matched no profile: registers saved to .*unit-9-.*; write its profile with `doorstep profile new --dump/,
    );
    const config = parse(yaml) as { devices: Array<Record<string, unknown>> };
    assert.deepEqual(config.devices, [
      {
        id: 'unknown-9',
        bus: 'rs485-1',
        profile: 'unknown-device',
        unitId: 9,
        location: 'TODO where is unit 9',
        enabled: false,
      },
    ]);
    const validate = await runProvision(['validate', '--dir', ws]);
    assert.equal(validate.code, 0, `${validate.stdout}\n${validate.stderr}`);

    // Merging again does not add it twice.
    const again = await runProvision([
      'scan',
      '--dir',
      ws,
      '--port',
      bus.a,
      '--bauds',
      '9600',
      '--parities',
      'none',
      '--units',
      '9',
      '--timeout',
      '200',
      '--merge',
      '--progress',
      'plain',
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /added 0 bus\(es\) and 0 device\(s\), 1 already configured/);
  });
});
