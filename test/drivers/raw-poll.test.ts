import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { decodeWords, parseRawSpec } from '../../drivers/raw.js';
import { startDoorstep } from '../support/processes.js';
import { openPtyPair } from '../support/pty.js';
import { tempDir } from '../support/tmp.js';
import { startPymodbus } from './bus/helpers.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

/** `doorstep poll --raw ARGS`: exit code and output, never throwing. */
async function rawPoll(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'bin/doorstep.ts', 'poll', '--raw', ...args],
      { cwd: ROOT, encoding: 'utf8' },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('raw decoding (drivers/raw.ts)', () => {
  it('decodes int16, 32-bit types and both word orders', () => {
    assert.equal(decodeWords([0xfff6], 'int16'), -10);
    assert.equal(decodeWords([0xfff6], 'uint16'), 65526);
    assert.equal(decodeWords([0x0001, 0x0002], 'uint32'), 65538);
    assert.equal(decodeWords([0x0002, 0x0001], 'uint32', 'CDAB'), 65538);
    assert.equal(decodeWords([0xffff, 0xfffe], 'int32'), -2);
    assert.equal(decodeWords([0x4144, 0xcccd], 'float32'), Math.fround(12.3));
    assert.equal(decodeWords([0xcccd, 0x4144], 'float32', 'CDAB'), Math.fround(12.3));
  });

  it('refuses bad options with a message naming the option', () => {
    assert.throws(() => parseRawSpec({ table: 'holdings' }), /--table must be one of holding/);
    assert.throws(() => parseRawSpec({ type: 'float64' }), /--type must be one of/);
    assert.throws(() => parseRawSpec({ table: 'coil', type: 'int16' }), /--type does not apply to coils/);
    assert.throws(() => parseRawSpec({ count: '126' }), /--count must be 1–125/);
    assert.throws(() => parseRawSpec({ type: 'float32', count: '63' }), /--count must be 1–62/);
    assert.throws(() => parseRawSpec({ address: '65535', type: 'int32' }), /runs past address 65535/);
    assert.throws(() => parseRawSpec({ order: 'BADC' }), /--order must be ABCD/);
  });
});

