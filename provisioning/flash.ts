/**
 * Writes a gateway bundle onto a target root filesystem (a mounted SD card or a directory) and
 * verifies it. Idempotent: a file whose content and mode already match is not touched, files the
 * previous manifest listed but the new bundle lacks are removed, and a run that changes nothing
 * says so. Refuses a target that holds another gateway's identity unless forced.
 */
import { execFile } from 'node:child_process';
import {
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../common/files.js';
import { loadGatewayConfig } from '../edge/config/load.js';
import { DoorstepError } from '../protocol/index.js';
import { type BundleEntry, checkApp, planBundle, sha256 } from './bundle.js';
import { GATEWAY_PATHS } from './init.js';
import { Identity, readIdentity, signPayload, workspacePaths } from './workspace.js';

const run = promisify(execFile);

export interface FlashOptions {
  dir: string;
  target: string;
  app: string;
  asRoot?: string;
  force?: boolean;
}

export interface FlashResult {
  target: string;
  written: string[];
  unchanged: number;
  removed: string[];
  verified: number;
  bytes: number;
  changed: boolean;
}

const MANIFEST = 'etc/doorstep/manifest.json';

interface Manifest {
  kind: 'doorstep-flash-manifest';
  version: 1;
  gateway: string;
  installId: string;
  fingerprint: string;
  app: { name: string; version: string };
  /** Native modules (better-sqlite3, serialport) were built for this: the gateway must match. */
  platform: { arch: string; nodeAbi: string };
  asRoot: string;
  files: Array<{ path: string; sha256: string; size: number; mode: string }>;
  links: Array<{ path: string; target: string }>;
  signature?: string;
}

async function checkTarget(target: string): Promise<void> {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(target);
  } catch (error) {
    throw new DoorstepError(
      'PROV_ERR_TARGET',
      { target, reason: (error as NodeJS.ErrnoException).code ?? String(error) },
      { cause: error },
    );
  }
  if (!st.isDirectory()) throw new DoorstepError('PROV_ERR_TARGET', { target, reason: 'not a directory' });
  try {
    await access(target, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new DoorstepError(
      'PROV_ERR_TARGET',
      { target, reason: `${(error as NodeJS.ErrnoException).code}: permission denied` },
      { cause: error },
    );
  }
}

/** The identity already on the target, if any; another gateway's is refused unless forced. */
function checkIdentity(target: string, ours: Identity, force: boolean): void {
  const file = join(target, GATEWAY_PATHS.etc, 'identity.json');
  if (!existsSync(file)) return;
  let theirs: Identity | undefined;
  try {
    theirs = Identity.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    theirs = undefined; // damaged: treat like a foreign identity
  }
  if (theirs && theirs.gateway === ours.gateway && theirs.installId === ours.installId) return;
  if (force) return;
  throw new DoorstepError('PROV_ERR_IDENTITY_MISMATCH', {
    target,
    existing: theirs?.gateway ?? '(unreadable identity.json)',
    existingInstall: theirs?.installId ?? '?',
    gateway: ours.gateway,
  });
}

function sameOnDisk(path: string, entry: BundleEntry): boolean {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (entry.type === 'link') return st.isSymbolicLink() && readlinkSync(path) === entry.target;
  if (!st.isFile() || st.size !== entry.size || (st.mode & 0o777) !== entry.mode) return false;
  return sha256(readFileSync(path)) === entry.sha256;
}

function put(path: string, entry: BundleEntry): void {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path) || lstatSync(path, { throwIfNoEntry: false }))
    rmSync(path, { recursive: true, force: true });
  if (entry.type === 'link') symlinkSync(entry.target, path);
  else writeFileAtomic(path, entry.content ?? readFileSync(entry.source!), entry.mode);
}

function readManifest(target: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(target, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

export async function flash(options: FlashOptions): Promise<FlashResult> {
  const target = resolve(options.target);
  const workspace = workspacePaths(options.dir);
  const identity = readIdentity(workspace.dir);
  const loaded = loadGatewayConfig(workspace.config);
  const app = checkApp(resolve(options.app));
  await checkTarget(target);
  checkIdentity(target, identity, options.force ?? false);
  const asRoot = options.asRoot ?? '/';
  const bundle = await planBundle({ workspace, config: loaded.config, app, asRoot });

  const files = bundle.entries.filter((e): e is Extract<BundleEntry, { type: 'file' }> => e.type === 'file');
  const manifest: Manifest = {
    kind: 'doorstep-flash-manifest',
    version: 1,
    gateway: identity.gateway,
    installId: identity.installId,
    fingerprint: identity.fingerprint,
    app: { name: app.name, version: app.version },
    platform: { arch: process.arch, nodeAbi: process.versions.modules },
    asRoot,
    files: files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size, mode: f.mode.toString(8) })),
    links: bundle.entries.flatMap((e) => (e.type === 'link' ? [{ path: e.path, target: e.target }] : [])),
  };
  manifest.signature = signPayload(workspace.dir, manifest);
  const manifestEntry: BundleEntry = (() => {
    const content = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    return {
      type: 'file',
      path: MANIFEST,
      mode: 0o644,
      sha256: sha256(content),
      size: content.length,
      content,
    };
  })();
  const entries = [...bundle.entries, manifestEntry];

  const result: FlashResult = {
    target,
    written: [],
    unchanged: 0,
    removed: [],
    verified: 0,
    bytes: 0,
    changed: false,
  };
  const wanted = new Set(entries.map((e) => e.path));
  try {
    // Stale files of the previous bundle (an old dependency, a renamed file) go first.
    for (const old of [...(readManifest(target)?.files ?? []), ...(readManifest(target)?.links ?? [])]) {
      if (wanted.has(old.path) || old.path.includes('..')) continue;
      const path = join(target, old.path);
      if (lstatSync(path, { throwIfNoEntry: false })) {
        rmSync(path, { force: true });
        result.removed.push(old.path);
      }
    }
    for (const dir of bundle.directories) mkdirSync(join(target, dir), { recursive: true });
    // The manifest last: a card pulled mid-way has no manifest claiming files it lacks.
    for (const entry of entries) {
      const path = join(target, entry.path);
      if (sameOnDisk(path, entry)) {
        result.unchanged++;
        continue;
      }
      put(path, entry);
      result.written.push(entry.path);
      if (entry.type === 'file') result.bytes += entry.size;
    }
  } catch (error) {
    if (error instanceof DoorstepError) throw error;
    throw new DoorstepError(
      'PROV_ERR_TARGET',
      { target, reason: (error as Error).message },
      { cause: error },
    );
  }
  // One sync for the whole card instead of an fsync per dependency file (thousands on an SD card).
  await run('sync', ['-f', target]).catch(() => run('sync', []));
  for (const entry of entries) {
    if (!sameOnDisk(join(target, entry.path), entry))
      throw new DoorstepError('PROV_ERR_VERIFY', { target, file: entry.path });
    result.verified++;
  }
  result.changed = result.written.length > 0 || result.removed.length > 0;
  return result;
}
