import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? jsFiles(path) : name.endsWith('.js') ? [path] : [];
  });
}

/** What `npm run build` emits is what a gateway box runs: Node 20, production dependencies only. */
describe('npm run build', () => {
  it('emits JavaScript whose imports are all builtins, relative files or production dependencies', async () => {
    await run('npm', ['run', 'build'], { cwd: root, env: { ...process.env, npm_config_loglevel: 'error' } });
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const allowed = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(builtinModules);
    const files = jsFiles(join(root, 'dist'));
    assert.ok(files.length > 20, `dist has ${files.length} files`);
    const offenders: string[] = [];
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(
        /(?:^|\s)(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
      )) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!allowed.has(name) && !builtins.has(name))
          offenders.push(`${file.slice(root.length)} imports ${spec}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('the built CLI runs: --help, --version and sim --list-profiles', async () => {
    const cli = join(root, 'bin/doorstep.js');
    const help = await run(process.execPath, [cli, '--help']);
    assert.match(help.stdout, /Usage: doorstep <command>/);
    assert.match(help.stdout, /\bsim\b/);
    const version = await run(process.execPath, [cli, '--version']);
    assert.match(version.stdout, /^doorstep \d+\.\d+\.\d+/);
    const profiles = await run(process.execPath, [cli, 'sim', '--list-profiles']);
    assert.match(profiles.stdout, /gas-float32-cdab/);
  });

  it('the built password pool finds its worker file beside it and checks passwords on it', async () => {
    // Plain node, no tsx: what `doorstep cloud` (systemd) runs. The worker is loaded by file name
    // at run time, so only a real run shows it was shipped.
    const pool = join(root, 'dist/common/password-pool.js');
    const password = join(root, 'dist/common/password.js');
    const script = `
      const { PasswordPool } = await import(${JSON.stringify(pool)});
      const { hashPassword } = await import(${JSON.stringify(password)});
      const p = new PasswordPool({ threads: 1, maxQueue: 1 });
      const h = await hashPassword('pw', { N: 1024, r: 8, p: 1 });
      console.log(await p.verify('pw', h), await p.verify('nope', h));
      await p.close();`;
    const out = await run(process.execPath, ['--input-type=module', '-e', script]);
    assert.equal(out.stdout.trim(), 'true false');
  });

  it('an unknown command is a usage error with a hint, exit code 2', async () => {
    const cli = join(root, 'bin/doorstep.js');
    await assert.rejects(
      run(process.execPath, [cli, 'frobnicate']),
      (e: { code?: number; stderr?: string }) => {
        assert.equal(e.code, 2);
        assert.match(e.stderr ?? '', /CLI_ERR_USAGE: unknown command "frobnicate"/);
        assert.match(e.stderr ?? '', /hint: Run `doorstep --help`/);
        return true;
      },
    );
  });
});
