import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../common/log.js';
import { hashPassword } from '../../common/password.js';
import { validateGatewayConfig } from '../../edge/config/load.js';
import type { Edge } from '../../edge/runtime/gateway.js';
import { hashAdminPassword, nodeRedExtension, shippedFlows } from '../../edge/runtime/node-red.js';
import { tempDir } from '../support/tmp.js';

const base = { gateway: { id: 'gw-cfg', site: { district: 'd1', town: 't1', community: 'c1' } } };

function issuesOf(doc: Record<string, unknown>): string[] {
  const checked = validateGatewayConfig({ ...base, ...doc });
  return checked.ok ? [] : checked.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('nodeRed configuration and supervisor checks', () => {
  const dir = tempDir('doorstep-nodered-cfg-');
  after(() => dir.dispose());

  it('is off unless enabled; enabled needs an admin bcrypt hash and the broker password', () => {
    assert.deepEqual(issuesOf({}), []);
    assert.deepEqual(issuesOf({ nodeRed: {} }), []);
    const problems = issuesOf({ nodeRed: { enabled: true } });
    assert.ok(
      problems.some((p) => p.startsWith('nodeRed.adminPasswordHash')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('nodeRed.brokerPassword')),
      problems.join('\n'),
    );
    assert.ok(issuesOf({ nodeRed: { adminPasswordHash: 'scrypt$1$2' } }).some((p) => p.includes('bcrypt')));
    assert.ok(issuesOf({ nodeRed: { flowsFile: 'flows.json' } }).some((p) => p.includes('absolute')));
    assert.ok(issuesOf({ nodeRed: { heapMb: 16 } }).some((p) => p.startsWith('nodeRed.heapMb')));
    const ok = validateGatewayConfig({
      ...base,
      nodeRed: { enabled: true, adminPasswordHash: hashAdminPassword('pw', 4), brokerPassword: 'x' },
    });
    assert.ok(ok.ok);
    assert.equal(ok.result.config.nodeRed?.host, '127.0.0.1');
    assert.equal(ok.result.config.nodeRed?.heapMb, 128);
  });

  it('ships self-contained flows: every node of a tab and every config node it uses is there', () => {
    const flows = shippedFlows();
    const ids = new Set(flows.map((n) => n.id));
    assert.equal(ids.size, flows.length, 'ids are unique');
    for (const n of flows) {
      if (typeof n.z === 'string') assert.ok(ids.has(n.z), `${n.id} on a missing tab`);
      if (typeof n.broker === 'string') assert.ok(ids.has(n.broker), `${n.id} uses a missing broker`);
      for (const out of (n.wires as string[][] | undefined) ?? [])
        for (const target of out) assert.ok(ids.has(target), `${n.id} wired to missing ${target}`);
    }
    // Forwarding needs a URL: it ships disabled.
    assert.equal(flows.find((n) => n.id === 'legacy')?.disabled, true);
  });

  it('does not start Node-RED when the broker user is missing or its password does not match', async () => {
    const edge = { brokerAddress: () => ({ host: '127.0.0.1', port: 1 }) } as unknown as Edge;
    const gateway = (users: { username: string; passwordHash: string }[]) => ({
      ...base,
      storage: { dataDir: dir.path },
      log: { level: 'info' as const },
      broker: { users: users.map((u) => ({ ...u, acl: { publish: [], subscribe: [] } })) },
    });
    const config = {
      enabled: true,
      supervisor: 'child' as const,
      host: '127.0.0.1',
      port: 0,
      adminUser: 'admin',
      adminPasswordHash: hashAdminPassword('pw', 4),
      heapMb: 128,
      brokerUser: 'node-red',
      brokerPassword: 'right',
    };
    const missing = nodeRedExtension(config, gateway([]) as never, silentLogger());
    await missing.start(edge);
    assert.equal(missing.health().running, false);
    assert.match(missing.health().problem ?? '', /EDGE_ERR_NODERED_CONFIG|no user "node-red"/);
    assert.equal(missing.health().pid, undefined);

    const wrong = nodeRedExtension(
      config,
      gateway([{ username: 'node-red', passwordHash: await hashPassword('other') }]) as never,
      silentLogger(),
    );
    await wrong.start(edge);
    assert.match(wrong.health().problem ?? '', /does not match/);
    assert.equal(wrong.health().pid, undefined);
    // Nothing was prepared for a Node-RED that cannot run.
    assert.equal(existsSync(join(dir.path, 'node-red', 'flows.json')), false);
    await missing.stop();
    await wrong.stop();
  });

  it('hashes admin passwords as Node-RED checks them (bcrypt)', () => {
    const hash = hashAdminPassword('secret', 4);
    assert.match(hash, /^\$2[aby]\$04\$/);
    // Checked with the bcryptjs Node-RED itself uses for adminAuth.
    const fromNodeRed = createRequire(createRequire(import.meta.url).resolve('node-red/package.json'));
    const bcrypt = fromNodeRed('bcryptjs') as { compareSync(a: string, b: string): boolean };
    assert.equal(bcrypt.compareSync('secret', hash), true);
    assert.equal(bcrypt.compareSync('Secret', hash), false);
    assert.throws(() => hashAdminPassword(''), /EDGE_ERR_NODERED_CONFIG|empty/);
  });
});
