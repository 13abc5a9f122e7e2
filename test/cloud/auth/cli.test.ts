/**
 * `doorstep user` against a running cloud: every command once, refusals printed with the server's
 * code and exit 1, usage errors exit 2, passwords only from standard input; and the real binary
 * once, so the subcommand is wired into `doorstep`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { run } from '../../../cloud/auth/cli.js';
import {
  adminToken,
  basic,
  bearer,
  call,
  startTestCloud,
  type TestCloud,
  userToken,
} from '../http/harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('doorstep user (CLI) against a running cloud', () => {
  let t: TestCloud;
  let zjAdmin: string;
  let hmAdmin: string;
  let env: Record<string, string>;
  before(async () => {
    t = await startTestCloud();
    const admin = await adminToken(t.url);
    zjAdmin = await userToken(t.url, admin, {
      username: 'zj-admin',
      scope: 'pudong/zhangjiang',
      role: 'admin',
    });
    hmAdmin = await userToken(t.url, admin, { username: 'hm-admin', scope: 'pudong/huamu', role: 'admin' });
    await userToken(t.url, admin, { username: 'zj-duty', scope: 'pudong/zhangjiang/lane-100', role: 'duty' });
    env = { DOORSTEP_URL: t.url, DOORSTEP_TOKEN: zjAdmin };
  });
  after(() => t?.stop());

  async function cli(argv: string[], opts: { env?: Record<string, string>; stdin?: string } = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(argv, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: opts.env ?? env,
      stdinLines: async () => (opts.stdin ?? '').split('\n'),
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('lists users, lists and revokes tokens, and the revoked token stops at once', async () => {
    const list = await cli(['list']);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^zj-duty {2}duty {2}pudong\/zhangjiang\/lane-100 {2}enabled$/m);
    assert.doesNotMatch(list.out, /hm-admin/);
    const minted = await call(t.url, 'POST', '/v1/api-tokens', {
      auth: basic('zj-duty', 'zj-duty-password-123'),
      json: { label: 'cli test' },
    });
    const tokens = await cli(['tokens', 'zj-duty']);
    assert.equal(tokens.code, 0, tokens.err);
    assert.match(
      tokens.out,
      new RegExp(`^${minted.body.id} {2}ACTIVE {2}"cli test" {2}duty@pudong/zhangjiang/lane-100`, 'm'),
    );
    assert.doesNotMatch(tokens.out, /dsa_/);
    const revoked = await cli(['revoke-token', 'zj-duty', minted.body.id]);
    assert.equal(revoked.code, 0, revoked.err);
    assert.match(revoked.out, /^revoked: .* REVOKED /);
    assert.equal((await call(t.url, 'GET', '/v1/sites', { auth: bearer(minted.body.token) })).status, 401);
  });

  it('disables and enables, resets a password from stdin, ends sessions, prints the audit trail', async () => {
    const off = await cli(['disable', 'zj-duty']);
    assert.equal(off.code, 0, off.err);
    assert.match(off.out, /^disabled: zj-duty .* DISABLED/);
    assert.equal(
      (
        await call(t.url, 'POST', '/v1/api-tokens', {
          auth: basic('zj-duty', 'zj-duty-password-123'),
          json: {},
        })
      ).status,
      401,
    );
    assert.equal((await cli(['enable', 'zj-duty'])).code, 0);
    const weak = await cli(['reset-password', 'zj-duty'], { stdin: 'short\n' });
    assert.equal(weak.code, 1);
    assert.match(
      weak.err,
      /CLOUD_ERR_PASSWORD_POLICY: new password for zj-duty refused: it must be at least 12/,
    );
    const reset = await cli(['reset-password', 'zj-duty'], { stdin: 'lantern orchard 7 river\n' });
    assert.equal(reset.code, 0, reset.err);
    assert.equal(
      (
        await call(t.url, 'POST', '/v1/api-tokens', {
          auth: basic('zj-duty', 'lantern orchard 7 river'),
          json: {},
        })
      ).status,
      201,
    );
    assert.match((await cli(['end-sessions', 'zj-duty'])).out, /^zj-duty: 0 session\(s\) ended$/);
    const audit = await cli(['audit', '--user', 'zj-duty']);
    assert.equal(audit.code, 0, audit.err);
    const actions = audit.out
      .split('\n')
      .map((l) => l.split('  ')[1])
      .filter((a) => a !== 'token.created');
    assert.deepEqual(actions.slice(0, 4), [
      'sessions.ended',
      'password.reset',
      'user.enabled',
      'user.disabled',
    ]);
    assert.match(
      audit.out,
      /user\.disabled {2}zj-duty \(pudong\/zhangjiang\/lane-100\) {2}by zj-admin@127\.0\.0\.1/,
    );
  });

  it('changes one’s own password from stdin (current, then new)', async () => {
    const token = await call(t.url, 'POST', '/v1/api-tokens', {
      auth: basic('zj-duty', 'lantern orchard 7 river'),
      json: {},
    });
    const mine = { DOORSTEP_URL: t.url, DOORSTEP_TOKEN: token.body.token as string };
    const wrong = await cli(['passwd'], { env: mine, stdin: 'nope\nharbour violet 42 kite\n' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /CLOUD_ERR_PASSWORD_CURRENT/);
    const ok = await cli(['passwd'], {
      env: mine,
      stdin: 'lantern orchard 7 river\nharbour violet 42 kite\n',
    });
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^password of zj-duty changed/);
  });

  it('refusals exit 1 with the server’s code; usage errors exit 2', async () => {
    const foreign = await cli(['disable', 'zj-duty'], {
      env: { DOORSTEP_URL: t.url, DOORSTEP_TOKEN: hmAdmin },
    });
    assert.equal(foreign.code, 1);
    assert.match(
      foreign.err,
      /CLOUD_ERR_SCOPE: user zj-duty lies outside the scope pudong\/huamu \[HTTP 403\]/,
    );
    assert.equal((await cli(['disable'])).code, 2);
    assert.equal((await cli(['revoke-token', 'zj-duty'])).code, 2);
    assert.equal((await cli(['list', 'extra'])).code, 2);
    assert.equal((await cli(['frobnicate'])).code, 2);
    assert.equal((await cli(['list'], { env: {} })).code, 2);
    const empty = await cli(['reset-password', 'zj-duty'], { stdin: '' });
    assert.equal(empty.code, 2);
  });

  it('is wired into the doorstep binary', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'bin/doorstep.ts', 'user', 'list', '--url', t.url, '--token', zjAdmin],
      { cwd: root },
    );
    assert.match(stdout, /^zj-duty {2}duty/m);
  });
});
