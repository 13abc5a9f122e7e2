/**
 * What goes onto a gateway's root filesystem, as a list of entries (path under the root, mode,
 * content or source file, sha256). Built from the workspace and a built application tree; written
 * and verified by flash.ts. Production dependencies are the installed node_modules minus dev
 * dependencies (`npm ls --omit=dev --parseable --all`): sites are offline, and a copy needs no registry.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import type { ParsedGatewayConfig } from '../edge/config/schema.js';
import { DoorstepError } from '../protocol/index.js';
import { GATEWAY_PATHS } from './init.js';
import { udevRules } from './udev.js';
import type { WorkspacePaths } from './workspace.js';

const run = promisify(execFile);

export type BundleEntry =
  | {
      type: 'file';
      path: string;
      mode: number;
      sha256: string;
      size: number;
      source?: string;
      content?: Buffer;
    }
  | { type: 'link'; path: string; target: string };

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function fromContent(path: string, content: string | Buffer, mode: number): BundleEntry {
  const buffer = typeof content === 'string' ? Buffer.from(content) : content;
  return { type: 'file', path, mode, sha256: sha256(buffer), size: buffer.length, content: buffer };
}

function fromFile(path: string, source: string, mode?: number): BundleEntry {
  const st = lstatSync(source);
  if (st.isSymbolicLink()) return { type: 'link', path, target: readlinkSync(source) };
  const data = readFileSync(source);
  return {
    type: 'file',
    path,
    mode: mode ?? st.mode & 0o777,
    sha256: sha256(data),
    size: data.length,
    source,
  };
}

/** Every file under `dir` (symlinks as links), skipping `skip` directory names at any depth. */
function walk(dir: string, base: string, skip: ReadonlySet<string>, out: BundleEntry[]): void {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isDirectory()) {
      if (!skip.has(name)) walk(path, posix.join(base, name), skip, out);
    } else out.push(fromFile(posix.join(base, name), path));
  }
}

export interface AppTree {
  root: string;
  name: string;
  version: string;
}

/** A built application: package.json, bin/doorstep.js, dist/bin/doorstep.js and dist/edge/main.js. */
export function checkApp(root: string): AppTree {
  for (const part of [
    'package.json',
    'bin/doorstep.js',
    'dist/bin/doorstep.js',
    'dist/edge/main.js',
    'node_modules',
  ])
    if (!existsSync(join(root, part)))
      throw new DoorstepError('PROV_ERR_BUILD_MISSING', { app: root, reason: `${part} is missing` });
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  return { root, name: pkg.name, version: pkg.version };
}

/**
 * The installed production dependencies as (directory, path under the app): nested node_modules are
 * listed by npm as packages of their own. A symlinked node_modules is followed (npm prints real paths).
 */
export async function productionPackages(app: string): Promise<Array<{ dir: string; rel: string }>> {
  let stdout: string;
  try {
    ({ stdout } = await run('npm', ['ls', '--omit=dev', '--parseable', '--all'], {
      cwd: app,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, npm_config_loglevel: 'error' },
    }));
  } catch (error) {
    // npm ls exits non-zero on extraneous or invalid packages but still lists the tree.
    stdout = (error as { stdout?: string }).stdout ?? '';
    if (!stdout.trim())
      throw new DoorstepError(
        'PROV_ERR_DEPENDENCIES',
        { app, reason: (error as Error).message.split('\n')[0]! },
        { cause: error },
      );
  }
  const prefixes = [join(app, 'node_modules'), realpathSync(join(app, 'node_modules'))];
  const out: Array<{ dir: string; rel: string }> = [];
  for (const line of stdout.split('\n').map((l) => l.trim())) {
    const prefix = prefixes.find((p) => line.startsWith(`${p}/`));
    if (!prefix) continue;
    if (!existsSync(join(line, 'package.json')))
      throw new DoorstepError('PROV_ERR_DEPENDENCIES', { app, reason: `${line} is not installed` });
    out.push({ dir: line, rel: posix.join('node_modules', relative(prefix, line)) });
  }
  if (out.length === 0)
    throw new DoorstepError('PROV_ERR_DEPENDENCIES', { app, reason: 'npm listed no installed package' });
  return out;
}

export interface BundleInput {
  workspace: WorkspacePaths;
  config: ParsedGatewayConfig;
  app: AppTree;
  /** Where the target's root is seen when the gateway runs: "/" for an SD card, the target itself to run in place. */
  asRoot: string;
}

export interface Bundle {
  entries: BundleEntry[];
  /** Directories to create empty (the gateway's data directory). */
  directories: string[];
}

const under = (asRoot: string, path: string) => (asRoot === '/' ? path : posix.join(asRoot, path));
const rel = (path: string) => path.replace(/^\/+/, '');

