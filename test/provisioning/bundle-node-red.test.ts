import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { hashPassword } from '../../common/password.js';
import { hashAdminPassword } from '../../edge/runtime/node-red.js';
import { planBundle } from '../../provisioning/bundle.js';
import { workspacePaths } from '../../provisioning/workspace.js';
import { gatewayConfig } from '../edge/runtime/helpers.js';
import { tempDir } from '../support/tmp.js';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('provision flash: Node-RED as its own unit', () => {
  const dir = tempDir('doorstep-bundle-nr-');
  after(() => dir.dispose());

  /** The smallest app tree planBundle accepts: one tiny dependency, the two shipped units. */
  function fakeApp(): { root: string; name: string; version: string } {
    const root = join(dir.path, 'app');
    for (const d of ['bin', 'dist', 'node_modules/tiny', 'edge/systemd'])
      mkdirSync(join(root, d), { recursive: true });
    // One installed production dependency, so `npm ls` has something to list.
    writeFileSync(
      join(root, 'node_modules/tiny/package.json'),
      JSON.stringify({ name: 'tiny', version: '1.0.0' }),
    );
    writeFileSync(
      join(root, 'package.json'),
      JSON.stringify({ name: 'doorstep', version: '0.0.0', dependencies: { tiny: '1.0.0' } }),
    );
    writeFileSync(join(root, 'bin/doorstep.js'), '');
    for (const unit of ['doorstep-edge.service', 'doorstep-node-red.service'])
      copyFileSync(join(ROOT, 'edge/systemd', unit), join(root, 'edge/systemd', unit));
    return { root, name: 'doorstep', version: '0.0.0' };
  }

  async function plan(supervisor: 'child' | 'systemd') {
    const ws = join(dir.path, `ws-${supervisor}`);
    mkdirSync(ws, { recursive: true });
    const paths = workspacePaths(ws);
    const doc = {
      gateway: { id: 'gw-b', site: { district: 'd1', town: 't1', community: 'c1' } },
      broker: {
        users: [
          {
            username: 'node-red',
            passwordHash: await hashPassword('nr-pw'),
            acl: { publish: [], subscribe: [] },
          },
        ],
      },
      nodeRed: {
        enabled: true,
        supervisor,
        adminPasswordHash: hashAdminPassword('a', 4),
        brokerPassword: 'nr-pw',
      },
    };
    writeFileSync(paths.config, stringify(doc));
    writeFileSync(paths.identity, '{}');
    writeFileSync(paths.key, 'key', { mode: 0o600 });
    const { config } = gatewayConfig(doc);
    return planBundle({ workspace: paths, config, app: fakeApp(), asRoot: '/' });
  }

  it('supervisor: systemd installs and enables doorstep-node-red.service and creates its user; gateway.yaml is 0600', async () => {
    const bundle = await plan('systemd');
    const byPath = new Map(bundle.entries.map((e) => [e.path, e]));
    const unit = byPath.get('etc/systemd/system/doorstep-node-red.service');
    assert.ok(unit && unit.type === 'file');
    assert.match(String(unit.content), /^User=doorstep-flows$/m);
    assert.deepEqual(byPath.get('etc/systemd/system/multi-user.target.wants/doorstep-node-red.service'), {
      type: 'link',
      path: 'etc/systemd/system/multi-user.target.wants/doorstep-node-red.service',
      target: '../doorstep-node-red.service',
    });
    const sysusers = byPath.get('etc/sysusers.d/doorstep.conf');
    assert.ok(sysusers && sysusers.type === 'file');
    assert.match(
      String(sysusers.content),
      /^u doorstep-flows - "doorstep Node-RED" \/var\/lib\/doorstep-node-red$/m,
    );
    const config = byPath.get('etc/doorstep/gateway.yaml');
    assert.ok(config && config.type === 'file');
    assert.equal(config.mode, 0o600);
    const tmpfiles = byPath.get('etc/tmpfiles.d/doorstep.conf');
    assert.match(
      String(tmpfiles?.type === 'file' && tmpfiles.content),
      /^z \/etc\/doorstep\/gateway\.yaml 0600 doorstep doorstep -$/m,
    );
  });

  it('supervisor: child (the default) ships no Node-RED unit and no extra user', async () => {
    const bundle = await plan('child');
    assert.ok(!bundle.entries.some((e) => e.path.includes('doorstep-node-red')));
    const sysusers = bundle.entries.find((e) => e.path === 'etc/sysusers.d/doorstep.conf');
    assert.doesNotMatch(String(sysusers?.type === 'file' && sysusers.content), /doorstep-flows/);
  });
});
