import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { parseExpect } from '../../provisioning/scan-cli.js';
import { openPtyPair, type PtyPair } from '../support/pty.js';
import { runProvision } from './support.js';

/**
 * Issue 16: ports are scanned in parallel (one prober per port), a port's sweep stops once its
 * expected devices answered, the ETA covers every port and Ctrl-C names the ports not finished.
 * Two pty buses served by doorstep's simulator: A with units 3 and 7, B with unit 5.
 */
describe('provision scan over several ports', () => {
  let busA: PtyPair;
  let busB: PtyPair;
  let site: RunningSimSite;

  before(async () => {
    busA = await openPtyPair();
    busB = await openPtyPair();
    site = await startSimSite({
      rtu: [
        {
          name: 'a',
          path: busA.b,
          devices: [
            { id: 'smoke', profile: 'smoke-status-register', unitId: 3, heartbeat: false },
            { id: 'gas', profile: 'gas-float32-cdab', unitId: 7, heartbeat: false },
          ],
        },
        {
          name: 'b',
          path: busB.b,
          devices: [{ id: 'pressure', profile: 'pressure-int16-decimals', unitId: 5, heartbeat: false }],
        },
      ],
    });
  });

  after(async () => {
    await site?.stop();
    await busA?.close();
    await busB?.close();
  });

  it('--expect: N for every port, PATH=N for one; bad values are refused naming them', () => {
    assert.deepEqual(
      [...parseExpect(['2', '/dev/b=1'], ['/dev/a', '/dev/b'])],
      [
        ['/dev/a', 2],
        ['/dev/b', 1],
      ],
    );
    assert.deepEqual([...parseExpect(['/dev/b=1', '3'], ['/dev/a', '/dev/b'])].sort(), [
      ['/dev/a', 3],
      ['/dev/b', 1],
    ]);
    assert.throws(() => parseExpect(['0'], ['/dev/a']), /--expect "0" must be N or PATH=N/);
    assert.throws(
      () => parseExpect(['/dev/c=1'], ['/dev/a']),
      /names \/dev\/c, which is not one of the --port/,
    );
  });

  it("stops each port's sweep once its expected devices answered", async () => {
    const result = await runProvision([
      'scan',
      '--port',
      busA.a,
      '--port',
      busB.a,
      '--bauds',
      '9600',
      '--parities',
      'none',
      '--units',
      '1-60',
      '--timeout',
      '100',
      '--expect',
      `${busA.a}=2`,
      '--expect',
      `${busB.a}=1`,
      '--progress',
      'plain',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`${busA.a}: 2 expected device\\(s\\) found, sweep stopped`));
    assert.match(result.stderr, new RegExp(`${busB.a}: 1 expected device\\(s\\) found, sweep stopped`));
    // Units 1–7 on A and 1–5 on B: nothing probed after the last expected device.
    assert.match(result.stdout, /3 device\(s\) found in 12 probe\(s\)\./);
  });

  it('scans the ports at the same time, with one ETA over both; Ctrl-C lists the ports not finished', async () => {
    let interrupted = false;
    const result = await runProvision(
      [
        'scan',
        '--port',
        busA.a,
        '--port',
        busB.a,
        '--bauds',
        '9600',
        '--parities',
        'none',
        '--timeout',
        '60',
        '--progress',
        'bar',
      ],
      {
        onStdout: (text, child) => {
          // Both ports have found a device while each has more than 200 unit ids left: only a
          // parallel scan gets here (one after the other, B starts after A's 247 probes).
          if (!interrupted && /found unit 7 .* on /.test(text) && /found unit 5 .* on /.test(text)) {
            interrupted = true;
            child.kill('SIGINT');
          }
        },
      },
    );
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /\d+\/494 · 2 ports · /);
    assert.match(result.stderr, /ports left unscanned or partly scanned:/);
    for (const port of [busA.a, busB.a])
      assert.match(result.stderr, new RegExp(`  ${port}: \\d+ of 247 probe\\(s\\) done`));
    assert.match(result.stderr, /scan interrupted after \d+ probe\(s\); 3 device\(s\) kept/);
    assert.match(result.stdout, /INTERRUPTED, ranges not covered were not probed \(not finished: .+, .+\)/);
  });
});
