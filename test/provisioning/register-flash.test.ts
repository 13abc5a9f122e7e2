import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { parse, parseDocument, stringify } from 'yaml';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { initWorkspace } from '../../provisioning/init.js';
import { verifyPayload } from '../../provisioning/workspace.js';
import { freePort } from '../support/net.js';
import { api, type DoorstepProcess, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { readUnitCommand } from '../support/unit.js';
import { runProvision } from './support.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const ADMIN: [string, string] = ['admin', 'correct horse battery'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };
const SOURCES = ['bin', 'common', 'protocol', 'drivers', 'edge', 'cloud', 'provisioning', 'flows'];
/** A site the size the memory target is stated for (README): 500 devices on three Modbus TCP servers. */
const DEVICES = 500;
const PER_SERVER = 200;
const PROFILES = [
  'smoke-status-register',
  'gas-status-word-int16',
  'pressure-float32-loop',
  'door-monitor-state',
  'geomagnetic-parking',
];
const fleet = Array.from({ length: DEVICES }, (_, i) => ({
  id: i === 0 ? 'smoke-a' : `dev-${i}`,
  profile: PROFILES[i % PROFILES.length]!,
  server: Math.floor(i / PER_SERVER),
  unitId: (i % PER_SERVER) + 1,
}));

function files(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    return statSync(path).isDirectory() ? files(path, keep) : keep(name) ? [path] : [];
  });
}

/**
 * A built application tree like `npm run build` leaves (package.json, bin/, dist/, node_modules/),
 * made in a temporary directory so this test never races test/build-output.test.ts, which rebuilds
 * the repository's dist/. esbuild strips the types file by file (no bundling), as tsc emits them;
 * node_modules is the repository's, linked.
 */
async function buildApp(app: string): Promise<void> {
  const entries = SOURCES.flatMap((s) =>
    files(join(ROOT, s), (n) => n.endsWith('.ts') && !n.endsWith('.d.ts')),
  );
  await build({
    entryPoints: entries,
    outdir: join(app, 'dist'),
    outbase: ROOT,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
  });
  for (const asset of SOURCES.flatMap((s) =>
    files(join(ROOT, s), (n) => /\.(json|html|css|svg|png|yaml|py|service|rules)$/.test(n)),
  ))
    cpSync(asset, join(app, 'dist', relative(ROOT, asset)));
  cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  mkdirSync(join(app, 'bin'));
  cpSync(join(ROOT, 'bin/doorstep.js'), join(app, 'bin/doorstep.js'));
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
}

