#!/usr/bin/env node
// Runs every benchmark under test/bench (files ending in .bench.ts), one child process each, and
// prints a summary of figures against targets. Benchmarks never fail the build on a miss: a miss is
// reported as MISS and the exit code stays 0 unless a benchmark crashed.
// Usage: node scripts/run-bench.mjs [substring-filter ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'test', 'bench');
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
let crashed = 0;
const results = [];
for (const file of files) {
  console.log(`\n=== ${file} ===`);
  // A benchmark may ask for the node flags production runs with: `// bench-node-flags: …` on line 1.
  const flags =
    /^\/\/ bench-node-flags: (.*)$/m.exec(readFileSync(join(dir, file), 'utf8'))?.[1]?.split(' ') ?? [];
  if (flags.length > 0) console.log(`(node ${flags.join(' ')})`);
  const run = spawnSync(process.execPath, [...flags, '--import', 'tsx', '--expose-gc', join(dir, file)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  process.stdout.write(run.stdout ?? '');
  for (const line of (run.stdout ?? '').split('\n')) {
    if (line.startsWith('RESULT ')) results.push(JSON.parse(line.slice(7)));
    if (line.startsWith('INFO ')) results.push({ ...JSON.parse(line.slice(5)), info: true });
  }
  if (run.status !== 0) {
    crashed++;
    console.log(`!!! ${file} exited with ${run.status ?? run.signal}`);
  }
}
console.log('\n=== summary ===');
for (const r of results) {
  if (r.info) {
    console.log(`info ${r.name}: ${r.value} ${r.unit} (no target)`);
    continue;
  }
  const verdict = r.ok ? 'ok  ' : 'MISS';
  console.log(`${verdict} ${r.name}: ${r.value} ${r.unit} (target ${r.comparator} ${r.target} ${r.unit})`);
}
process.exit(crashed > 0 ? 1 : 0);
