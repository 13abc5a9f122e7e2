import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { initWorkspace } from '../../provisioning/init.js';
import { freePort } from '../support/net.js';
import { api, type DoorstepProcess, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { runProvision } from './support.js';

const ADMIN: [string, string] = ['admin', 'correct horse battery'];

/**
 * `provision register` against a real `doorstep cloud` (SQLite): every way an enrolment is refused
 * has its own code from the cloud and its own words and hint on the installer's terminal, and none
 * of them changes the workspace or spends the token.
 */
describe('provision register: why an enrolment was refused', () => {
  const dir = tempDir('doorstep-enrol-');
  let cloud: DoorstepProcess;
  let cloudUrl = '';
  let adminToken = '';

  const token = async (scope: string, ttlHours = 1, uses = 1) => {
    const e = await api<{ token: string }>(cloudUrl, 'POST', '/v1/enrollment-tokens', {
      token: adminToken,
      json: { scope, uses, ttlHours },
    });
    assert.equal(e.status, 201, JSON.stringify(e.body));
    return e.body.token;
  };
  const workspace = (name: string, gateway: string, community = 'lane-100') => {
    const ws = join(dir.path, name);
    initWorkspace({ dir: ws, gateway, site: { district: 'pudong', town: 'zhangjiang', community } });
    return ws;
  };
  const register = (ws: string, t: string) =>
    runProvision(['register', '--dir', ws, '--cloud', cloudUrl, '--token', t]);
  const unchanged = (ws: string, before: string) => {
    assert.equal(existsSync(join(ws, 'gateway.secret')), false);
    assert.equal(readFileSync(join(ws, 'gateway.yaml'), 'utf8'), before);
  };

  before(async () => {
    const port = await freePort();
    cloudUrl = `http://127.0.0.1:${port}`;
    const config = join(dir.path, 'cloud.yaml');
    writeFileSync(
      config,
      stringify({
        district: { slug: 'pudong', name: '浦东新区' },
        http: { host: '127.0.0.1', port },
        storage: { kind: 'sqlite', path: join(dir.path, 'cloud.db') },
        bootstrap: {
          admin: { username: ADMIN[0], password: ADMIN[1] },
          sites: [
            { path: 'pudong/zhangjiang', name: '张江镇' },
            { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
            { path: 'pudong/zhangjiang/lane-200', name: '200 弄' },
          ],
        },
        log: { level: 'warn' },
      }),
    );
    cloud = startDoorstep(['cloud', '--config', config]);
    await cloud.waitFor(/doorstep cloud listening on /);
    const t = await api<{ token: string }>(cloudUrl, 'POST', '/v1/api-tokens', { basic: ADMIN, json: {} });
    adminToken = t.body.token;
  });

  after(async () => {
    await cloud?.stop('SIGKILL');
    dir.dispose();
  });

  it('wrong, expired, used up, out of scope, id taken and unknown community each say what to do', async () => {
    const ws = workspace('a', 'gw-a');
    const before = readFileSync(join(ws, 'gateway.yaml'), 'utf8');

    const wrong = await register(ws, 'dse_pudong.zhangjiang.not-a-token');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /PROV_ERR_ENROLL_TOKEN: 注册码无效.*\(CLOUD_ERR_ENROLL_TOKEN\)/);
    assert.match(wrong.stderr, /hint: 核对注册码有无抄错/);
    unchanged(ws, before);

    const shortLived = await token('pudong/zhangjiang', 0.0003); // about a second
    await new Promise((r) => setTimeout(r, 2000));
    const expired = await register(ws, shortLived);
    assert.equal(expired.code, 1);
    assert.match(
      expired.stderr,
      /PROV_ERR_ENROLL_EXPIRED: 注册码已过期（\d{4}-\d\d-\d\d \d\d:\d\d）\/ the enrolment token expired at .* \(Asia\/Shanghai\)/,
    );
    assert.match(expired.stderr, /hint: 请街镇分中心重新签发/);
    unchanged(ws, before);

    const outside = await register(ws, await token('pudong/zhangjiang/lane-200'));
    assert.equal(outside.code, 1);
    assert.match(
      outside.stderr,
      /PROV_ERR_ENROLL_SCOPE: 站点 pudong\/zhangjiang\/lane-100 不在注册码的范围 pudong\/zhangjiang\/lane-200 内/,
    );

    const once = await token('pudong/zhangjiang');
    const ok = await register(ws, once);
    assert.equal(ok.code, 0, ok.stderr);

    const other = workspace('b', 'gw-b');
    const usedUp = await register(other, once);
    assert.equal(usedUp.code, 1);
    assert.match(usedUp.stderr, /PROV_ERR_ENROLL_USED_UP: 注册码已用完/);

    const twin = workspace('c', 'gw-a');
    const taken = await register(twin, await token('pudong/zhangjiang'));
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /PROV_ERR_ENROLL_TAKEN: 网关编号 gw-a 已在平台注册/);

    const nowhere = workspace('d', 'gw-d', 'lane-999');
    const unknown = await register(nowhere, await token('pudong/zhangjiang'));
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /PROV_ERR_ENROLL_SITE_UNKNOWN: 社区 pudong\/zhangjiang\/lane-999 未在平台登记/,
    );
  });
});
