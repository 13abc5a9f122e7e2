import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { startDoorstep } from '../../support/processes.js';
import { tempDir } from '../../support/tmp.js';

const fixture = new URL('../../fixtures/gateway.yaml', import.meta.url).pathname;
const dir = tempDir('doorstep-check-');
after(() => dir.dispose());

type Doc = Record<string, unknown> & { devices: Record<string, unknown>[] };
const fixtureDoc = () => parse(readFileSync(fixture, 'utf8')) as Doc;

/** The real CLI, `node --import tsx bin/doorstep.ts edge --config F --check`: exit code and output. */
async function check(doc: unknown, name: string): Promise<{ code: number | null; out: string }> {
  const file = join(dir.path, name);
  writeFileSync(file, stringify(doc));
  const child = startDoorstep(['edge', '--config', file, '--check']);
  const code = await child.stop('SIGCONT'); // a no-op signal: wait for it to finish on its own
  return { code, out: child.output() };
}

describe('doorstep edge --check', () => {
  it('reports every problem of a file in one run, with paths, and exits 1', async () => {
    const doc = fixtureDoc();
    // Schema (fatal): a bad gateway id, an unknown key, a bus line setting out of range.
    (doc.gateway as Record<string, unknown>).id = 'GW 100';
    doc.colour = 'red';
    (doc.buses as Record<string, unknown>[])[0]!.baudRate = -9600;
    // Device entries: an out-of-range unit id, a missing bus, a gas set point outside GB 15322.1.
    doc.devices[0]!.unitId = 300;
    doc.devices.push(
      { id: 'smoke-x', bus: 'rs485-9', profile: 'smoke-status-register', unitId: 20, location: 'x' },
      {
        id: 'gas-2',
        bus: 'lan',
        profile: 'gas-float32-abcd',
        host: '127.0.0.1',
        port: 502,
        unitId: 2,
        location: '2号楼 厨房',
        gasLowSetPointLel: 30,
      },
    );
    // Rule overrides: a gas threshold outside 1–25 %LEL, a misspelt type at device and site level.
    doc.devices[2]!.rules = { gas_low: { threshold: 99 } };
    doc.devices[1]!.rules = { smok: { latched: false } };
    doc.rules = { site: { smok: { severity: 'major' }, door_held_open: { onDelayMs: 90000 } } };

    const { code, out } = await check(doc, 'many.yaml');
    assert.equal(code, 1, out);
    for (const expected of [
      /✗ gateway\.id: /,
      /✗ \(root\): .*colour/,
      /✗ buses\[0\]\.baudRate: /,
      /✗ devices\[0\]\.unitId: .*\(device smoke-3-2 disabled\)/,
      /✗ devices\[7\]\.bus: no bus "rs485-9".*\(device smoke-x disabled\)/,
      /✗ devices\[8\]\.gasLowSetPointLel: outside the legal range 1–25 %LEL of GB 15322\.1/,
      /✗ devices\[2\]\.rules\.gas_low\.threshold: threshold 99 is outside the legal range 1–25.*GB 15322\.1/,
      /✗ devices\[1\]\.rules\.smok: no rule "smok" for a smoke device/,
      /✗ rules\.site\.smok: no default rule "smok"/,
      /problem\(s\) \(\d+ fatal, 3 device entr\(ies\) disabled, 3 rule override problem\(s\)\); the gateway would refuse to start/,
    ])
      assert.match(out, expected);
  });

  it('start-up refuses such a file naming every problem, device entries and rule overrides too', async () => {
    const doc = fixtureDoc();
    doc.colour = 'red';
    doc.devices[0]!.unitId = 300;
    doc.devices[2]!.rules = { gas_low: { threshold: 99 } };
    const file = join(dir.path, 'start.yaml');
    writeFileSync(file, stringify(doc));
    const edge = startDoorstep(['edge', '--config', file]);
    const code = await edge.stop('SIGCONT');
    assert.equal(code, 1, edge.output());
    assert.match(edge.output(), /CFG_ERR_INVALID: configuration has 3 problem\(s\)/);
    for (const path of ['(root)', 'devices[0].unitId', 'devices[2].rules.gas_low.threshold'])
      assert.ok(edge.output().includes(`- ${path}: `), `${path} in ${edge.output()}`);
  });

  it('exits 1 for rule override problems alone, although the gateway would run', async () => {
    const doc = fixtureDoc();
    doc.devices[2]!.rules = { gas_low: { threshold: 99 } };
    doc.rules = { site: { smok: { severity: 'major' } } };
    const { code, out } = await check(doc, 'rules.yaml');
    assert.equal(code, 1, out);
    assert.match(
      out,
      /✗ devices\[2\]\.rules\.gas_low\.threshold: threshold 99 is outside the legal range 1–25/,
    );
    assert.match(out, /✗ rules\.site\.smok: /);
    assert.match(
      out,
      /2 problem\(s\) \(0 fatal, 0 device entr\(ies\) disabled, 2 rule override problem\(s\)\) — 7 device\(s\) would run/,
    );
  });

  it('a clean file passes with exit 0', async () => {
    const { code, out } = await check(fixtureDoc(), 'clean.yaml');
    assert.equal(code, 0, out);
    assert.match(out, /clean\.yaml: valid — 7 device\(s\) would run/);
  });

  it('warns about a plain-http cloud url (exit 0: the gateway would run), and allowPlaintext silences it', async () => {
    const doc = fixtureDoc();
    doc.uplink = { url: 'http://pudong.doorstep.example', credentialsFile: '/etc/doorstep/gateway.secret' };
    const warned = await check(doc, 'plaintext.yaml');
    assert.equal(warned.code, 0, warned.out);
    assert.match(
      warned.out,
      /⚠ uplink\.url: uplink url http:\/\/pudong\.doorstep\.example is plain http.*EDGE_ERR_UPLINK_PLAINTEXT/,
    );
    doc.uplink = { ...(doc.uplink as object), allowPlaintext: true };
    const silenced = await check(doc, 'plaintext-allowed.yaml');
    assert.equal(silenced.code, 0, silenced.out);
    assert.doesNotMatch(silenced.out, /⚠/);
    doc.uplink = { url: 'http://127.0.0.1:8080', credentialsFile: '/etc/doorstep/gateway.secret' };
    assert.doesNotMatch(
      (await check(doc, 'loopback.yaml')).out,
      /⚠/,
      'loopback traffic never leaves the machine',
    );
  });
});
