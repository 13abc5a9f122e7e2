#!/usr/bin/env node
// Builds what a gateway box runs: TypeScript → dist/ (Node 20, ESM), plus the non-code assets the
// runtime reads (JSON schemas, shipped flows, console files). Only production dependencies are
// needed to run dist/ — test/build-output.test.ts checks that.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const ASSETS = /\.(json|html|css|svg|png|js|yaml|py|service|rules)$/;
const SOURCES = ['bin', 'common', 'protocol', 'drivers', 'edge', 'cloud', 'provisioning', 'flows'];
function copyAssets(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) copyAssets(path);
    else if (
      ASSETS.test(name) &&
      !name.endsWith('.d.ts') &&
      !(dir.endsWith('/bin') && name === 'doorstep.js')
    )
      cpSync(path, join(dist, relative(root, path)));
  }
}
for (const folder of SOURCES) if (existsSync(join(root, folder))) copyAssets(join(root, folder));
console.log(`build: dist/ written (${relative(process.cwd(), dist) || 'dist'})`);
