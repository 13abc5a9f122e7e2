/**
 * The console's compressed copies (cloud/console/assets.ts) live in a directory per cloud process;
 * one whose process was killed (SIGKILL, a crash) is swept when a cloud next starts, so crashes do
 * not pile directories up in /tmp. Copies of live processes and directories not made by a cloud
 * are left alone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { prepareAssets } from '../../cloud/console/assets.js';
import { tempDir } from '../support/tmp.js';

describe('console asset copies', () => {
  const dir = tempDir('doorstep-assets-');
  after(() => dir.dispose());

  it('sweeps the copies of dead cloud processes and keeps the others', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    assert.ok(deadPid, 'a process that has exited');
    const make = (name: string, owner?: number) => {
      const path = join(dir.path, `doorstep-console-files-${name}`);
      mkdirSync(path);
      writeFileSync(join(path, 'app.js'), '// old copy');
      if (owner !== undefined) writeFileSync(join(path, 'owner.pid'), String(owner));
      return path;
    };
    const dead = make('dead', deadPid);
    const live = make('live', process.pid);
    const foreign = make('foreign');

    const assets = await prepareAssets(undefined, dir.path);
    assert.equal(existsSync(dead), false, 'the dead process’s copy is gone');
    assert.equal(existsSync(live), true, 'a live process’s copy stays');
    assert.equal(existsSync(foreign), true, 'a directory without an owner stays');
    assert.ok(assets.files.has('app.js'));
    const made = readdirSync(assets.root);
    for (const file of ['app.js', 'app.js.gz', 'app.js.br', 'owner.pid'])
      assert.ok(made.includes(file), file);

    await assets.remove();
    assert.equal(existsSync(assets.root), false, 'its own copy removed on close');
  });
});
