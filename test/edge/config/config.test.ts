import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  allProblems,
  checkGatewayConfig,
  loadGatewayConfig,
  validateGatewayConfig,
} from '../../../edge/config/load.js';
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

  it('problems of the configuration and of the profile files it names come in one round, each with its path', () => {
    // A register file with a schema problem (unknown key, a field of no type) AND cross-field
    // problems (word order illegal for int16, a unit outside the vocabulary, overlapping fields).
    const mapFile = join(dir.path, 'acme-gd10.yaml');
    writeFileSync(
      mapFile,
      [
        'type: register',
        'id: acme-gd10',
        'kind: gas',
        'title: ACME GD10',
        'modelledOn: ACME GD10 manual',
        'colour: red',
        'fields:',
        '  - { kind: numeric, point: gas, table: input, address: 0, type: int16, wordOrder: CDAB }',
        '  - { kind: numeric, point: pressure, table: input, address: 1, type: int64 }',
        '  - { kind: numeric, point: flow, table: input, address: 2, type: float32, unit: furlong }',
        '  - { kind: numeric, point: level, table: input, address: 3, type: uint16 }',
        '',
      ].join('\n'),
    );
    const frameFile = join(dir.path, 'receiver-x.yaml');
    writeFileSync(
      frameFile,
      [
        'type: frame',
        'id: receiver-x',
        'description: receiver with a broken layout',
        'kind: smoke',
        'detectorType: 300',
        'hasTamper: false',
        'layout: { codec: ascii, separator: ",", fields: [{ name: state, type: uint }] }',
        'points: { smoke: {} }',
        'states: { "0": { set: { smoke: false } } }',
        '',
      ].join('\n'),
    );
    const doc = fixtureDoc();
    (doc.devices as Record<string, unknown>[]).push(
      { id: 'gas-acme', bus: 'rs485-1', profile: mapFile, unitId: 20, location: '食堂' },
      { id: 'smoke-rx', bus: 'radio', profile: frameFile, detector: 'A1', location: '活动室' },
    );
    (doc.actions as { do: { device: string } }[])[0]!.do.device = 'siren-9';
    const check = checkGatewayConfig(doc, { baseDir: dir.path });
    const all = allProblems(check).map((i) => `${i.path}: ${i.message}`);
    const acme = (doc.devices as unknown[]).length - 2;
    for (const [path, words] of [
      ['actions[0].do.device', 'siren-9'],
      [`devices[${acme}].profile`, 'colour'],
      [`devices[${acme}].profile.fields[1].type`, 'expected one of'],
      [`devices[${acme}].profile.fields[0].wordOrder`, 'byte order must be one of AB, BA'],
      [`devices[${acme}].profile.fields[2].unit`, 'furlong'],
      [`devices[${acme}].profile.fields[3].address`, 'overlaps fields[2]'],
      [`devices[${acme + 1}].profile.detectorType`, ''],
      [`devices[${acme + 1}].profile.layout`, ''],
    ] as const)
      assert.ok(
        all.some((a) => a.startsWith(path) && a.includes(words)),
        `missing ${path} (${words}) in\n${all.join('\n')}`,
      );
  });

  it('two frame layouts on one receiver bus: the second device is refused, naming the bus, both profiles and devices', () => {
    const layoutProfile = (id: string, start: string) =>
      [
        'type: frame',
        `id: ${id}`,
        'description: receiver frames',
        'kind: smoke',
        'detectorType: 33',
        'hasTamper: false',
        'layout:',
        '  codec: ascii',
        `  start: "${start}"`,
        '  end: "\\r\\n"',
        '  separator: ","',
        '  checksum: { kind: sum8, mark: "*" }',
        '  fields: [{ name: detector, type: alnum }, { name: state, type: uint }]',
        'points: { smoke: {} }',
        'states: { "0": { label: normal, set: { smoke: false } }, "1": { label: fire, set: { smoke: true } } }',
        '',
      ].join('\n');
    writeFileSync(join(dir.path, 'rx-dollar.yaml'), layoutProfile('rx-dollar', '$'));
    writeFileSync(join(dir.path, 'rx-hash.yaml'), layoutProfile('rx-hash', '#'));
    writeFileSync(join(dir.path, 'rx-dollar-too.yaml'), layoutProfile('rx-dollar-too', '$'));
    const doc = fixtureDoc();
    (doc.buses as Record<string, unknown>[]).push({
      id: 'radio-2',
      type: 'frames',
      port: '/dev/ttyS2',
      baudRate: 9600,
      codec: 'ascii',
    });
    const devices = doc.devices as Record<string, unknown>[];
    devices.push(
      { id: 'rx-1', bus: 'radio-2', profile: './rx-dollar.yaml', detector: 'A1', location: 'x' },
      { id: 'rx-2', bus: 'radio-2', profile: './rx-hash.yaml', detector: 'A2', location: 'x' },
      { id: 'rx-3', bus: 'radio-2', profile: './rx-dollar-too.yaml', detector: 'A3', location: 'x' },
    );
    const checked = validateGatewayConfig(doc, { baseDir: dir.path });
    assert.ok(checked.ok);
    const running = checked.result.config.devices.map((d) => d.id);
    assert.ok(
      running.includes('rx-1') && running.includes('rx-3'),
      `the same layout under two ids runs: ${JSON.stringify(checked.result.disabled)}`,
    );
    assert.ok(!running.includes('rx-2'));
    const refused = checked.result.disabled.find((d) => d.device === 'rx-2')!;
    assert.equal(refused.issues[0]!.path, `devices[${devices.length - 2}].profile`);
    for (const words of ['bus "radio-2"', 'profile "rx-hash"', '"rx-2"', 'profile "rx-dollar"', '"rx-1"'])
      assert.ok(refused.issues[0]!.message.includes(words), `${words} in ${refused.issues[0]!.message}`);
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