describe('provision register and flash', () => {
  const dir = tempDir('doorstep-flash-');
  const app = join(dir.path, 'app');
  const ws = join(dir.path, 'ws');
  const target = join(dir.path, 'sd');
  let cloud: DoorstepProcess;
  let cloudUrl = '';
  let adminToken = '';
  let sim: RunningSimSite;

  const enrolmentToken = async () => {
    const e = await api<{ token: string }>(cloudUrl, 'POST', '/v1/enrollment-tokens', {
      token: adminToken,
      json: { scope: 'pudong/zhangjiang', uses: 1, ttlHours: 1 },
    });
    assert.equal(e.status, 201);
    return e.body.token;
  };

  before(async () => {
    const port = await freePort();
    cloudUrl = `http://127.0.0.1:${port}`;
    const cloudConfig = join(dir.path, 'cloud.yaml');
    writeFileSync(
      cloudConfig,
      stringify({
        district: { slug: 'pudong', name: '浦东新区' },
        http: { host: '127.0.0.1', port },
        storage: { kind: 'sqlite', path: join(dir.path, 'cloud.db') },
        bootstrap: {
          admin: { username: ADMIN[0], password: ADMIN[1] },
          sites: [
            { path: 'pudong/zhangjiang', name: '张江镇' },
            { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
          ],
        },
        log: { level: 'warn' },
      }),
    );
    cloud = startDoorstep(['cloud', '--config', cloudConfig]);
    const [, token] = await Promise.all([
      buildApp(app),
      cloud.waitFor(/doorstep cloud listening on /).then(async () => {
        const t = await api<{ token: string }>(cloudUrl, 'POST', '/v1/api-tokens', {
          basic: ADMIN,
          json: {},
        });
        return t.body.token;
      }),
    ]);
    adminToken = token;
    sim = await startSimSite({
      tcp: Array.from({ length: Math.ceil(DEVICES / PER_SERVER) }, (_, server) => ({
        name: `lane-${server}`,
        devices: fleet
          .filter((d) => d.server === server)
          .map((d) => ({ id: d.id, profile: d.profile, unitId: d.unitId, heartbeat: false })),
      })),
    });
    initWorkspace({ dir: ws, gateway: 'gw-flash', site: SITE });
    // The installer's configuration: 500 Modbus TCP devices, the local broker, health on free ports.
    const doc = parseDocument(readFileSync(join(ws, 'gateway.yaml'), 'utf8'));
    doc.set('buses', [{ id: 'lan', type: 'tcp', timeoutMs: 1000 }]);
    doc.set(
      'devices',
      fleet.map((d) => ({
        id: d.id,
        bus: 'lan',
        profile: d.profile,
        unitId: d.unitId,
        host: '127.0.0.1',
        port: sim.tcp[d.server]!.port,
        location: d.id === 'smoke-a' ? '1号楼 楼道' : `${d.server + 1}号楼`,
      })),
    );
    doc.set('broker', { port: 0 });
    doc.setIn(['health', 'port'], 0);
    doc.setIn(['log', 'level'], 'warn');
    writeFileSync(join(ws, 'gateway.yaml'), doc.toString());
    mkdirSync(target);
  });

  after(async () => {
    await cloud?.stop('SIGKILL');
    await sim?.stop();
    dir.dispose();
  });

  it('register: a wrong token is refused and changes nothing; the right one stores a 0600 credential and the uplink', async () => {
    const before = readFileSync(join(ws, 'gateway.yaml'), 'utf8');
    // As an older doorstep or an editor may have left it: readable by everyone.
    chmodSync(join(ws, 'gateway.yaml'), 0o644);
    const wrong = await runProvision([
      'register',
      '--dir',
      ws,
      '--cloud',
      cloudUrl,
      '--token',
      'dse_pudong/zhangjiang.not-a-token',
    ]);
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stderr,
      /PROV_ERR_ENROLL_TOKEN: 注册码无效：.* the cloud at .* does not know this enrolment token \(CLOUD_ERR_ENROLL_TOKEN\)/,
    );
    assert.match(wrong.stderr, /hint: 核对注册码有无抄错/);
    assert.equal(existsSync(join(ws, 'gateway.secret')), false);
    assert.equal(readFileSync(join(ws, 'gateway.yaml'), 'utf8'), before);

    const closed = await freePort();
    const unreachable = await runProvision([
      'register',
      '--dir',
      ws,
      '--cloud',
      `http://127.0.0.1:${closed}`,
      '--token',
      'x',
    ]);
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      /PROV_ERR_CLOUD_UNREACHABLE: cannot reach the cloud at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
    );

    const ok = await runProvision([
      'register',
      '--dir',
      ws,
      '--cloud',
      cloudUrl,
      '--token',
      await enrolmentToken(),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /enrolled gw-flash: credential \S+ stored in .*gateway\.secret \(0600\)/);
    assert.equal(statSync(join(ws, 'gateway.secret')).mode & 0o777, 0o600);
    assert.equal(
      statSync(join(ws, 'gateway.yaml')).mode & 0o777,
      0o600,
      'the rewritten gateway.yaml holds passwords',
    );
    assert.match(readFileSync(join(ws, 'gateway.secret'), 'utf8'), /^dsg_/);
    const config = parse(readFileSync(join(ws, 'gateway.yaml'), 'utf8')) as {
      uplink: { url: string; credentialsFile: string };
    };
    assert.deepEqual(config.uplink, { url: cloudUrl, credentialsFile: '/etc/doorstep/gateway.secret' });
    assert.match(readFileSync(join(ws, 'gateway.yaml'), 'utf8'), /# One entry per sensor/, 'comments kept');

    const again = await runProvision([
      'register',
      '--dir',
      ws,
      '--cloud',
      cloudUrl,
      '--token',
      await enrolmentToken(),
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /PROV_ERR_EXISTS: a cloud credential already exists/);
  });

  it('flash: writes a verified bundle; the gateway started from it syncs into the cloud', async () => {
    assert.ok(existsSync(join(ws, 'gateway.secret')), 'registered first');
    const first = await runProvision([
      'flash',
      '--dir',
      ws,
      '--target',
      target,
      '--app',
      app,
      '--as-root',
      target,
    ]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /wrote \d+ file\(s\) \([\d.]+ MB\), removed 0, 0 unchanged; verified \d+ checksum\(s\)/,
    );
    const etc = join(target, 'etc/doorstep');
    assert.equal(statSync(join(etc, 'gateway.secret')).mode & 0o777, 0o600);
    assert.equal(statSync(join(etc, 'identity.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(etc, 'gateway.yaml')).mode & 0o777, 0o600);
    assert.ok(existsSync(join(target, 'opt/doorstep/node_modules/better-sqlite3/package.json')));
    // typescript is not on this list: node-red 4 pulls it in as a production peer (docs/stack.md).
    for (const dev of ['tsx', 'esbuild', '@biomejs/biome', 'playwright-core', 'smtp-server'])
      assert.ok(
        !existsSync(join(target, 'opt/doorstep/node_modules', dev)),
        `dev dependency ${dev} not flashed`,
      );
    assert.match(
      readFileSync(join(target, 'etc/systemd/system/doorstep-edge.service'), 'utf8'),
      new RegExp(`${target}/opt/doorstep/bin/doorstep.js edge --config ${target}/etc/doorstep/gateway.yaml`),
    );
    assert.match(
      readFileSync(join(target, 'etc/udev/rules.d/99-doorstep-serial.rules'), 'utf8'),
      /latency_timer/,
    );
    const manifest = JSON.parse(readFileSync(join(etc, 'manifest.json'), 'utf8')) as {
      gateway: string;
      files: Array<{ path: string; sha256: string }>;
      signature: string;
    };
    assert.equal(manifest.gateway, 'gw-flash');
    assert.ok(manifest.files.some((f) => f.path === 'etc/doorstep/gateway.secret'));
    const { signature, ...unsigned } = manifest;
    const identity = JSON.parse(readFileSync(join(etc, 'identity.json'), 'utf8')) as { publicKey: string };
    assert.ok(verifyPayload(identity.publicKey, unsigned, signature));

    // Start the gateway from the card as systemd would: the flashed unit's exact ExecStart (node
    // flags included; flash already points its paths into the card) and Environment, the flashed
    // node_modules, outside the repository. A flag that breaks the uplink fails here.
    const unit = readUnitCommand(join(target, 'etc/systemd/system/doorstep-edge.service'));
    assert.deepEqual(unit.args.slice(-4), [
      join(target, 'opt/doorstep/bin/doorstep.js'),
      'edge',
      '--config',
      join(etc, 'gateway.yaml'),
    ]);
    // The unit names /usr/bin/node; a machine whose node lives elsewhere runs the same line with its own.
    const edge = spawn(existsSync(unit.command) ? unit.command : process.execPath, unit.args, {
      cwd: target,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...unit.env },
    });
    let err = '';
    edge.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise((resolve) => edge.once('exit', resolve));
    try {
      const deadline = Date.now() + 90_000;
      let readings = 0;
      while (readings === 0) {
        assert.ok(edge.exitCode === null, `gateway exited: ${err}`);
        assert.ok(Date.now() < deadline, `no readings of gw-flash reached the cloud: ${err}`);
        await new Promise((r) => setTimeout(r, 250));
        const r = await api<{ items: unknown[] }>(cloudUrl, 'GET', '/v1/readings?gateway=gw-flash&limit=5', {
          token: adminToken,
        });
        readings = r.status === 200 ? r.body.items.length : 0;
      }
      assert.match(err, /doorstep edge gw-flash running; health \S+, MQTT 127\.0\.0\.1:\d+/);
      // Still alive a few seconds later, with the uplink's batches acknowledged (the old unit's
      // --lite-mode killed the process on its first HTTP request, and systemd looped it).
      const health = /health (http:\/\/\S+\/health)/.exec(err)![1]!;
      let acked = 0;
      while (acked < 2) {
        assert.ok(edge.exitCode === null, `gateway exited: ${err}`);
        assert.ok(Date.now() < deadline, `the uplink had ${acked} batch(es) acknowledged: ${err}`);
        await new Promise((r) => setTimeout(r, 250));
        const h = (await (await fetch(health)).json()) as { uplink?: { batches?: { acked?: number } } };
        acked = h.uplink?.batches?.acked ?? 0;
      }
      assert.ok(
        existsSync(join(target, 'var/lib/doorstep/outbox.db')),
        'outbox under the flashed data directory',
      );
    } finally {
      edge.kill('SIGTERM');
      await exited;
    }
  });

  it('flash again: nothing changes and it says so; another gateway’s card is refused without --force', async () => {
    assert.ok(existsSync(join(target, 'etc/doorstep/manifest.json')), 'flashed first');
    const again = await runProvision([
      'flash',
      '--dir',
      ws,
      '--target',
      target,
      '--app',
      app,
      '--as-root',
      target,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /nothing changed — the target already holds this bundle \(\d+ checksum\(s\) verified\)/,
    );

    const other = join(dir.path, 'other');
    initWorkspace({ dir: other, gateway: 'gw-other', site: SITE });
    const refused = await runProvision(['flash', '--dir', other, '--target', target, '--app', app]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /PROV_ERR_IDENTITY_MISMATCH: target .* holds gateway gw-flash \(install [0-9a-f-]+\), not gw-other/,
    );
    assert.match(readFileSync(join(target, 'etc/doorstep/identity.json'), 'utf8'), /gw-flash/, 'unchanged');

    const forced = await runProvision(['flash', '--dir', other, '--target', target, '--app', app, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /wrote \d+ file\(s\).*removed 1/); // gw-flash's credential: gw-other has none
    assert.match(readFileSync(join(target, 'etc/doorstep/identity.json'), 'utf8'), /gw-other/);
    assert.equal(existsSync(join(target, 'etc/doorstep/gateway.secret')), false);
  });

  it('flash refuses a target without permission, a missing build and a missing workspace', async () => {
    const locked = join(dir.path, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o000);
    const denied = await runProvision(['flash', '--dir', ws, '--target', locked, '--app', app], {
      unprivileged: true,
    });
    assert.equal(denied.code, 1);
    assert.match(
      denied.stderr,
      /PROV_ERR_TARGET: cannot write to target .*locked: EACCES: permission denied/,
    );

    const empty = join(dir.path, 'empty-app');
    mkdirSync(empty);
    const noBuild = await runProvision(['flash', '--dir', ws, '--target', target, '--app', empty]);
    assert.match(
      noBuild.stderr,
      /PROV_ERR_BUILD_MISSING: no built application at .*empty-app: package.json is missing/,
    );

    const noWs = await runProvision(['flash', '--dir', join(dir.path, 'nowhere'), '--target', target]);
    assert.match(noWs.stderr, /PROV_ERR_WORKSPACE: no gateway workspace at .*nowhere: identity.json: ENOENT/);
    assert.match(noWs.stderr, /hint: Run `doorstep provision init/);
  });
});
