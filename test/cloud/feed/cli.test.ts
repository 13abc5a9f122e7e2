import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { run } from '../../../cloud/feed/cli.js';
import { formatFeedLine } from '../../../cloud/feed/format.js';
import { ZmqFeedPublisher } from '../../../cloud/feed/publisher.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import { feedMessage } from './helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const children: ChildProcess[] = [];
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Runs `doorstep feed …` as a real child process and collects its output lines. */
function doorstepFeed(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/doorstep.ts', 'feed', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const out = { lines: [] as string[], stderr: '' };
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    out.lines.push(...parts);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out.stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out, exited };
}

describe('doorstep feed (CLI)', () => {
  it("prints its scope's alarms as lines and not another scope's, and exits 0 on Ctrl-C", async () => {
    const pub = new ZmqFeedPublisher({ plaintextLoopback: true });
    await pub.start();
    cleanups.push(() => pub.stop());
    const cli = doorstepFeed(['--endpoint', pub.endpoint, '--scope', 'pudong/zhang', '--kind', 'alarm']);
    let exited = false;
    cli.exited.then(() => {
      exited = true;
    });
    const mine = (n: number) =>
      feedMessage('alarm', 'pudong/zhang/c1', { type: 'gas_high', state: 'raised', value: 52.5, n }, 'gw-7');
    // The prefix trap: `pudong/zhangjiang` starts with `pudong/zhang`.
    const theirs = feedMessage(
      'alarm',
      'pudong/zhangjiang/lane-100',
      { type: 'smoke', state: 'raised' },
      'gw-9',
    );
    const notAlarm = feedMessage('case', 'pudong/zhang/c1', { stage: 'remind' }, 'gw-7');

    // Until the child's subscription reaches the publisher, PUB sends to nobody: repeat (paced,
    // not timed) until the first alarm line shows up.
    const first = mine(1);
    while (!cli.out.lines.some((l) => l.includes('n=1'))) {
      assert.ok(!exited, `doorstep feed exited early: ${cli.out.stderr}`);
      pub.publish(theirs);
      pub.publish(notAlarm);
      pub.publish(first);
      await sleep(50);
    }
    // Once subscribed, order per connection is kept: anything wrongly delivered would come first.
    pub.publish(theirs);
    pub.publish(notAlarm);
    pub.publish(mine(2));
    while (!cli.out.lines.some((l) => l.includes('n=2'))) {
      assert.ok(!exited, `doorstep feed exited early: ${cli.out.stderr}`);
      await sleep(20);
    }
    assert.ok(cli.out.lines.includes(formatFeedLine(first)), cli.out.lines.join('\n'));
    assert.match(
      formatFeedLine(first),
      /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}alarm {4}pudong\/zhang\/c1 {2}gw-7 {2}type=gas_high state=raised value=52\.5 n=1$/,
    );
    for (const line of cli.out.lines) {
      assert.ok(!line.includes('zhangjiang'), `another scope leaked: ${line}`);
      assert.ok(!line.includes(' case '), `a filtered kind leaked: ${line}`);
      assert.ok(line.includes('pudong/zhang/c1  gw-7  type=gas_high'), line);
    }
    cli.child.kill('SIGINT');
    assert.equal(await cli.exited, 0, cli.out.stderr);
  });

  it('--json prints the message bodies', async () => {
    const pub = new ZmqFeedPublisher({ plaintextLoopback: true });
    await pub.start();
    cleanups.push(() => pub.stop());
    const cli = doorstepFeed(['--endpoint', pub.endpoint, '--scope', 'pudong', '--json']);
    const msg = feedMessage('device', 'pudong/zhang/c1', { device: 'smoke-1', state: 'offline' });
    while (cli.out.lines.length === 0) {
      assert.equal(cli.child.exitCode, null, cli.out.stderr);
      pub.publish(msg);
      await sleep(50);
    }
    assert.deepEqual(JSON.parse(cli.out.lines[0] ?? ''), msg);
    cli.child.kill('SIGINT');
    assert.equal(await cli.exited, 0);
  });

  it('a bad scope or endpoint is a usage error (exit 2, CLI_ERR_USAGE)', async () => {
    const cli = doorstepFeed(['--endpoint', 'tcp://127.0.0.1:5555', '--scope', 'Pudong/Zhang']);
    assert.equal(await cli.exited, 2);
    assert.match(cli.out.stderr, /CLI_ERR_USAGE: --scope "Pudong\/Zhang" must be district/);

    const usage = (e: unknown) => isDoorstepError(e, 'CLI_ERR_USAGE');
    await assert.rejects(run(['--scope', 'pudong']), usage);
    await assert.rejects(run(['--endpoint', 'tcp://127.0.0.1:*', '--scope', 'pudong']), usage);
    await assert.rejects(run(['--endpoint', 'http://host:1', '--scope', 'pudong']), usage);
    await assert.rejects(run(['--endpoint', 'tcp://127.0.0.1:1']), usage);
    await assert.rejects(run(['--endpoint', 'tcp://127.0.0.1:1', '--scope', 'a/b/c/d']), usage);
    await assert.rejects(
      run(['--endpoint', 'tcp://127.0.0.1:1', '--scope', 'a', '--kind', 'alarm,weather']),
      usage,
    );
    await assert.rejects(
      run(['--endpoint', 'tcp://127.0.0.1:1', '--scope', 'a', '--server-key', 'short']),
      usage,
    );
    await assert.rejects(run(['--endpoint', 'tcp://127.0.0.1:1', '--scope', 'a', '--bogus']), usage);
  });
});