describe('doorstep poll --raw', () => {
  it('reads a pymodbus slave over a pty by table, address, count and type; exceptions and silence are clear errors', async () => {
    const dir = tempDir('doorstep-raw-');
    after(() => dir.dispose());
    // A vendor's map doorstep has no profile for: 12.3 %LEL ×10 in input 0, a float32 pressure
    // (0.28, high word first) in input 2–3, an int16 temperature of -10 in holding 0, a float32 in
    // CDAB order in holding 1–2, coil 1 on and discrete input 2 on.
    const f28 = Buffer.alloc(4);
    f28.writeFloatBE(0.28);
    const f = [f28.readUInt16BE(0), f28.readUInt16BE(2)];
    const units = join(dir.path, 'units.json');
    writeFileSync(
      units,
      JSON.stringify({
        units: {
          '5': {
            input: [123, 0, f[0], f[1]],
            holding: [0xfff6, f[1], f[0]],
            coil: [0, 1, 0],
            discrete: [0, 0, 1],
          },
        },
      }),
    );
    const pty = await openPtyPair();
    after(() => pty.close());
    const slave = await startPymodbus(['rtu', pty.b, units]);
    after(() => slave.stop());
    const line = ['--serial', pty.a, '--baud', '19200', '--parity', 'N', '--unit', '5'];

    const input = await rawPoll([...line, '--table', 'input', '--count', '2']);
    assert.equal(input.code, 0, input.stderr);
    assert.deepEqual(input.stdout.trim().split('\n'), [
      'input        0  uint16           123  0x007b',
      'input        1  uint16             0  0x0000',
    ]);
    const pressure = await rawPoll([...line, '--table', 'input', '--address', '2', '--type', 'float32']);
    assert.equal(pressure.code, 0, pressure.stderr);
    assert.match(pressure.stdout, /^input {8}2 {2}float32 +0\.28 {2}0x3e8f 0x5c29\n$/);
    const holding = await rawPoll([...line, '--type', 'int16']);
    assert.match(holding.stdout, /^holding {6}0 {2}int16 +-10 {2}0xfff6\n$/);
    const cdab = await rawPoll([...line, '--address', '1', '--type', 'float32', '--order', 'CDAB']);
    assert.match(cdab.stdout, /^holding {6}1 {2}float32 +0\.28 /);
    const coils = await rawPoll([...line, '--table', 'coil', '--count', '3']);
    assert.deepEqual(
      coils.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[3]),
      ['0', '1', '0'],
    );
    const discrete = await rawPoll([...line, '--table', 'discrete', '--address', '2']);
    assert.match(discrete.stdout, /^discrete {5}2 {2}bit +1 {2}0x1\n$/);

    // pymodbus serves addresses 0–99: address 200 is exception 02, named.
    const missing = await rawPoll([...line, '--address', '200']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(
      missing.stderr,
      /DRV_ERR_EXCEPTION: .*#5 answered with Modbus exception 2 \(ILLEGAL DATA ADDRESS\)/,
    );
    // Nobody at unit 9: a timeout naming the unit and the timeout.
    const silent = await rawPoll([
      '--serial',
      pty.a,
      '--baud',
      '19200',
      '--parity',
      'none',
      '--unit',
      '9',
      '--timeout',
      '300',
    ]);
    assert.equal(silent.code, 1);
    assert.match(silent.stderr, /DRV_ERR_TIMEOUT: no reply from .*#9 within 300 ms/);
    // Hostile options: usage errors (exit 2) that name the option, before the line is touched.
    const bad = await rawPoll([...line, '--table', 'coils']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--table must be one of holding, input, coil, discrete, not "coils"/);
    const badUnit = await rawPoll(['--serial', pty.a, '--unit', '0']);
    assert.equal(badUnit.code, 2);
    assert.match(badUnit.stderr, /--unit must be a unit id 1–247, not "0"/);
  });

  it('reads a pymodbus slave over Modbus TCP', async () => {
    const slave = await startPymodbus(['tcp']);
    after(() => slave.stop());
    // pymodbus's unit 1: holding[i] = 10 × i.
    const tcp = ['--tcp', `127.0.0.1:${slave.ready}`, '--unit', '1'];
    const words = await rawPoll([...tcp, '--address', '2', '--count', '3']);
    assert.equal(words.code, 0, words.stderr);
    assert.deepEqual(
      words.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(1, 4).join(' ')),
      ['2 uint16 20', '3 uint16 30', '4 uint16 40'],
    );
    // Holding 0–1 (0, 10) as one int32, high word first, and low word first.
    assert.match(
      (await rawPoll([...tcp, '--type', 'int32'])).stdout,
      /^holding {6}0 {2}int32 +10 {2}0x0000 0x000a\n$/,
    );
    assert.match(
      (await rawPoll([...tcp, '--type', 'uint32', '--order', 'CDAB'])).stdout,
      /^holding {6}0 {2}uint32 +655360 {2}0x0000 0x000a\n$/,
    );
  });

  it("reads doorstep's simulator over Modbus TCP", async () => {
    const sim = startDoorstep(['sim', '--tcp', '--device', 'gas:gas-float32-abcd:3']);
    after(() => sim.stop('SIGKILL'));
    const port = /modbus tcp tcp: 127\.0\.0\.1:(\d+)/.exec(await sim.waitFor(/modbus tcp tcp:/, 60_000))![1]!;
    await sim.waitFor(/^ready$/, 60_000);
    const tcp = ['--tcp', `127.0.0.1:${port}`, '--unit', '3'];
    // The profile's signature registers (input 10–11: 18246, 1).
    const signature = await rawPoll([...tcp, '--table', 'input', '--address', '10', '--count', '2']);
    assert.equal(signature.code, 0, signature.stderr);
    assert.deepEqual(
      signature.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(0, 4).join(' ')),
      ['input 10 uint16 18246', 'input 11 uint16 1'],
    );
    // The concentration as float32 (a finite number) and as its two raw words.
    const gas = await rawPoll([...tcp, '--table', 'input', '--type', 'float32']);
    assert.equal(gas.code, 0, gas.stderr);
    assert.match(
      gas.stdout,
      /^input {8}0 {2}float32 +-?\d+(\.\d+)?(e-?\d+)? {2}0x[0-9a-f]{4} 0x[0-9a-f]{4}\n$/,
    );
    // The map has no holding registers: exception 02 from the simulator.
    const none = await rawPoll([...tcp, '--table', 'holding']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /#3 answered with Modbus exception 2 \(ILLEGAL DATA ADDRESS\)/);
  });
});
