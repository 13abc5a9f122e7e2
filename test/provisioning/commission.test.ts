import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { Commissioner } from '../../provisioning/commission.js';
import type { HandoverRecord } from '../../provisioning/handover.js';
import { initWorkspace } from '../../provisioning/init.js';
import type { CommissioningReport } from '../../provisioning/report.js';
import { validateFile } from '../../provisioning/validate.js';
import { readIdentity, verifyPayload } from '../../provisioning/workspace.js';
import { openPtyPair, type PtyPair } from '../support/pty.js';
import { tempDir } from '../support/tmp.js';
import { runProvision } from './support.js';

const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

/**
 * A site as an installer meets it: an RS-485 bus (socat pty, 9600 8N1) with a smoke detector, a
 * gas detector, a door contact and a configured unit that is not there; a Modbus TCP concentrator
 * with a geomagnetic parking sensor and a manhole cover monitor whose fault bit is set.
 */
describe('provision commission', () => {
  const dir = tempDir('doorstep-commission-');
  let bus: PtyPair;
  let site: RunningSimSite;
  let ws: string;

  before(async () => {
    bus = await openPtyPair();
    site = await startSimSite({
      rtu: [
        {
          name: 'a',
          path: bus.b,
          devices: [
            { id: 'smoke-3', profile: 'smoke-status-register', unitId: 3, heartbeat: false },
            { id: 'gas-7', profile: 'gas-float32-cdab', unitId: 7, heartbeat: false },
            { id: 'door-4', profile: 'door-di-module', unitId: 4, heartbeat: false },
          ],
        },
      ],
      tcp: [
        {
          name: 'lane',
          devices: [
            { id: 'lane-car', profile: 'geomagnetic-parking', unitId: 1, heartbeat: false },
            { id: 'manhole', profile: 'manhole-tilt', unitId: 2, heartbeat: false },
            { id: 'riser', profile: 'pressure-int16-decimals', unitId: 3, heartbeat: false },
          ],
        },
      ],
    });
    site.devices.get('manhole')!.set({ fault: true });
    // A healthy transmitter on a dry riser: its own flags are clear, the gateway's rules are not.
    site.devices.get('riser')!.set({ pressure: 0.02 });
    ws = join(dir.path, 'ws');
    initWorkspace({ dir: ws, gateway: 'gw-lane-100', site: SITE, name: '100 弄' });
    const port = site.tcp[0]!.port;
    const rtu = (id: string, profile: string, unitId: number, location: string) => ({
      id,
      bus: 'rs485-1',
      profile,
      unitId,
      location,
    });
    const tcp = (id: string, profile: string, unitId: number, location: string) => ({
      id,
      bus: 'lan',
      profile,
      unitId,
      host: '127.0.0.1',
      port,
      location,
    });
    writeFileSync(
      join(ws, 'gateway.yaml'),
      `# 100 弄 — wired by 王师傅\n${stringify({
        gateway: { id: 'gw-lane-100', site: SITE, commissioning: true },
        buses: [
          {
            id: 'rs485-1',
            type: 'rtu',
            port: bus.a,
            baudRate: 9600,
            parity: 'none',
            timeoutMs: 100,
            retries: 0,
          },
          { id: 'lan', type: 'tcp', timeoutMs: 200, retries: 0 },
        ],
        devices: [
          rtu('smoke-3', 'smoke-status-register', 3, '3号楼2单元 楼道'),
          rtu('gas-7', 'gas-float32-cdab', 7, '社区食堂 厨房'),
          rtu('door-4', 'door-di-module', 4, '配电间 门'),
          rtu('smoke-9', 'smoke-status-register', 9, '5号楼 楼道'),
          tcp('lane-car', 'geomagnetic-parking', 1, '消防通道 北口'),
          tcp('manhole', 'manhole-tilt', 2, '北门 井盖'),
          tcp('riser', 'pressure-int16-decimals', 3, '2号楼 消防立管'),
        ],
      })}`,
    );
  });

  after(async () => {
    await site?.stop();
    await bus?.close();
    dir.dispose();
  });

  it('reads every device once, ticks sensors off as they are triggered, and writes a signed report', async () => {
    const triggered: string[] = [];
    const set = (device: string, values: Record<string, boolean | number>) => () =>
      site.devices.get(device)!.set(values);
    const script: Array<[RegExp, () => void]> = [
      [/○ smoke-3/, set('smoke-3', { smoke: true })],
      [/◐ smoke-3 triggered/, set('smoke-3', { smoke: false })],
      [/✓ smoke-3 passed/, set('door-4', { door_open: true })],
      [/◐ door-4 triggered/, set('door-4', { door_open: false })],
      [/✓ door-4 passed/, set('lane-car', { vehicle_present: true })],
      // The car stays parked over the sensor: triggered, never back at rest.
      // gas-7 is never given test gas: it must fail the walk test with its reason code.
    ];
    const result = await runProvision(
      [
        'commission',
        '--dir',
        ws,
        '--walk-test',
        '--walk-timeout',
        '6',
        '--poll-ms',
        '100',
        '--read-timeout',
        '5',
        '--installer',
        '王师傅',
      ],
      {
        onStdout: (text) => {
          for (const [pattern, act] of script)
            if (!triggered.includes(pattern.source) && pattern.test(text)) {
              triggered.push(pattern.source);
              act();
            }
        },
      },
    );
    const out = result.stdout;
    assert.equal(result.code, 1, `${out}\n${result.stderr}`); // an absent unit and a faulty device
    // The table: one row per device with its value and status.
    assert.match(out, /device\s+kind\s+location\s+value\s+status/);
    assert.match(out, /smoke-3\s+smoke\s+3号楼2单元 楼道\s+smoke no\s+✓/);
    assert.match(out, /gas-7\s+gas\s+社区食堂 厨房\s+gas 0 %LEL\s+✓/);
    assert.match(
      out,
      /smoke-9\s+smoke\s+5号楼 楼道\s+–\s+✗ DRV_ERR_TIMEOUT\n\s+└ no reply from .*\n\s+hint: Check wiring/,
    );
    assert.match(
      out,
      /manhole\s+geomagnetic\/manhole_tilt\s+北门 井盖\s+tilt 0\.4 °\s+✗ PROV_ERR_DEVICE_FAULT\n\s+└ manhole reports a fault/,
    );
    // Its own flags are clear; the gateway's rules would raise pressure_low_low (below 0.07 MPa).
    assert.match(
      out,
      /riser\s+water_pressure\s+2号楼 消防立管\s+pressure 0\.02 MPa\s+✗ PROV_ERR_ALARM_OPEN\n\s+└ riser: the gateway's rules hold .*pressure_low_low/,
    );
    // Live ticks: triggered, then back at rest; the latched smoke alarm was raised as a test.
    assert.match(out, /◐ smoke-3 triggered after [\d.]+ s \(smoke = true\)/);
    assert.match(
      out,
      /✓ smoke-3 passed after [\d.]+ s \(smoke = true\), at rest after [\d.]+ s; rules raised smoke/,
    );
    assert.match(out, /✓ door-4 passed after [\d.]+ s \(door_open = true\), at rest after/);
    // The car never left: triggered but not at rest. gas-7 was never triggered.
    assert.match(out, /◐ lane-car triggered/);
    assert.match(
      out,
      /✗ lane-car failed PROV_ERR_NOT_AT_REST: lane-car was triggered \(vehicle_present = true\) but not back at rest/,
    );
    assert.match(out, /✗ gas-7 failed PROV_ERR_WALK_TIMEOUT/);
    assert.match(out, /└ walk test: gas-7 was not triggered within 6 s/);
    assert.match(out, /4\/7 device\(s\) ✓, walk test 2\/4 passed/);

    const files = readdirSync(join(ws, 'reports'));
    const json = files.find((f) => f.endsWith('.json'))!;
    const html = files.find((f) => f.endsWith('.html'))!;
    assert.ok(json && html, files.join(', '));
    const report = JSON.parse(readFileSync(join(ws, 'reports', json), 'utf8')) as CommissioningReport;
    assert.equal(report.gateway, 'gw-lane-100');
    assert.equal(report.site, 'pudong/zhangjiang/lane-100');
    assert.equal(report.installer, '王师傅');
    assert.deepEqual(report.summary, {
      devices: 7,
      ok: 4,
      failed: 3,
      skipped: 0,
      walkPassed: 2,
      walkFailed: 2,
    });
    const byId = new Map(report.devices.map((d) => [d.device, d]));
    assert.equal(byId.get('smoke-9')!.reason, 'DRV_ERR_TIMEOUT');
    assert.equal(byId.get('smoke-9')!.walk?.status, 'skipped');
    assert.match(byId.get('manhole')!.detail!, /manhole reports a fault/);
    assert.equal(byId.get('gas-7')!.walk?.reason, 'PROV_ERR_WALK_TIMEOUT');
    assert.equal(byId.get('smoke-3')!.walk?.point, 'smoke');
    assert.deepEqual(byId.get('smoke-3')!.walk?.alarms, ['smoke']);
    assert.equal(byId.get('lane-car')!.walk?.reason, 'PROV_ERR_NOT_AT_REST');
    assert.equal(byId.get('riser')!.reason, 'PROV_ERR_ALARM_OPEN');
    assert.ok(byId.get('riser')!.alarms?.some((a) => a.type === 'pressure_low_low'));
    assert.equal(byId.get('door-4')!.readings.tamper, false);
    // Signed with the workspace's gateway key: the town can check the report came from this box.
    const { signature, ...unsigned } = report;
    assert.ok(verifyPayload(readIdentity(ws).publicKey, unsigned, signature!), 'signature verifies');
    assert.ok(
      !verifyPayload(readIdentity(ws).publicKey, { ...unsigned, installer: 'someone else' }, signature!),
    );

    const page = readFileSync(join(ws, 'reports', html), 'utf8');
    assert.match(page, /<h1>Commissioning report — gw-lane-100<\/h1>/);
    assert.match(page, /<tr class="fail"><td>smoke-9<\/td>.*<code>DRV_ERR_TIMEOUT<\/code>/);
    assert.match(page, /<td>3号楼2单元 楼道<\/td>.*✓ passed after/);
    assert.match(page, /4 ✓<\/b>, 3 ✗/);
  });

  it('a walk test interrupted (Ctrl-C) keeps what was ticked off and marks the rest not tested', async () => {
    site.devices.get('smoke-3')!.set({ smoke: false });
    site.devices.get('door-4')!.set({ door_open: false });
    site.devices.get('lane-car')!.set({ vehicle_present: false });
    const loaded = validateFile(join(ws, 'gateway.yaml')).result!;
    const commissioner = new Commissioner(loaded, { pollMs: 100 });
    try {
      await commissioner.start();
      const read = await commissioner.readOnce(5000);
      assert.deepEqual(
        read.filter((c) => c.status === 'ok').map((c) => c.device),
        ['smoke-3', 'gas-7', 'door-4', 'lane-car'],
      );
      assert.equal(read.find((c) => c.device === 'riser')!.reason, 'PROV_ERR_ALARM_OPEN');
      assert.deepEqual(read.find((c) => c.device === 'smoke-3')!.alarms, undefined);
      const controller = new AbortController();
      const events: string[] = [];
      const walking = commissioner.walkTest({
        timeoutMs: 60_000,
        signal: controller.signal,
        onEvent: (device, walk) => {
          events.push(`${device}:${walk.status}`);
          if (device === 'gas-7' && walk.status === 'triggered') site.devices.get('gas-7')!.set({ gas: 0 });
          if (device === 'gas-7' && walk.status === 'passed') controller.abort();
        },
      });
      site.devices.get('gas-7')!.set({ gas: 30 }); // test gas: 30 %LEL
      const checks = await walking;
      assert.deepEqual(events.slice(0, 2), ['gas-7:triggered', 'gas-7:passed']);
      const gas = checks.find((c) => c.device === 'gas-7')!;
      assert.equal(gas.walk?.point, 'gas');
      assert.equal(gas.walk?.value, 30);
      assert.equal(checks.find((c) => c.device === 'smoke-3')!.walk?.status, 'skipped');
      assert.match(checks.find((c) => c.device === 'smoke-3')!.walk!.detail!, /interrupted/);
    } finally {
      await commissioner.stop();
      site.devices.get('gas-7')!.set({ gas: 0 });
    }
  });

  it('an invalid configuration is refused with every problem, its path and a hint', async () => {
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(
      bad,
      stringify({
        gateway: { id: 'GW 1', site: SITE },
        buses: [{ id: 'rs485-1', type: 'rtu', port: '/dev/ttyUSB0', baudRate: 9600, parit: 'none' }],
      }),
    );
    const result = await runProvision(['commission', '--config', bad]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /✗ gateway\.id: must be a lower-case slug/);
    assert.match(result.stderr, /hint: Use lower-case letters/);
    assert.match(result.stderr, /✗ buses\[0\]: Unrecognized key: "parit"/);
    assert.match(result.stderr, /CFG_ERR_INVALID/);
  });

  it('refuses the handover with every reason while devices are in alarm, offline or untested', async () => {
    const before = readFileSync(join(ws, 'gateway.yaml'), 'utf8');
    const result = await runProvision(['handover', '--dir', ws, '--poll-ms', '100', '--read-timeout', '5']);
    assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
    const out = result.stdout;
    assert.match(out, /✗ riser\s+2号楼 消防立管: in alarm — PROV_ERR_ALARM_OPEN: .*pressure_low_low/);
    assert.match(out, /✗ manhole\s+北门 井盖: in alarm — PROV_ERR_DEVICE_FAULT: manhole reports a fault/);
    assert.match(out, /✗ smoke-9\s+5号楼 楼道: offline — DRV_ERR_TIMEOUT/);
    assert.match(out, /✗ gas-7\s+社区食堂 厨房: untested — PROV_ERR_WALK_TIMEOUT/);
    assert.match(out, /✗ lane-car\s+消防通道 北口: untested — PROV_ERR_NOT_AT_REST/);
    assert.doesNotMatch(out, /✗ smoke-3|✗ door-4/);
    assert.match(
      result.stderr,
      /PROV_ERR_HANDOVER_REFUSED: handover of gw-lane-100 refused: 5 device\(s\) not ready/,
    );
    assert.equal(readFileSync(join(ws, 'gateway.yaml'), 'utf8'), before, 'nothing changed');
    assert.ok(!readdirSync(join(ws, 'reports')).some((f) => f.startsWith('handover-')));

    const unreasoned = await runProvision(['handover', '--dir', ws, '--force']);
    assert.equal(unreasoned.code, 2);
    assert.match(unreasoned.stderr, /CLI_ERR_USAGE: .*--force needs --reason/);
  });

  it('after fixing and a full walk test, hands over (forced for the absent unit, reason recorded)', async () => {
    site.devices.get('riser')!.set({ pressure: 0.35 });
    site.devices.get('manhole')!.set({ fault: false });
    const set = (device: string, values: Record<string, boolean | number>) => () =>
      site.devices.get(device)!.set(values);
    const script: Array<[RegExp, () => void]> = [
      [/○ smoke-3/, set('smoke-3', { smoke: true })],
      [/◐ smoke-3 triggered/, set('smoke-3', { smoke: false })],
      [/○ gas-7/, set('gas-7', { gas: 30 })],
      [/◐ gas-7 triggered/, set('gas-7', { gas: 0 })],
      [/○ door-4/, set('door-4', { door_open: true })],
      [/◐ door-4 triggered/, set('door-4', { door_open: false })],
      [/○ lane-car/, set('lane-car', { vehicle_present: true })],
      [/◐ lane-car triggered/, set('lane-car', { vehicle_present: false })],
      [/○ manhole/, set('manhole', { cover_open: true })],
      [/◐ manhole triggered/, set('manhole', { cover_open: false })],
      [/○ riser/, set('riser', { pressure: 0.25 })],
      [/◐ riser triggered/, set('riser', { pressure: 0.35 })],
    ];
    const done: string[] = [];
    const walk = await runProvision(
      [
        'commission',
        '--dir',
        ws,
        '--walk-test',
        '--walk-timeout',
        '30',
        '--poll-ms',
        '100',
        '--read-timeout',
        '5',
      ],
      {
        onStdout: (text) => {
          for (const [pattern, act] of script)
            if (!done.includes(pattern.source) && pattern.test(text)) {
              done.push(pattern.source);
              act();
            }
        },
      },
    );
    assert.match(walk.stdout, /6\/7 device\(s\) ✓, walk test 6\/6 passed/, walk.stdout);

    const refused = await runProvision(['handover', '--dir', ws, '--poll-ms', '100', '--read-timeout', '5']);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stdout, /✗ smoke-9\s+5号楼 楼道: offline/);
    assert.doesNotMatch(refused.stdout, /✗ (smoke-3|gas-7|door-4|lane-car|manhole|riser)\b/);

    const forced = await runProvision([
      'handover',
      '--dir',
      ws,
      '--poll-ms',
      '100',
      '--read-timeout',
      '5',
      '--installer',
      '王师傅',
      '--force',
      '--reason',
      '5号楼 detector not yet mounted; tracked as job 1432',
    ]);
    assert.equal(forced.code, 0, `${forced.stdout}\n${forced.stderr}`);
    assert.match(
      forced.stdout,
      /handed over with 1 device\(s\) not ready \(forced: 5号楼 detector not yet mounted/,
    );
    const yaml = readFileSync(join(ws, 'gateway.yaml'), 'utf8');
    assert.match(yaml, /^# 100 弄 — wired by 王师傅/, 'comments kept');
    assert.match(yaml, /commissioning: false/);
    assert.equal(statSync(join(ws, 'gateway.yaml')).mode & 0o777, 0o600, 'rewritten owner-only');
    assert.equal(validateFile(join(ws, 'gateway.yaml')).result!.config.gateway.commissioning, false);
    const recordFile = readdirSync(join(ws, 'reports')).find((f) => f.startsWith('handover-'))!;
    const record = JSON.parse(readFileSync(join(ws, 'reports', recordFile), 'utf8')) as HandoverRecord;
    assert.equal(record.forced, true);
    assert.equal(record.installer, '王师傅');
    assert.match(record.forceReason!, /job 1432/);
    assert.deepEqual(
      record.notReady.map((n) => [n.device, n.problem]),
      [['smoke-9', 'offline']],
    );
    const { signature, ...unsigned } = record;
    assert.ok(verifyPayload(readIdentity(ws).publicKey, unsigned, signature!), 'record signed');
  });
});
