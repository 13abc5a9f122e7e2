import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeFileAtomic, writeSecretFile } from '../../common/files.js';
import { FileReadError, readYamlFile, relativeTo } from '../../common/yaml.js';
import { tempDir } from '../support/tmp.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('common/files', () => {
  const dir = tempDir();
  after(() => dir.dispose());

  it('a secret file is 0600 whatever the umask, also when it existed as 0644', () => {
    const file = join(dir.path, 'gateway.yaml');
    writeFileSync(file, 'old: 1\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    const umask = process.umask(0);
    try {
      writeSecretFile(file, 'broker:\n  password: s3cret\n');
    } finally {
      process.umask(umask);
    }
    assert.equal(mode(file), 0o600);
    assert.equal(readFileSync(file, 'utf8'), 'broker:\n  password: s3cret\n');
    writeFileAtomic(file, 'public: true\n');
    assert.equal(mode(file), 0o644, 'the mode is what the writer asks for');
    assert.deepEqual(
      readdirSync(dir.path).filter((n) => n.endsWith('.tmp')),
      [],
      'no temp file left behind',
    );
  });

  it('a failed write (no directory; a directory in the way) changes nothing and leaves no temp file', () => {
    const file = join(dir.path, 'missing-dir', 'x.yaml');
    assert.throws(() => writeSecretFile(file, 'x'), /ENOENT/);
    writeFileAtomic(join(dir.path, 'keep.txt'), 'kept');
    assert.throws(() => writeFileAtomic(dir.path, 'x'), /EISDIR|ENOTEMPTY|EEXIST|EBUSY/);
    assert.equal(readFileSync(join(dir.path, 'keep.txt'), 'utf8'), 'kept');
    assert.deepEqual(
      readdirSync(dir.path).filter((n) => n.endsWith('.tmp')),
      [],
      'the temp file of the failed rename is removed',
    );
  });
});

describe('common/yaml', () => {
  const dir = tempDir();
  after(() => dir.dispose());

  it('reads YAML (and JSON by extension) into data', () => {
    writeFileSync(join(dir.path, 'a.yaml'), 'gateway:\n  id: gw-1\n');
    writeFileSync(join(dir.path, 'b.json'), '{"id": "p"}');
    assert.deepEqual(readYamlFile(join(dir.path, 'a.yaml')), { gateway: { id: 'gw-1' } });
    assert.deepEqual(readYamlFile(join(dir.path, 'b.json'), { json: 'by-extension' }), { id: 'p' });
  });

  it('an unreadable or unparsable file is a FileReadError with a one-line reason', () => {
    const missing = join(dir.path, 'none.yaml');
    assert.throws(
      () => readYamlFile(missing),
      (e: unknown) =>
        e instanceof FileReadError && e.stage === 'read' && e.errno === 'ENOENT' && e.file === missing,
    );
    writeFileSync(join(dir.path, 'bad.yaml'), 'a: [1, 2\nb: }\n');
    assert.throws(
      () => readYamlFile(join(dir.path, 'bad.yaml')),
      (e: unknown) =>
        e instanceof FileReadError &&
        e.stage === 'parse' &&
        /^invalid YAML: /.test(e.reason) &&
        !e.reason.includes('\n'),
    );
    writeFileSync(join(dir.path, 'bad.json'), '{');
    assert.throws(
      () => readYamlFile(join(dir.path, 'bad.json'), { json: 'by-extension' }),
      (e: unknown) => e instanceof FileReadError && /^invalid JSON: /.test(e.reason),
    );
  });

  it('paths inside a file are taken relative to its directory; absolute ones are kept', () => {
    const abs = relativeTo(join(dir.path, 'etc', 'cloud.yaml'));
    assert.equal(abs('data/cloud.db'), join(dir.path, 'etc', 'data', 'cloud.db'));
    assert.equal(abs('../tls/key.pem'), join(dir.path, 'tls', 'key.pem'));
    assert.equal(abs('/var/lib/doorstep/x'), '/var/lib/doorstep/x');
  });
});
