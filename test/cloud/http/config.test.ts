import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkCloudConfig, loadCloudConfig } from '../../../cloud/config/load.js';
import { isDoorstepError } from '../../../protocol/index.js';
import { tempDir } from '../../support/tmp.js';

const FIXTURE = new URL('../../fixtures/cloud.yaml', import.meta.url).pathname;

describe('cloud configuration', () => {
  const dir = tempDir('doorstep-cloud-config-');
  after(() => dir.dispose());

  it('loads the fixture with defaults, resolving the SQLite path next to the file', () => {
    const c = loadCloudConfig(FIXTURE);
    assert.equal(c.district.slug, 'pudong');
    assert.equal(c.http.host, '127.0.0.1');
    assert.equal(c.http.maxInflatedBytes, 32 * 1024 * 1024);
    assert.deepEqual(c.storage, { kind: 'sqlite', path: join(FIXTURE, '..', 'cloud.db') });
    assert.equal(c.credentials.maxEnrollmentTtlHours, 720);
    assert.ok(Object.isFrozen(c.http));
  });

  it('reports every problem with its path at once', () => {
    const { issues } = checkCloudConfig({
      district: { slug: 'Pu Dong', name: '' },
      http: { port: 70000, rateLimit: { max: 0 } },
      storage: { kind: 'sqlite' },
      bootstrap: {
        admin: { username: 'admin', password: 'short' },
        sites: [
          { path: 'minhang/x', name: 'elsewhere' },
          { path: 'pudong/nowhere/lane-1', name: 'orphan' },
        ],
      },
      surprise: true,
    });
    const paths = issues.map((i) => i.path);
    for (const p of [
      'district.slug',
      'district.name',
      'http.port',
      'http.rateLimit.max',
      'storage.path',
      'bootstrap.admin.password',
      '',
    ])
      assert.ok(paths.includes(p), `expected an issue at "${p}" in ${JSON.stringify(issues)}`);
  });

  it('checks the site tree once the basics are valid', () => {
    const { issues } = checkCloudConfig({
      district: { slug: 'pudong', name: 'P' },
      http: { port: 0 },
      storage: { kind: 'memory' },
      bootstrap: {
        sites: [
          { path: 'minhang/x', name: 'elsewhere' },
          { path: 'pudong/nowhere/lane-1', name: 'orphan' },
          { path: 'pudong/a', name: 'A' },
          { path: 'pudong/a', name: 'A again' },
        ],
      },
    });
    assert.deepEqual(
      issues.map((i) => i.path),
      ['bootstrap.sites[0].path', 'bootstrap.sites[1].path', 'bootstrap.sites[3].path'],
    );
  });

  it('an invalid file is CFG_ERR_INVALID naming each path; an unreadable one CFG_ERR_UNREADABLE', () => {
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(
      bad,
      'district: { slug: pudong, name: P }\nhttp: { port: -1 }\nstorage: { kind: floppy }\n',
    );
    assert.throws(
      () => loadCloudConfig(bad),
      (e: unknown) =>
        isDoorstepError(e, 'CFG_ERR_INVALID') &&
        /http\.port/.test(e.message) &&
        /storage\.kind/.test(e.message),
    );
    assert.throws(
      () => loadCloudConfig(join(dir.path, 'missing.yaml')),
      (e: unknown) => isDoorstepError(e, 'CFG_ERR_UNREADABLE'),
    );
    const broken = join(dir.path, 'broken.yaml');
    writeFileSync(broken, 'district: [unclosed\n');
    assert.throws(
      () => loadCloudConfig(broken),
      (e: unknown) => isDoorstepError(e, 'CFG_ERR_UNREADABLE'),
    );
  });
});
