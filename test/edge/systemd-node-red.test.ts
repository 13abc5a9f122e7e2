import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { silentLogger } from '../../common/log.js';
import { hashPassword } from '../../common/password.js';
import { GatewayConfig } from '../../edge/config/schema.js';
import { buildEdge } from '../../edge/runtime/gateway.js';
import {
  hashAdminPassword,
  NODE_RED_LAUNCHER,
  type NodeRedHealth,
  nodeRedExtension,
  nodeRedStartFile,
} from '../../edge/runtime/node-red.js';
import { GATEWAY_PATHS } from '../../provisioning/init.js';
import { workspacePaths } from '../../provisioning/workspace.js';
import { eventually, gatewayConfig } from '../edge/runtime/helpers.js';
import { tempDir } from '../support/tmp.js';
import { EDGE_UNIT, NODE_RED_UNIT, readUnitDirectives } from '../support/unit.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Values of one directive (a key may repeat; space-separated lists are split). */
function values(unit: string, key: string): string[] {
  return readUnitDirectives(unit)
    .filter(([k]) => k === key)
    .flatMap(([, v]) => v.split(/\s+/).filter(Boolean));
}

/** True when `path` is one of `dirs` or lies below one of them (`-` prefixes: missing is fine). */
function covered(path: string, dirs: string[]): boolean {
  return dirs
    .map((d) => d.replace(/^-/, '').replace(/\/+$/, ''))
    .some((d) => path === d || path.startsWith(`${d}/`));
}

