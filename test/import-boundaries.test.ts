import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';

/**
 * The folder table of docs/architecture.md ("Folders (the top level is fixed)") is the import
 * table: each folder's code may import only the folders its row names. The table is read from the
 * page itself, so the page and this check cannot drift apart.
 */
const root = new URL('..', import.meta.url).pathname;
const TOP = ['protocol', 'common', 'drivers', 'edge', 'cloud', 'provisioning', 'flows'] as const;

function importTable(): Map<string, Set<string>> {
  const page = readFileSync(join(root, 'docs/architecture.md'), 'utf8');
  const table = new Map<string, Set<string>>();
  for (const line of page.split('\n')) {
    const row = /^\| `([a-z]+)\/` \| .* \| ([^|]+) \|$/.exec(line);
    if (!row) continue;
    const allowed = new Set([...row[2]!.matchAll(/`([a-z]+)\/`/g)].map((m) => m[1]!));
    // "edge config schema": provisioning validates and rewrites the gateway's configuration.
    if (/edge config schema/.test(row[2]!)) allowed.add('edge/config');
    // "`buildEdge` (commissioning …)": the composition root itself, not the rest of edge/.
    if (/`buildEdge`/.test(row[2]!)) allowed.add('edge/runtime/gateway.ts');
    table.set(row[1]!, allowed);
  }
  return table;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sources(path);
    return /\.(ts|mjs|js)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative import specifiers of a file (static, re-exports, dynamic with a literal). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(
    /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm,
  ))
    specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs.filter((s) => s.startsWith('.'));
}

/** Which top folder (or `edge/config`) a resolved path lies in; undefined outside them. */
function folderOf(path: string): string | undefined {
  const rel = relative(root, path);
  const top = rel.split('/')[0]!;
  if (top === 'edge' && rel.startsWith('edge/config/')) return 'edge/config';
  if (rel === 'edge/runtime/gateway.js' || rel === 'edge/runtime/gateway.ts')
    return 'edge/runtime/gateway.ts';
  return (TOP as readonly string[]).includes(top) || top === 'test' || top === 'bin' ? top : undefined;
}

function offenders(table: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  for (const folder of TOP) {
    const allowed = table.get(folder);
    assert.ok(allowed, `docs/architecture.md has a row for ${folder}/`);
    for (const file of sources(join(root, folder)))
      for (const spec of importsOf(file)) {
        const target = folderOf(normalize(join(dirname(file), spec)));
        if (target === undefined || target === folder) continue;
        if (target.startsWith('edge/') && folder === 'edge') continue;
        if (allowed.has(target) || (target.startsWith('edge/') && allowed.has('edge'))) continue;
        found.push(`${relative(root, file)} imports ${spec} (${target}/ is not in its row)`);
      }
  }
  return found;
}

describe('import boundaries (docs/architecture.md, the folder table)', () => {
  it('the table names common/, which may import nothing internal and which every process may import', () => {
    const table = importTable();
    assert.deepEqual([...table.get('common')!], []);
    for (const folder of ['protocol', 'drivers', 'edge', 'cloud', 'provisioning'])
      assert.ok(table.get(folder)?.has('common'), `${folder}/ may import common/`);
    assert.deepEqual([...table.get('flows')!], []);
  });

  it('no folder imports a folder its row does not name', () => {
    assert.deepEqual(offenders(importTable()), []);
  });

  it('the check reports an import its row does not name (cloud/ with an empty row)', () => {
    const table = importTable();
    // The same rows with a forbidden edge added show as offenders once the edge is removed again.
    const strict = new Map(table);
    strict.set('cloud', new Set());
    strict.set('common', new Set());
    assert.ok(
      offenders(strict).some((o) => o.startsWith('cloud/') && o.includes('(protocol/')),
      'cloud/ importing protocol/ is reported when its row does not name protocol/',
    );
  });
});
