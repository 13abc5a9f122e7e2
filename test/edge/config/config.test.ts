import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadGatewayConfig, validateGatewayConfig } from '../../../edge/config/load.js';
import { renderGatewayConfigSchema } from '../../../scripts/gen-config-schema.js';
import { tempDir } from '../../support/tmp.js';

const fixture = new URL('../../fixtures/gateway.yaml', import.meta.url).pathname;
const dir = tempDir();
after(() => dir.dispose());

function fixtureDoc(): Record<string, unknown> {
  return parse(readFileSync(fixture, 'utf8')) as Record<string, unknown>;
}

describe('gateway configuration', () => {
  it('loads the example file with every kind of bus and fills defaults', () => {
    const { config, disabled } = loadGatewayConfig(fixture);
    assert.deepEqual(disabled, []);
    assert.equal(config.gateway.id, 'gw-lane-100');
    assert.deepEqual(
      config.devices.map((d) => [d.id, d.kind, d.busType]),
      [
        ['smoke-3-2', 'smoke', 'rtu'],
        ['smoke-3-3', 'smoke', 'rtu'],
        ['gas-kitchen', 'gas', 'rtu'],
        ['pressure-roof', 'water_pressure', 'tcp'],
        ['door-pump-room', 'door', 'frames'],
        ['smoke-wifi-1', 'smoke', 'mqtt'],
        ['siren-1', 'door', 'rtu'],
      ],
    );
    const rtu = config.buses.find((b) => b.id === 'rs485-1');
    assert.equal(rtu?.type === 'rtu' && rtu.timeoutMs, 300);
    assert.equal(config.outbox.classes.alarm.priority, 0);
    assert.equal(config.health.host, '127.0.0.1');
  });

  it('reports every fatal problem with its path in one go', () => {
    const doc = fixtureDoc();
    (doc.gateway as Record<string, unknown>).id = 'GW 100';
    (doc.buses as Record<string, unknown>[])[0]!.baudRate = -9600;
    (doc.buses as Record<string, unknown>[])[1]!.type = 'carrier-pigeon';
    doc.outbox = { classes: { telemetry: { ttlMs: 'a week' } } };
    doc.colour = 'red';
    const checked = validateGatewayConfig(doc);
    assert.equal(checked.ok, false);
    const paths = checked.ok ? [] : checked.issues.map((i) => i.path);
    for (const expected of [
      'gateway.id',
      'buses[0].baudRate',
      'buses[1].type',
      'outbox.classes.telemetry.ttlMs',
      '',
    ])
      assert.ok(paths.includes(expected), `missing "${expected}" in ${JSON.stringify(paths)}`);
  });

  it('an invalid device entry disables only that device, with every problem named', () => {
    const doc = fixtureDoc();
    const devices = doc.devices as Record<string, unknown>[];
    devices.push(
      { id: 'smoke-dup-unit', bus: 'rs485-1', profile: 'smoke-status-register', unitId: 3, location: 'x' },
      { id: 'no-bus', bus: 'rs485-9', profile: 'smoke-status-register', unitId: 10, location: 'x' },
      { id: 'wrong-profile', bus: 'rs485-1', profile: 'wireless-smoke', unitId: 11, location: 'x' },
      { id: 'tcp-no-host', bus: 'lan', profile: 'gas-float32-abcd', location: 'x' },
      { id: 'Bad Id', bus: 'rs485-1', profile: 'smoke-status-register', unitId: 300 },
      { id: 'smoke-3-2', bus: 'rs485-1', profile: 'smoke-status-register', unitId: 12, location: 'x' },
    );
    const checked = validateGatewayConfig(doc);
    assert.ok(checked.ok);
    const { config, disabled } = checked.result;
    assert.equal(config.devices.length, 7, 'the seven good devices still run');
    const byDevice = Object.fromEntries(
      disabled.map((d) => [d.device, d.issues.map((i) => `${i.path}: ${i.message}`)]),
    );
    assert.match(byDevice['smoke-dup-unit']!.join(), /devices\[7\]\.unitId: address already used/);
    assert.match(byDevice['no-bus']!.join(), /devices\[8\]\.bus: no bus "rs485-9"/);
    assert.match(
      byDevice['wrong-profile']!.join(),
      /devices\[9\]\.profile: "wireless-smoke" is a frame profile; this bus needs a register profile/,
    );
    assert.deepEqual(
      byDevice['tcp-no-host']!.map((x) => x.split(':')[0]),
      ['devices[10].host', 'devices[10].port'],
    );
    assert.equal(byDevice['tcp-no-host']!.length, 2);
    const bad = byDevice['Bad Id']!.join('\n');
    for (const p of ['devices[11].id', 'devices[11].unitId', 'devices[11].location'])
      assert.ok(bad.includes(p), p);
    assert.match(
      byDevice['smoke-3-2']!.join(),
      /devices\[12\]\.id: device id "smoke-3-2" is used by an earlier entry/,
    );
  });

  it('an action that writes to an unknown device is a fatal problem', () => {
    const doc = fixtureDoc();
    (doc.actions as { do: { device: string } }[])[0]!.do.device = 'siren-9';
    const checked = validateGatewayConfig(doc);
    assert.ok(!checked.ok && checked.issues.some((i) => i.path === 'actions[0].do.device'));
  });

  it('an unreadable file or invalid YAML refuses to start with a clear message', () => {
    assert.throws(
      () => loadGatewayConfig(join(dir.path, 'missing.yaml')),
      (e: Error & { code?: string }) =>
        e.code === 'CFG_ERR_UNREADABLE' && /missing\.yaml.*ENOENT/.test(e.message),
    );
    const broken = join(dir.path, 'broken.yaml');
    writeFileSync(broken, 'gateway: { id: gw-1\nbuses: [\n');
    assert.throws(
      () => loadGatewayConfig(broken),
      (e: Error & { code?: string }) => e.code === 'CFG_ERR_UNREADABLE' && /invalid YAML/.test(e.message),
    );
    const invalid = join(dir.path, 'invalid.yaml');
    writeFileSync(invalid, 'gateway: { id: gw-1 }\n');
    assert.throws(
      () => loadGatewayConfig(invalid),
      (e: Error & { code?: string }) => e.code === 'CFG_ERR_INVALID' && /gateway\.site/.test(e.message),
    );
  });

  it('the published JSON Schema is current', () => {
    const onDisk = readFileSync(new URL('../../../docs/gateway-config.schema.json', import.meta.url), 'utf8');
    assert.equal(onDisk, renderGatewayConfigSchema(), 'run `npx tsx scripts/gen-config-schema.ts`');
  });
});
