import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { validateGatewayConfig } from '../../edge/config/load.js';
import { isDoorstepError } from '../../protocol/index.js';
import { initWorkspace } from '../../provisioning/init.js';
import { renderFindings, validateFile, validationFailed } from '../../provisioning/validate.js';
import { readIdentity } from '../../provisioning/workspace.js';
import { tempDir } from '../support/tmp.js';
import { runProvision } from './support.js';

const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

describe('provision init and validate', () => {
  const dir = tempDir('doorstep-init-');
  after(() => dir.dispose());

  it('init writes an identity (private key 0600) and a valid, commented skeleton, and never overwrites silently', () => {
    const ws = join(dir.path, 'ws');
    const { identity, paths } = initWorkspace({
      dir: ws,
      gateway: 'gw-lane-100',
      site: SITE,
      name: '100 弄',
    });
    assert.equal(statSync(paths.key).mode & 0o777, 0o600);
    assert.equal(statSync(paths.config).mode & 0o777, 0o600, 'the configuration will hold passwords');
    assert.deepEqual(readIdentity(ws), identity);
    assert.match(identity.fingerprint, /^SHA256:([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    const text = readFileSync(paths.config, 'utf8');
    assert.match(text, /^# Gateway configuration for gw-lane-100/);
    const checked = validateGatewayConfig(parse(text));
    assert.ok(checked.ok);
    assert.equal(checked.result.config.gateway.name, '100 弄');
    assert.throws(
      () => initWorkspace({ dir: ws, gateway: 'gw-2', site: SITE }),
      (e) => isDoorstepError(e, 'PROV_ERR_EXISTS'),
    );
    assert.equal(readIdentity(ws).installId, identity.installId, 'unchanged');
    const forced = initWorkspace({ dir: ws, gateway: 'gw-2', site: SITE, force: true });
    assert.notEqual(forced.identity.installId, identity.installId);
    assert.throws(
      () => initWorkspace({ dir: join(dir.path, 'x'), gateway: 'GW 1', site: SITE }),
      (e) => isDoorstepError(e, 'CFG_ERR_INVALID') && /gateway\.id/.test(e.message),
    );
  });

  it('validate lists every problem with its path and a hint, and warnings an installer must see', () => {
    const file = join(dir.path, 'gateway.yaml');
    writeFileSync(
      file,
      stringify({
        gateway: { id: 'gw-1', site: SITE },
        buses: [{ id: 'rs485-1', type: 'rtu', port: '/dev/ttyUSB0' }],
        devices: [
          { id: 'smoke-1', bus: 'rs485-1', profile: 'smoke-status-register', unitId: 300, location: 'x' },
          { id: 'gas-1', bus: 'rs485-9', profile: 'gas-float32-abcd', unitId: 2, location: 'y' },
          { id: 'door-1', bus: 'rs485-1', profile: 'no-such-profile', unitId: 3, location: 'z' },
          {
            id: 'smoke-2',
            bus: 'rs485-1',
            profile: 'smoke-status-register',
            unitId: 4,
            location: 'TODO where is unit 4',
          },
        ],
      }),
    );
    const report = validateFile(file);
    const byPath = new Map(report.findings.map((f) => [f.path, f]));
    assert.equal(byPath.get('devices[0].unitId')?.severity, 'device');
    assert.match(byPath.get('devices[0].unitId')!.hint, /1–247/);
    assert.match(byPath.get('devices[1].bus')!.message, /no bus "rs485-9"/);
    assert.match(byPath.get('devices[1].bus')!.hint, /Name the `id` of one entry under `buses:`/);
    assert.match(byPath.get('devices[2].profile')!.hint, /doorstep profile list/);
    assert.equal(byPath.get('buses[0].port')?.severity, 'warning');
    assert.match(byPath.get('devices[id=smoke-2].location')!.message, /placeholder/);
    // The summary says what the exit code says.
    assert.ok(validationFailed(report));
    assert.match(renderFindings(report), /runs, but fix it \(exit 1\)/);
  });

  it('warns of a relative data directory, a port missing on this machine and a bus without devices', () => {
    const file = join(dir.path, 'warnings.yaml');
    writeFileSync(
      file,
      stringify({
        gateway: { id: 'gw-1', site: SITE },
        buses: [
          { id: 'rs485-1', type: 'rtu', port: '/dev/serial/by-id/usb-FTDI_nowhere-if00-port0' },
          { id: 'rs485-2', type: 'rtu', port: '/dev/ttyUSB9' },
        ],
        devices: [
          {
            id: 'smoke-1',
            bus: 'rs485-1',
            profile: 'smoke-status-register',
            unitId: 3,
            location: '1号楼 楼道',
          },
        ],
        storage: { dataDir: 'data' },
      }),
    );
    const report = validateFile(file);
    const messages = report.findings.map((f) => `${f.severity} ${f.path}: ${f.message}`);
    assert.ok(
      messages.includes(
        'warning storage.dataDir: "data" is a relative path: it depends on the directory the gateway starts in',
      ),
      messages.join('\n'),
    );
    assert.ok(messages.includes('warning buses[1].port: /dev/ttyUSB9 does not exist on this machine'));
    assert.ok(
      messages.includes(
        'warning buses[0].port: /dev/serial/by-id/usb-FTDI_nowhere-if00-port0 does not exist on this machine',
      ),
    );
    assert.ok(messages.includes('warning buses[1]: bus rs485-2 has no enabled device'));
    assert.ok(!validationFailed(report), 'warnings only: exit 0');
    assert.match(
      renderFindings(report),
      /: valid — 1 device\(s\) enabled, 0 disabled, 0 rule override problem\(s\), 5 warning\(s\)$/,
    );
  });

  it('the CLI: exit 1 with findings; an unreadable file and bad YAML are CFG_ERR_UNREADABLE', async () => {
    const fatal = join(dir.path, 'fatal.yaml');
    writeFileSync(
      fatal,
      stringify({ gateway: { id: 'gw-1', site: { district: 'pudong' } }, health: { port: 70000 }, extra: 1 }),
    );
    const r = await runProvision(['validate', '--config', fatal]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /✗ gateway\.site\.town: .*\n {4}hint: The site is district\/town\/community/);
    assert.match(r.stdout, /✗ health\.port: .*\n {4}hint: health\.port is 0–65535/);
    assert.match(r.stdout, /✗ \(root\): Unrecognized key: "extra"\n {4}hint: Remove the key/);
    assert.match(r.stdout, /problem\(s\); the gateway would refuse to start/);

    const missing = await runProvision(['validate', '--config', join(dir.path, 'none.yaml')]);
    assert.match(missing.stderr, /CFG_ERR_UNREADABLE: cannot read configuration file .*none\.yaml: ENOENT/);
    const broken = join(dir.path, 'broken.yaml');
    writeFileSync(broken, 'gateway: [unclosed\n');
    const bad = await runProvision(['validate', '--config', broken]);
    assert.match(bad.stderr, /CFG_ERR_UNREADABLE: .*invalid YAML/);
  });
});
