import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { validateGatewayConfig } from '../../edge/config/load.js';
import { isDoorstepError } from '../../protocol/index.js';
import { initWorkspace } from '../../provisioning/init.js';
import { mergeIntoConfig, propose, renderProposal } from '../../provisioning/proposal.js';
import { parseUnits, type ScanResult, scanPort } from '../../provisioning/scan.js';
import { openPtyPair, type PtyPair } from '../support/pty.js';
import { tempDir } from '../support/tmp.js';
import { lineModel, runProvision } from './support.js';

const BUS_A = { baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 } as const;
const BUS_B = { baudRate: 19200, parity: 'even', dataBits: 8, stopBits: 1 } as const;

/**
 * Two RS-485 buses on socat pty pairs: 9600 8N1 with a smoke detector (unit 3) and a gas detector
 * (unit 7), and 19200 8E1 with a pressure transmitter (unit 12) and a door monitor (unit 5) whose
 * profile has no signature — it is recognised by Read Device Identification alone.
 */
describe('provision scan', () => {
  const dir = tempDir('doorstep-scan-');
  let busA: PtyPair;
  let busB: PtyPair;
  let site: RunningSimSite;
  let results: ScanResult[];

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
          devices: [
            { id: 'pressure', profile: 'pressure-int16-decimals', unitId: 12, heartbeat: false },
            { id: 'door', profile: 'door-monitor-state', unitId: 5, heartbeat: false },
          ],
        },
      ],
    });
  });

  after(async () => {
    await site?.stop();
    await busA?.close();
    await busB?.close();
    dir.dispose();
  });

  it('finds every device at its own baud rate and parity and proposes the right profiles', async () => {
    const createLink = lineModel({ [busA.a]: BUS_A, [busB.a]: BUS_B });
    const progress: number[] = [];
    results = [];
    for (const port of [busA.a, busB.a])
      results.push(
        await scanPort({
          port,
          bauds: [9600, 19200],
          parities: ['none', 'even'],
          units: parseUnits('1-14'),
          timeoutMs: 30,
          createLink,
          onProgress: (p) => progress.push(p.done),
        }),
      );
    const found = results.map((r) =>
      r.found.map(
        (d) => `${d.unitId}@${d.settings.baudRate}${d.settings.parity[0]}:${d.profile}/${d.matchedBy}`,
      ),
    );
    assert.deepEqual(found, [
      ['3@9600n:smoke-status-register/signature', '7@9600n:gas-float32-cdab/signature'],
      ['5@19200e:door-monitor-state/device-id', '12@19200e:pressure-int16-decimals/signature'],
    ]);
    assert.equal(results[0]!.probes, 4 * 14);
    assert.equal(results[0]!.interrupted, false);
    assert.equal(progress.at(-1), 4 * 14, 'progress reached the total');
    assert.equal(results[0]!.found[0]!.identity?.vendor, 'doorstep-sim');

    // The proposal is valid configuration once pasted into a gateway file.
    const proposal = propose(results);
    const snippet = parse(renderProposal(proposal, [' test'])) as { buses: unknown[]; devices: unknown[] };
    const checked = validateGatewayConfig({
      gateway: { id: 'gw-1', site: { district: 'd', town: 't', community: 'c' } },
      ...snippet,
    });
    assert.ok(checked.ok, JSON.stringify(!checked.ok && checked.issues));
    assert.equal(checked.result.disabled.length, 0);
    assert.deepEqual(
      checked.result.config.buses.map((b) =>
        b.type === 'rtu' ? `${b.id} ${b.port} ${b.baudRate} ${b.parity}` : '',
      ),
      [`rs485-1 ${busA.a} 9600 none`, `rs485-2 ${busB.a} 19200 even`],
    );
    assert.deepEqual(
      checked.result.config.devices.map((d) => `${d.id} ${d.bus} #${d.unitId} ${d.profile}`),
      [
        'smoke-3 rs485-1 #3 smoke-status-register',
        'gas-7 rs485-1 #7 gas-float32-cdab',
        'door-5 rs485-2 #5 door-monitor-state',
        'pressure-12 rs485-2 #12 pressure-int16-decimals',
      ],
    );
  });

  it('merges the proposal into a workspace configuration, keeping its comments, once', () => {
    assert.ok(results, 'the scan ran');
    const ws = join(dir.path, 'ws');
    const { paths } = initWorkspace({
      dir: ws,
      gateway: 'gw-1',
      site: { district: 'd', town: 't', community: 'c' },
    });
    chmodSync(paths.config, 0o644);
    assert.deepEqual(mergeIntoConfig(paths.config, results), {
      buses: 2,
      devices: 4,
      skipped: 0,
      unidentified: 0,
    });
    assert.deepEqual(mergeIntoConfig(paths.config, results), {
      buses: 0,
      devices: 0,
      skipped: 4,
      unidentified: 0,
    });
    assert.equal(statSync(paths.config).mode & 0o777, 0o600, 'the configuration holds passwords');
    const text = readFileSync(paths.config, 'utf8');
    assert.match(text, /# One entry per sensor/);
    assert.match(text, /# unit 3 at 9600 8N1: smoke-status-register by signature/);
    const checked = validateGatewayConfig(parse(text));
    assert.ok(checked.ok);
    assert.equal(checked.result.config.devices.length, 4);
  });

  it('Ctrl-C keeps what was found: SIGINT mid-scan prints and writes the devices seen so far', async () => {
    const out = join(dir.path, 'partial.yaml');
    let interrupted = false;
    // Bus A needs no line model here: every setting is scanned at 9600 8N1 semantics, units 1-200.
    const result = await runProvision(
      [
        'scan',
        '--port',
        busA.a,
        '--bauds',
        '9600',
        '--parities',
        'none',
        '--units',
        '1-200',
        '--timeout',
        '40',
        '--out',
        out,
        '--progress',
        'plain',
      ],
      {
        onStdout: (text, child) => {
          if (!interrupted && /found unit 7/.test(text)) {
            interrupted = true;
            child.kill('SIGINT');
          }
        },
      },
    );
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /scan interrupted after \d+ probe\(s\); 2 device\(s\) kept/);
    const probes = Number(/interrupted after (\d+)/.exec(result.stderr)![1]);
    assert.ok(probes < 200, `stopped early (${probes} probes)`);
    const snippet = parse(readFileSync(out, 'utf8')) as {
      devices: Array<{ unitId: number; profile: string }>;
    };
    assert.deepEqual(
      snippet.devices.map((d) => `${d.unitId} ${d.profile}`),
      ['3 smoke-status-register', '7 gas-float32-cdab'],
    );
    assert.match(readFileSync(out, 'utf8'), /INTERRUPTED/);
  });

  it('nothing answering is an error naming the port, settings and units', async () => {
    const result = await runProvision([
      'scan',
      '--port',
      busA.a,
      '--bauds',
      '9600',
      '--parities',
      'none',
      '--units',
      '20-23',
      '--timeout',
      '20',
    ]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /PROV_ERR_NOTHING_FOUND: nothing answered on .*9600 baud, parity none; unit ids 20-23/,
    );
    assert.match(result.stderr, /hint: Check A\/B wiring/);
  });

  it('a missing port and a port without permission are refused with their own codes', async () => {
    const missing = await runProvision(['scan', '--port', join(dir.path, 'no-such-tty'), '--units', '1']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /PROV_ERR_PORT_MISSING: serial port .*no-such-tty does not exist/);

    const locked = join(dir.path, 'locked-tty');
    writeFileSync(locked, '');
    chmodSync(locked, 0o000);
    const denied = await runProvision(['scan', '--port', locked, '--units', '1'], { unprivileged: true });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /PROV_ERR_PORT_PERMISSION: no permission to open serial port .*locked-tty/);
    assert.match(denied.stderr, /dialout/);

    const usage = await runProvision(['scan']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /CLI_ERR_USAGE: provision scan needs --port/);
  });

  it('scanPort rejects a missing port before opening anything', async () => {
    await assert.rejects(
      scanPort({ port: join(dir.path, 'nope'), bauds: [9600], parities: ['none'], units: [1] }),
      (e) => isDoorstepError(e, 'PROV_ERR_PORT_MISSING'),
    );
    assert.throws(
      () => parseUnits('0-3'),
      (e) => isDoorstepError(e, 'CLI_ERR_USAGE'),
    );
    assert.deepEqual(parseUnits('1-3,7'), [1, 2, 3, 7]);
  });
});