export async function planBundle(input: BundleInput): Promise<Bundle> {
  const { workspace, config, app, asRoot } = input;
  const entries: BundleEntry[] = [];
  const appDir = rel(GATEWAY_PATHS.app);
  entries.push(fromFile(`${appDir}/package.json`, join(app.root, 'package.json'), 0o644));
  entries.push(fromFile(`${appDir}/bin/doorstep.js`, join(app.root, 'bin/doorstep.js'), 0o755));
  walk(join(app.root, 'dist'), `${appDir}/dist`, new Set(), entries);
  for (const pkg of await productionPackages(app.root))
    walk(pkg.dir, posix.join(appDir, pkg.rel), new Set(['node_modules']), entries);

  // The configuration, with gateway paths seen from where the gateway will run.
  const doc = parseDocument(readFileSync(workspace.config, 'utf8'));
  if (asRoot !== '/') doc.setIn(['storage', 'dataDir'], under(asRoot, config.storage.dataDir));
  if (config.uplink) {
    if (!existsSync(workspace.secret))
      throw new DoorstepError('PROV_ERR_NOT_REGISTERED', { path: workspace.secret });
    if (asRoot !== '/')
      doc.setIn(['uplink', 'credentialsFile'], under(asRoot, config.uplink.credentialsFile));
    entries.push(fromFile(rel(config.uplink.credentialsFile), workspace.secret, 0o600));
  }
  const etc = rel(GATEWAY_PATHS.etc);
  // Passwords inside (broker users, Node-RED): owner only; tmpfiles hands it to the doorstep user.
  entries.push(fromContent(`${etc}/gateway.yaml`, doc.toString({ lineWidth: 0 }), 0o600));
  entries.push(fromFile(`${etc}/identity.json`, workspace.identity, 0o644));
  entries.push(fromFile(`${etc}/identity.key`, workspace.key, 0o600));

  const unitSource = [
    join(app.root, 'dist/edge/systemd/doorstep-edge.service'),
    join(app.root, 'edge/systemd/doorstep-edge.service'),
  ].find(existsSync);
  if (!unitSource)
    throw new DoorstepError('PROV_ERR_BUILD_MISSING', {
      app: app.root,
      reason: 'edge/systemd/doorstep-edge.service is missing',
    });
  let unit = readFileSync(unitSource, 'utf8');
  if (asRoot !== '/')
    unit = unit
      .replaceAll(`${GATEWAY_PATHS.app}/`, `${under(asRoot, GATEWAY_PATHS.app)}/`)
      .replaceAll(`${GATEWAY_PATHS.etc}/`, `${under(asRoot, GATEWAY_PATHS.etc)}/`);
  entries.push(fromContent('etc/systemd/system/doorstep-edge.service', unit, 0o644));
  // Enabled at boot without running systemctl on the laptop (what `systemctl enable` would link).
  entries.push({
    type: 'link',
    path: 'etc/systemd/system/multi-user.target.wants/doorstep-edge.service',
    target: '../doorstep-edge.service',
  });
  // Node-RED as its own unit and user, without access to the gateway's credentials (flows/README.md).
  const nodeRedUnit = config.nodeRed?.enabled && config.nodeRed.supervisor === 'systemd';
  if (nodeRedUnit) {
    const source = [
      join(app.root, 'dist/edge/systemd/doorstep-node-red.service'),
      join(app.root, 'edge/systemd/doorstep-node-red.service'),
    ].find(existsSync);
    if (!source)
      throw new DoorstepError('PROV_ERR_BUILD_MISSING', {
        app: app.root,
        reason: 'edge/systemd/doorstep-node-red.service is missing',
      });
    let nodeRed = readFileSync(source, 'utf8');
    if (asRoot !== '/')
      nodeRed = nodeRed
        .replaceAll(`${GATEWAY_PATHS.app}/`, `${under(asRoot, GATEWAY_PATHS.app)}/`)
        .replaceAll(`${GATEWAY_PATHS.dataDir}/`, `${under(asRoot, config.storage.dataDir)}/`);
    entries.push(fromContent('etc/systemd/system/doorstep-node-red.service', nodeRed, 0o644));
    entries.push({
      type: 'link',
      path: 'etc/systemd/system/multi-user.target.wants/doorstep-node-red.service',
      target: '../doorstep-node-red.service',
    });
  }
  // The unit runs as User=doorstep: sysusers creates it at first boot, tmpfiles hands it its files.
  entries.push(
    fromContent(
      'etc/sysusers.d/doorstep.conf',
      [
        '# written by doorstep provision flash',
        'u doorstep - "doorstep gateway" /var/lib/doorstep',
        'm doorstep dialout',
        ...(nodeRedUnit ? ['u doorstep-flows - "doorstep Node-RED" /var/lib/doorstep-node-red'] : []),
        '',
      ].join('\n'),
      0o644,
    ),
  );
  const owned = [
    `${GATEWAY_PATHS.etc}/gateway.yaml 0600`,
    `${GATEWAY_PATHS.etc}/identity.key 0600`,
    ...(config.uplink ? [`${config.uplink.credentialsFile} 0600`] : []),
  ];
  entries.push(
    fromContent(
      'etc/tmpfiles.d/doorstep.conf',
      [
        '# written by doorstep provision flash: the gateway user owns its secrets and its data',
        `d ${config.storage.dataDir} 0750 doorstep doorstep -`,
        ...owned.map((o) => `z ${o} doorstep doorstep -`),
        '',
      ].join('\n'),
      0o644,
    ),
  );
  entries.push(fromContent('etc/udev/rules.d/99-doorstep-serial.rules', udevRules(config), 0o644));
  return { entries, directories: [rel(config.storage.dataDir)] };
}