describe('Node-RED as its own systemd unit, apart from the gateway credentials', () => {
  const dir = tempDir('doorstep-nr-unit-');
  let launcher: ChildProcess | undefined;
  after(async () => {
    if (launcher && launcher.exitCode === null && launcher.signalCode === null) {
      const exited = once(launcher, 'exit');
      launcher.kill('SIGKILL');
      await exited;
    }
    dir.dispose();
  });

  it('the shipped unit makes every credential file of the gateway inaccessible, as another user', () => {
    // The paths the gateway really uses, from the configuration defaults and the installer's layout.
    const defaults = GatewayConfig.parse({
      gateway: { id: 'gw-1', site: { district: 'd', town: 't', community: 'c' } },
    });
    const dataDir = defaults.storage.dataDir;
    const etc = workspacePaths(GATEWAY_PATHS.etc);
    const credentials = [
      GATEWAY_PATHS.config, // broker password hashes, Node-RED's broker and admin secrets
      GATEWAY_PATHS.secret, // uplink.credentialsFile as `provision register` writes it
      etc.config,
      etc.secret,
      etc.key, // the identity key that signs reports and manifests
      dataDir, // outbox, rule and uplink state
      nodeRedStartFile(dataDir),
      join(dataDir, 'node-red', '.credential-secret'),
    ];
    const hidden = values(NODE_RED_UNIT, 'InaccessiblePaths');
    for (const path of credentials) assert.ok(covered(path, hidden), `${path} is inaccessible to Node-RED`);

    const [user] = values(NODE_RED_UNIT, 'User');
    const [gatewayUser] = values(EDGE_UNIT, 'User');
    assert.ok(user && gatewayUser && user !== gatewayUser, `Node-RED runs as ${user}, not as ${gatewayUser}`);
    // Its start options come in as a systemd credential from where the gateway writes them.
    assert.deepEqual(values(NODE_RED_UNIT, 'LoadCredential'), [`node-red.json:${nodeRedStartFile(dataDir)}`]);
    const exec = values(NODE_RED_UNIT, 'ExecStart');
    const script = exec.find((w) => w.endsWith('launch.js'))!;
    assert.equal(script, join(GATEWAY_PATHS.app, 'dist', NODE_RED_LAUNCHER.slice(ROOT.length)));
    assert.deepEqual(exec.slice(exec.indexOf(script) + 1), [
      '--options',
      '%d/node-red.json',
      '--user-dir',
      '%S/doorstep-node-red',
    ]);
    assert.deepEqual(values(NODE_RED_UNIT, 'StateDirectory'), ['doorstep-node-red']);
    const wanted: [string, string][] = [
      ['ProtectSystem', 'strict'],
      ['ProtectProc', 'invisible'],
      ['NoNewPrivileges', 'yes'],
      ['BindsTo', 'doorstep-edge.service'],
    ];
    for (const [key, value] of wanted)
      assert.ok(
        values(NODE_RED_UNIT, key).includes(value) ||
          readUnitDirectives(NODE_RED_UNIT, 'Unit').some(([k, v]) => k === key && v === value),
        `${key}=${value}`,
      );
  });

  it('supervisor: systemd — the gateway writes the start options 0600 and starts nothing; the launcher runs from them', async () => {
    const nrPassword = 'node-red-broker-pw';
    const testerPassword = 'tester-pw';
    const config = gatewayConfig({
      gateway: { id: 'gw-nru', site: { district: 'd1', town: 't1', community: 'c1' } },
      storage: { dataDir: join(dir.path, 'data') },
      broker: {
        port: 0,
        users: [
          {
            username: 'node-red',
            passwordHash: await hashPassword(nrPassword),
            acl: { publish: ['doorstep/%g/commands/+', 'doorstep/%g/flows/#'], subscribe: ['doorstep/%g/#'] },
          },
          {
            username: 'tester',
            passwordHash: await hashPassword(testerPassword),
            acl: { publish: [], subscribe: ['doorstep/%g/#'] },
          },
        ],
      },
      nodeRed: {
        enabled: true,
        supervisor: 'systemd',
        port: 0,
        adminPasswordHash: hashAdminPassword('editor-pw', 4),
        brokerPassword: nrPassword,
      },
      health: { port: 0 },
    });
    mkdirSync(config.config.storage.dataDir, { recursive: true });
    const nodeRed = nodeRedExtension(config.config.nodeRed!, config.config, silentLogger());
    const edge = buildEdge(config, { extensions: [nodeRed] });
    await edge.start();
    try {
      const startFile = nodeRedStartFile(config.config.storage.dataDir);
      assert.equal(statSync(startFile).mode & 0o777, 0o600);
      const options = JSON.parse(readFileSync(startFile, 'utf8')) as Record<string, unknown>;
      assert.equal(options.brokerPassword, nrPassword);
      assert.equal(options.flowFile, undefined, 'the unit keeps its flows in its own state directory');
      const health = nodeRed.health() as NodeRedHealth;
      assert.deepEqual(
        {
          supervisor: health.supervisor,
          startFile: health.startFile,
          pid: health.pid,
          running: health.running,
        },
        { supervisor: 'systemd', startFile, pid: undefined, running: undefined },
      );
      assert.equal(existsSync(join(config.config.storage.dataDir, 'node-red', 'flows.json')), false);

      // What the unit runs, with a temporary state directory for %S/doorstep-node-red.
      const stateDir = join(dir.path, 'state');
      launcher = spawn(
        process.execPath,
        [NODE_RED_LAUNCHER, '--options', startFile, '--user-dir', stateDir],
        {
          cwd: dir.path,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: stateDir, NODE_ENV: 'production' },
        },
      );
      let out = '';
      launcher.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
      });
      launcher.stderr?.on('data', (c: Buffer) => {
        out += c.toString();
      });
      await eventually(() => /Node-RED running at http:\/\//.test(out), 90_000, `Node-RED ready:\n${out}`);
      assert.ok(
        existsSync(join(stateDir, 'flows.json')),
        'the shipped flows are seeded in its own directory',
      );

      // Its shipped broker node reached the gateway's broker with the options' user and password.
      const b = edge.brokerAddress()!;
      const tester = await mqtt.connectAsync(`mqtt://${b.host}:${b.port}`, {
        username: 'tester',
        password: testerPassword,
        clientId: 'tester-nru',
      });
      try {
        const states: string[] = [];
        tester.on('message', (_topic, payload) => {
          if (payload.length > 0)
            states.push(String((JSON.parse(payload.toString()) as { state?: string }).state));
        });
        await tester.subscribeAsync('doorstep/gw-nru/flows/status', { qos: 1 });
        await eventually(() => states.includes('online'), 60_000, 'flows online');
      } finally {
        await tester.endAsync();
      }
      const exited = once(launcher, 'exit');
      launcher.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0);
    } finally {
      await edge.stop();
    }
  });

  it('systemd itself reads both shipped units without a complaint (systemd-analyze verify)', async () => {
    const child = spawn('systemd-analyze', ['verify', '--man=no', NODE_RED_UNIT, EDGE_UNIT], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, err);
    // An unknown or misspelt directive is only a warning to systemd: it would silently not harden.
    assert.equal(err, '');
  });

  it('the launcher refuses to run without its options or a state directory', async () => {
    const run = async (args: string[]) => {
      const child = spawn(process.execPath, [NODE_RED_LAUNCHER, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      return { code, err };
    };
    const missing = await run(['--options', join(dir.path, 'none.json'), '--user-dir', dir.path]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /Node-RED start options .*none\.json: ENOENT/);
    const noDir = await run(['--options', join(dir.path, 'none.json')]);
    assert.equal(noDir.code, 2);
    assert.match(noDir.err, /needs --user-dir/);
  });
});
