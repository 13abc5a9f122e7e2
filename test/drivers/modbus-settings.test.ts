import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { checkProfileDocument } from '../../drivers/profiles/file.js';
import { startDoorstep } from '../support/processes.js';
import { openPtyPair } from '../support/pty.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

/** `doorstep ARGS`: exit code and output, never throwing. */
async function doorstep(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'bin/doorstep.ts', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('profile settings section', () => {
  const base = {
    type: 'register',
    id: 'x-pressure',
    kind: 'water_pressure',
    title: 'x',
    modelledOn: 'x',
    fields: [{ kind: 'numeric', point: 'pressure', table: 'holding', address: 0, type: 'uint16' }],
  };
  it('accepts unit id, baud and parity registers with codes', () => {
    const { issues, loaded } = checkProfileDocument({
      ...base,
      settings: {
        unitId: { register: 10 },
        baud: { register: 11, codes: { '9600': 3, '19200': 4 } },
        parity: { register: 12, codes: { none: 0, even: 1 } },
      },
    });
    assert.deepEqual(issues, []);
    assert.equal(loaded?.type === 'register' && loaded.profile.settings?.baud?.codes['19200'], 4);
  });
  it('refuses an unknown settings key; a settings register that a field reads or another setting uses', () => {
    const { issues } = checkProfileDocument({
      ...base,
      settings: {
        unitId: { register: 0 },
        baud: { register: 0, codes: { '9600': 3 } },
        stopBits: { register: 3 },
      },
    });
    const paths = issues.map((i) => i.path);
    assert.ok(paths.includes('settings'), JSON.stringify(issues));
    const again = checkProfileDocument({
      ...base,
      settings: { unitId: { register: 0 }, baud: { register: 0, codes: { '9600': 3 } } },
    }).issues;
    assert.deepEqual(
      again.map((i) => `${i.path}: ${i.message}`),
      [
        'settings.unitId.register: holding 0 is read as point "pressure" (fields[0])',
        'settings.baud.register: holding 0 is already the unitId register',
        'settings.baud.register: holding 0 is read as point "pressure" (fields[0])',
      ],
    );
  });
});

describe('doorstep modbus set-unit / set-baud against doorstep sim over a pty', () => {
  it('re-addresses and re-speeds a device as its profile declares, verifies, and refuses what it cannot do', async () => {
    const pty = await openPtyPair();
    after(() => pty.close());
    const sim = startDoorstep([
      'sim',
      '--serial',
      pty.b,
      '--device',
      'pres:pressure-float32-unit-code:3',
      '--device',
      'lvl:level-radar-mm:4',
      '--device',
      'gas:gas-float32-abcd:5',
    ]);
    after(() => sim.stop('SIGKILL'));
    await sim.waitFor(/^ready$/, 60_000);
    const line = ['--serial', pty.a, '--baud', '9600', '--parity', 'none', '--timeout', '300'];
    const raw = (unit: number, address: number) =>
      doorstep(['poll', '--raw', ...line, '--unit', String(unit), '--address', String(address)]);

    // The transmitter (Lobaro map): unit id in holding 0, baud code 3 (9600) in holding 1.
    assert.match((await raw(3, 0)).stdout, /^holding {6}0 {2}uint16 +3 /);
    assert.match((await raw(3, 1)).stdout, /^holding {6}1 {2}uint16 +3 /);

    // Unit 4 is taken by the level sensor: refused, nothing written.
    const taken = await doorstep([
      'modbus',
      'set-unit',
      ...line,
      '--profile',
      'pressure-float32-unit-code',
      '--unit',
      '3',
      '--to',
      '4',
    ]);
    assert.equal(taken.code, 1);
    assert.match(
      taken.stderr,
      /DRV_ERR_SETTINGS_VERIFY: .*#4: a device already answers at unit 4.*nothing written/,
    );
    assert.match((await raw(3, 0)).stdout, /uint16 +3 /);

    const moved = await doorstep([
      'modbus',
      'set-unit',
      ...line,
      '--profile',
      'pressure-float32-unit-code',
      '--unit',
      '3',
      '--to',
      '7',
    ]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(
      moved.stdout,
      /^unit 3 → 7: verified \(holding 0 reads 7 at unit 7; profile pressure-float32-unit-code\)\n$/,
    );
    assert.match((await raw(7, 0)).stdout, /uint16 +7 /);
    const old = await raw(3, 0);
    assert.equal(old.code, 1);
    assert.match(old.stderr, /DRV_ERR_TIMEOUT: no reply from .*#3/);

    // The radar level sensor keeps its address at 0x03F4 (DFRobot SEN0676).
    const lvl = await doorstep([
      'modbus',
      'set-unit',
      '--port',
      pty.a,
      '--parity',
      'none',
      '--profile',
      'level-radar-mm',
      '--unit',
      '4',
      '--to',
      '9',
    ]);
    assert.equal(lvl.code, 0, lvl.stderr);
    assert.match(lvl.stdout, /unit 4 → 9: verified \(holding 1012 reads 9 at unit 9/);

    // A profile that declares no settings: refused with the reason, nothing written.
    const none = await doorstep([
      'modbus',
      'set-unit',
      ...line,
      '--profile',
      'gas-float32-abcd',
      '--unit',
      '5',
      '--to',
      '6',
    ]);
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /DRV_ERR_NO_SETTINGS: profile gas-float32-abcd does not declare how the device's unit id is written/,
    );
    assert.match(none.stderr, /hint: Add a `settings` section/);

    // Baud: 19200 is code 4; verified by reading back at the new speed.
    const fast = await doorstep([
      'modbus',
      'set-baud',
      ...line,
      '--profile',
      'pressure-float32-unit-code',
      '--unit',
      '7',
      '--to',
      '19200',
    ]);
    assert.equal(fast.code, 0, fast.stderr);
    assert.match(
      fast.stdout,
      /unit 7: 9600 none → 19200 none: verified \(holding 1 reads code 4 at the new speed/,
    );
    const at19200 = await doorstep([
      'poll',
      '--raw',
      '--serial',
      pty.a,
      '--baud',
      '19200',
      '--parity',
      'none',
      '--unit',
      '7',
      '--address',
      '1',
    ]);
    assert.match(at19200.stdout, /uint16 +4 /);

    // What the map cannot do: a rate it lists no code for, a parity it has no register for.
    const odd = await doorstep([
      'modbus',
      'set-baud',
      ...line,
      '--profile',
      'pressure-float32-unit-code',
      '--unit',
      '7',
      '--to',
      '14400',
    ]);
    assert.equal(odd.code, 2);
    assert.match(
      odd.stderr,
      /lists no code for 14400 baud; it supports 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200/,
    );
    const parity = await doorstep([
      'modbus',
      'set-baud',
      ...line,
      '--profile',
      'pressure-float32-unit-code',
      '--unit',
      '7',
      '--to',
      '19200',
      '--to-parity',
      'E',
    ]);
    assert.equal(parity.code, 1);
    assert.match(
      parity.stderr,
      /DRV_ERR_NO_SETTINGS: profile pressure-float32-unit-code does not declare how the device's parity is written/,
    );
    const tcpBaud = await doorstep([
      'modbus',
      'set-baud',
      '--tcp',
      '127.0.0.1:1',
      '--profile',
      'pressure-float32-unit-code',
      '--unit',
      '7',
      '--to',
      '19200',
    ]);
    assert.equal(tcpBaud.code, 2);
    assert.match(tcpBaud.stderr, /set-baud is for serial lines/);
    assert.match((await raw(7, 1)).stdout, /uint16 +4 /);
  });
});
