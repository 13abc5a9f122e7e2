import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { DoorstepError, ERROR_CATALOGUE } from '../protocol/index.js';
import { Commissioner, type DeviceCheck } from './commission.js';
import { displayWidth, padDisplay } from './progress.js';
import { buildReport, formatValue, STATUS_MARK, writeReports } from './report.js';
import { renderFindings, validateFile } from './validate.js';
import { workspacePaths } from './workspace.js';

export const COMMISSION_HELP = `Usage: doorstep provision commission [--dir DIR | --config FILE] [options]

Reads every configured device through the gateway's own drivers and rules (in commissioning mode:
every alarm a test) and prints a table (device, kind, location, value, status); under every ✗ its
reason and a hint. A ✓ means the device reads, its own flags are clear and the gateway's rules hold
no alarm on it. With --walk-test, then waits for the installer to trigger each sensor (test button,
open the door, park over the sensor, tilt the cover) and to put it back at rest, and ticks it off
live. Writes a commissioning report (HTML + JSON). Stop doorstep-edge first on a running box: the
ports must be free. Then: doorstep provision handover.

  --dir DIR            the gateway workspace (default .): config, identity (signs the report)
  --config FILE        a gateway YAML outside a workspace (report unsigned)
  --walk-test          run the walk test after reading
  --walk-timeout S     seconds the walk test waits for all sensors (default 300)
  --read-timeout S     seconds to wait for the first complete reading (default 10)
  --poll-ms MS         poll interval while commissioning (default 250)
  --report-dir DIR     where the reports go (default DIR/reports, or next to --config)
  --installer NAME     who commissioned (printed in the report)

Exit code 0 when every device is ✓ (and passed the walk test), 1 otherwise; Ctrl-C during the walk
test writes the report with what was ticked off so far.
`;

/** The catalogue's hint for a code, when it has one (shown under the reason). */
function hintOf(code: string): string | undefined {
  return (ERROR_CATALOGUE as Record<string, { hint?: string }>)[code]?.hint;
}

/**
 * One row per device; under every ✗ (and every walk-test failure) the reason in words and the
 * catalogue's hint, so the installer needs no JSON to know what to fix.
 */
export function renderTable(checks: DeviceCheck[]): string {
  const rows = checks.map((c) => [
    c.device,
    c.kind,
    c.location,
    formatValue(c),
    `${STATUS_MARK[c.status]}${c.reason ? ` ${c.reason}` : ''}`,
  ]);
  const head = ['device', 'kind', 'location', 'value', 'status'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => displayWidth(r[i]!))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => padDisplay(c, widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [line(head), line(widths.map((w) => '─'.repeat(w)))];
  checks.forEach((c, i) => {
    out.push(line(rows[i]!));
    if (c.status === 'fail' && c.detail) {
      out.push(`    └ ${c.detail}`);
      const hint = c.reason ? hintOf(c.reason) : undefined;
      if (hint) out.push(`      hint: ${hint}`);
    }
    if (c.walk?.status === 'failed' && c.walk.detail) {
      out.push(`    └ walk test: ${c.walk.detail}`);
      const hint = c.walk.reason ? hintOf(c.walk.reason) : undefined;
      if (hint) out.push(`      hint: ${hint}`);
    }
  });
  return out.join('\n');
}

function seconds(text: string | undefined, fallback: number, flag: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!(n > 0 && n <= 86_400))
    throw new DoorstepError('CLI_ERR_USAGE', { reason: `${flag} "${text}" must be seconds > 0` });
  return n;
}

export async function runCommission(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      config: { type: 'string' },
      'walk-test': { type: 'boolean' },
      'walk-timeout': { type: 'string' },
      'read-timeout': { type: 'string' },
      'poll-ms': { type: 'string' },
      'report-dir': { type: 'string' },
      installer: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(COMMISSION_HELP);
    return 0;
  }
  const workspace = values.config ? undefined : workspacePaths(values.dir ?? '.');
  const file = values.config ?? workspace!.config;
  const validated = validateFile(file);
  if (!validated.result) {
    process.stderr.write(`${renderFindings(validated)}\n`);
    throw new DoorstepError('CFG_ERR_INVALID', {
      count: validated.findings.length,
      summary: `${file} (listed above)`,
    });
  }
  const walkTimeoutS = seconds(values['walk-timeout'], 300, '--walk-timeout');
  const readTimeoutS = seconds(values['read-timeout'], 10, '--read-timeout');
  const pollMs = seconds(values['poll-ms'], 250, '--poll-ms');
  const commissioner = new Commissioner(validated.result, {
    pollMs,
    ...(values.installer ? { installer: values.installer } : {}),
  });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.on('SIGINT', onSigint);
  let checks: DeviceCheck[];
  try {
    await commissioner.start();
    process.stderr.write(`reading ${validated.result.config.devices.length} device(s)…\n`);
    checks = await commissioner.readOnce(readTimeoutS * 1000);
    process.stdout.write(`${renderTable(checks)}\n`);
    if (values['walk-test']) {
      const pending = commissioner.pending();
      process.stdout.write(
        `\nwalk test: trigger each sensor within ${walkTimeoutS} s (Ctrl-C ends it early)\n`,
      );
      for (const p of pending) process.stdout.write(`  ○ ${p.device}  ${p.location}: ${p.action}\n`);
      checks = await commissioner.walkTest({
        timeoutMs: walkTimeoutS * 1000,
        signal: controller.signal,
        onEvent: (device, walk) => {
          const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
          if (walk.status === 'triggered') {
            process.stdout.write(
              `  ◐ ${device} triggered after ${s(walk.afterMs)} (${walk.point} = ${walk.value}) — now put it back at rest\n`,
            );
            return;
          }
          const mark = walk.status === 'passed' ? '✓' : walk.status === 'failed' ? '✗' : '–';
          const after =
            walk.status === 'passed' && walk.afterMs !== undefined
              ? ` after ${s(walk.afterMs)} (${walk.point} = ${walk.value}), at rest after ${s(walk.restAfterMs ?? walk.afterMs)}${walk.alarms?.length ? `; rules raised ${walk.alarms.join(', ')} (test)` : ''}`
              : '';
          const left = commissioner.pending().length;
          process.stdout.write(
            `  ${mark} ${device} ${walk.status}${after}${walk.reason ? ` ${walk.reason}: ${walk.detail}` : ''} — ${left} left\n`,
          );
        },
      });
      process.stdout.write(`\n${renderTable(checks)}\n`);
    }
  } finally {
    process.off('SIGINT', onSigint);
    await commissioner.stop();
  }
  const report = buildReport(validated.result.config, checks, {
    walkTest: values['walk-test'] ?? false,
    ...(values.installer ? { installer: values.installer } : {}),
    ...(workspace ? { workspace: workspace.dir } : {}),
  });
  const dir = values['report-dir'] ?? workspace?.reports ?? dirname(file);
  const written = writeReports(dir, report);
  process.stdout.write(`\nreport: ${written.html}\n        ${written.json}\n`);
  const s = report.summary;
  process.stdout.write(
    `${s.ok}/${s.devices} device(s) ✓${report.walkTest ? `, walk test ${s.walkPassed}/${s.ok} passed` : ''}\n`,
  );
  const good = s.failed === 0 && s.skipped === 0 && (!report.walkTest || s.walkPassed === s.ok);
  return good ? 0 : 1;
}
