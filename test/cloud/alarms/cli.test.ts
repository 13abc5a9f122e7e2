import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { run } from '../../../cloud/alarms/cli.js';
import { tempDir } from '../../support/tmp.js';
import {
  adminToken,
  bearer,
  call,
  enrollGateway,
  makeBatch,
  startTestCloud,
  type TestCloud,
  userToken,
} from '../http/harness.js';
import { PNG_1PX } from './helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const LANE = 'pudong/zhangjiang/lane-100';
const ID = 'gw-c-smoke-0001';

/** Runs the CLI in this process with captured output. */
async function cli(argv: string[], env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('doorstep alarm (CLI) against a running cloud', () => {
  let t: TestCloud;
  let duty: string;
  let viewer: string;
  const dir = tempDir('doorstep-alarm-cli-');
  before(async () => {
    t = await startTestCloud();
    const admin = await adminToken(t.url);
    const gw = await enrollGateway(t.url, admin, 'gw-c', LANE);
    duty = await userToken(t.url, admin, { username: 'duty-c', scope: 'pudong/zhangjiang', role: 'duty' });
    viewer = await userToken(t.url, admin, {
      username: 'viewer-c',
      scope: 'pudong/zhangjiang',
      role: 'viewer',
    });
    const batch = (batchSeq: number, state: 'raised' | 'cleared' | 'reset') =>
      makeBatch({
        gateway: 'gw-c',
        sitePath: LANE,
        batchSeq,
        firstSeq: batchSeq,
        alarms: [{ seq: batchSeq, id: ID, state }],
      });
    for (const [n, state] of [
      [1, 'raised'],
      [2, 'cleared'],
      [3, 'reset'],
    ] as const) {
      const r = await call(t.url, 'POST', '/v1/sync', { auth: bearer(gw), json: batch(n, state) });
      assert.equal(r.status, 200);
    }
  });
  after(async () => {
    await t?.stop();
    dir.dispose();
  });

  it('lists and shows cases with --url/--token or the environment', async () => {
    const list = await cli(['list', '--url', t.url, '--token', viewer]);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, new RegExp(`${ID}\\s+warn\\(预警\\)\\s+RTN_UNACK\\s+critical\\s+smoke`));
    const show = await cli(['show', ID], { DOORSTEP_URL: t.url, DOORSTEP_TOKEN: viewer });
    assert.equal(show.code, 0, show.err);
    assert.match(show.out, /audit:\n.*raised {2}gateway:gw-c/);
    const json = await cli(['list', '--json', '--closed'], { DOORSTEP_URL: t.url, DOORSTEP_TOKEN: viewer });
    assert.deepEqual(JSON.parse(json.out), { items: [] });
  });

  it("prints the server's code and message for every refusal, exit 1; wrong usage exits 2", async () => {
    const env = { DOORSTEP_URL: t.url, DOORSTEP_TOKEN: duty };
    const role = await cli(['ack', ID], { ...env, DOORSTEP_TOKEN: viewer });
    assert.equal(role.code, 1);
    assert.match(
      role.err,
      /^doorstep alarm: CLOUD_ERR_FORBIDDEN: role viewer may not ack a case \(needs duty\) \[HTTP 403\]/,
    );
    const close = await cli(['close', ID], env);
    assert.equal(close.code, 1);
    assert.match(
      close.err,
      /CLOUD_ERR_CASE_STATE: case gw-c-smoke-0001 cannot be closed: nobody acknowledged it; no feedback/,
    );
    const missing = await cli(['show', 'nope-0000'], env);
    assert.match(missing.err, /CLOUD_ERR_NOT_FOUND: no case nope-0000 \[HTTP 404\]/);
    const badField = await cli(['shelve', ID, '--reason', 'drill', '--hours', '30'], env);
    assert.equal(badField.code, 1);
    assert.match(badField.err, /CLOUD_ERR_VALIDATION: hours: .*\(field hours\)/);
    const auth = await cli(['list'], { ...env, DOORSTEP_TOKEN: 'dsa_wrong' });
    assert.match(auth.err, /CLOUD_ERR_AUTH/);
    const down = await cli(['list', '--url', 'http://127.0.0.1:1'], env);
    assert.equal(down.code, 1);
    assert.match(down.err, /CLOUD_ERR_CASE_REMOTE: cannot reach the cloud at http:\/\/127\.0\.0\.1:1/);
    for (const argv of [
      ['feedback', ID, '--note', 'x'],
      ['frobnicate', ID],
      ['ack'],
      ['list', '--bogus'],
      ['list'],
    ]) {
      const r = await cli(argv, argv[0] === 'list' && argv.length === 1 ? {} : env);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, /CLI_ERR_USAGE/);
    }
  });

  it('acks, gives feedback with a photo, shelves, silences and closes', async () => {
    const env = { DOORSTEP_URL: t.url, DOORSTEP_TOKEN: duty };
    const photo = join(dir.path, 'scene.png');
    writeFileSync(photo, Buffer.from(PNG_1PX.split(',')[1]!, 'base64'));
    assert.equal((await cli(['ack', ID], env)).code, 0);
    const fb = await cli(
      ['feedback', ID, '--cause', 'false_alarm', '--note', 'steam', '--photo', photo],
      env,
    );
    assert.equal(fb.code, 0, fb.err);
    assert.match(fb.out, /^feedback: .*feedback\(反馈\)/);
    assert.equal((await cli(['shelve', ID, '--reason', 'drill', '--hours', '2'], env)).code, 0);
    assert.equal((await cli(['silence', ID], env)).code, 0);
    assert.equal((await cli(['out-of-service', ID, '--reason', 'detector replaced'], env)).code, 0);
    const back = await cli(['return-to-service', ID], env);
    assert.equal(back.code, 0, back.err);
    assert.doesNotMatch(back.out, /OUT_OF_SERVICE/);
    const twice = await cli(['return-to-service', ID], env);
    assert.equal(twice.code, 1);
    assert.match(twice.err, /CLOUD_ERR_CASE_STATE: .*not out of service/);
    const closed = await cli(['close', ID], env);
    assert.equal(closed.code, 0, closed.err);
    assert.match(closed.out, /closed\(办结\)\s+NORMAL/);
    const shown = await call(t.url, 'GET', `/v1/cases/${ID}`, { auth: bearer(duty) });
    assert.equal(
      shown.body.audit.find((e: { action: string }) => e.action === 'ack').actor.userAgent,
      'doorstep-cli',
    );
  });

  it('runs as `doorstep alarm` in a child process with exit codes', async () => {
    const exec = promisify(execFile);
    const args = ['--import', 'tsx', 'bin/doorstep.ts', 'alarm'];
    const env = { ...process.env, DOORSTEP_URL: t.url, DOORSTEP_TOKEN: viewer };
    const ok = await exec(process.execPath, [...args, 'show', ID], { cwd: root, env });
    assert.match(ok.stdout, new RegExp(ID));
    const refused = await exec(process.execPath, [...args, 'ack', ID], { cwd: root, env }).then(
      () => assert.fail('should exit 1'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /CLOUD_ERR_FORBIDDEN/);
  });
});
