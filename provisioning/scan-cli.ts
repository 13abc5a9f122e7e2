import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../common/files.js';
import { visibleRegisterProfiles } from '../drivers/profiles/resolve.js';
import { DoorstepError } from '../protocol/index.js';
import { writeDump } from './dump.js';
import { formatDuration, progressWriter, renderBar } from './progress.js';
import { mergeIntoConfig, propose, renderProposal } from './proposal.js';
import { formatSettings, type Parity, parseUnits, type ScanResult, scanPort } from './scan.js';
import { workspacePaths } from './workspace.js';

export const SCAN_HELP = `Usage: doorstep provision scan --port PATH [--port PATH …] [options]

Scans RS-485 ports across baud rates, parities and unit ids, identifies each device that answers
(profile signature registers, Modbus Read Device Identification) and proposes configuration
entries. Ctrl-C stops the scan and keeps (prints, writes) what it found so far.

  --port PATH          serial adapter, e.g. /dev/serial/by-id/usb-FTDI_…-if00-port0 (repeatable)
  --bauds LIST         baud rates, most likely first (default 9600,19200)
  --parities LIST      none, even, odd (default even,none)
  --stop-bits LIST     1, 2 (default 1)
  --units LIST         unit ids and ranges, e.g. 1-32,100 (default 1-247)
  --timeout MS         reply timeout per probe (default 60 ms + a 64-byte reply's wire time)
  --profiles PATH      a register profile file, or a folder of them, to match besides the built-in
                       catalogue (repeatable); the workspace's profiles/ folder is always searched
  --out FILE           write the proposed YAML snippet to FILE
  --merge              add the proposed buses and devices to the workspace's gateway.yaml
  --dir DIR            the gateway workspace for --merge (default .)
  --progress MODE      auto, bar or plain (default auto: a bar on a terminal)
  --expect N | PATH=N  stop a port's sweep once N devices answered on it (N alone: every port;
                       PATH=N: that port; repeatable)

Ports are scanned at the same time, one prober per port (one request in flight per bus); the ETA
covers every port. Ctrl-C lists the ports whose sweep did not finish.

Exit codes: 0 devices found, 1 nothing answered, 130 interrupted (what was found is kept).
`;

function list<T>(
  text: string | undefined,
  fallback: T[],
  parse: (item: string) => T | undefined,
  flag: string,
): T[] {
  if (text === undefined) return fallback;
  const out = text.split(',').map((item) => {
    const value = parse(item.trim());
    if (value === undefined)
      throw new DoorstepError('CLI_ERR_USAGE', { reason: `${flag} "${text}": "${item}" is not allowed` });
    return value;
  });
  return out;
}

export async function runScan(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', multiple: true },
      bauds: { type: 'string' },
      parities: { type: 'string' },
      'stop-bits': { type: 'string' },
      units: { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      merge: { type: 'boolean' },
      dir: { type: 'string' },
      progress: { type: 'string' },
      profiles: { type: 'string', multiple: true },
      expect: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  // Every profile it can see: the built-ins, the workspace's profiles/ folder and --profiles.
  const visible = visibleRegisterProfiles([join(values.dir ?? '.', 'profiles'), ...(values.profiles ?? [])]);
  for (const p of visible.problems) process.stderr.write(`${p}\n`);
  if (values.help) {
    process.stdout.write(SCAN_HELP);
    return 0;
  }
  if (!values.port?.length)
    throw new DoorstepError('CLI_ERR_USAGE', {
      reason: 'provision scan needs --port PATH (the RS-485 adapter)',
    });
  const bauds = list(
    values.bauds,
    [9600, 19200],
    (b) => (/^\d+$/.test(b) && Number(b) >= 300 ? Number(b) : undefined),
    '--bauds',
  );
  const parities = list<Parity>(
    values.parities,
    ['even', 'none'],
    (p) => (['none', 'even', 'odd'].includes(p) ? (p as Parity) : undefined),
    '--parities',
  );
  const stopBits = list<1 | 2>(
    values['stop-bits'],
    [1],
    (s) => (s === '1' ? 1 : s === '2' ? 2 : undefined),
    '--stop-bits',
  );
  const units = values.units ? parseUnits(values.units) : parseUnits('1-247');
  const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutMs !== undefined && !(timeoutMs >= 10 && timeoutMs <= 5000))
    throw new DoorstepError('CLI_ERR_USAGE', { reason: `--timeout "${values.timeout}" must be 10–5000 ms` });
  const mode = values.progress ?? 'auto';
  if (!['auto', 'bar', 'plain'].includes(mode))
    throw new DoorstepError('CLI_ERR_USAGE', { reason: `--progress "${mode}" must be auto, bar or plain` });

  const expect = parseExpect(values.expect ?? [], values.port);

  const tty = mode === 'bar' || (mode === 'auto' && process.stderr.isTTY === true);
  const progress = progressWriter(process.stderr, tty);
  const controller = new AbortController();
  const onSigint = () => {
    progress.line('interrupted: finishing the probe in flight, keeping what was found');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  // One sweep per port, all at once: each port is its own bus with its own master, so invariant 1
  // (one request in flight per bus) holds while N ports take the time of the slowest, not the sum.
  const live = new Map<string, { done: number; total: number; etaMs: number; found: number; at: string }>();
  let lastDecile = -1;
  const status = (port: string) => {
    let done = 0;
    let total = 0;
    let found = 0;
    let etaMs = 0;
    for (const p of live.values()) {
      done += p.done;
      total += p.total;
      found += p.found;
      etaMs = Math.max(etaMs, p.etaMs); // ports run in parallel: the slowest one decides
    }
    const decile = total > 0 ? Math.floor((done / total) * 10) : 0;
    const milestone = decile !== lastDecile;
    lastDecile = decile;
    progress.status(
      `${renderBar(done, total)} ${done}/${total} · ${live.size > 1 ? `${live.size} ports · ` : ''}${port} ${live.get(port)?.at ?? ''} · ${found} found · ETA ${formatDuration(etaMs)}`,
      milestone,
    );
  };
  const settled = await Promise.allSettled(
    values.port.map((port) =>
      scanPort({
        port,
        bauds,
        parities,
        stopBits,
        units,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(expect.has(port) ? { expect: expect.get(port)! } : {}),
        profiles: visible.profiles,
        profileRefs: visible.refs,
        signal: controller.signal,
        onFound: (d) =>
          progress.line(
            `found unit ${d.unitId} at ${formatSettings(d.settings)} on ${port}: ${d.profile ?? 'no matching profile'}${d.matchedBy ? ` (by ${d.matchedBy})` : ''}`,
          ),
        onProgress: (p) => {
          live.set(port, {
            done: p.done,
            total: p.total,
            etaMs: p.etaMs,
            found: p.found,
            at: `${formatSettings(p.settings)} unit ${p.unitId}`,
          });
          status(port);
        },
      }).then(
        (result) => {
          const entry = live.get(port);
          // A finished (or expected-count) sweep has nothing left: its ETA is 0 from now on.
          if (entry) live.set(port, { ...entry, total: entry.done, etaMs: 0 });
          if (result.complete)
            progress.line(`${port}: ${result.found.length} expected device(s) found, sweep stopped`);
          return result;
        },
        (error: unknown) => {
          // One port failing (missing, no permission) stops the others: the installer fixes it first.
          controller.abort();
          throw error;
        },
      ),
    ),
  );
  process.off('SIGINT', onSigint);
  progress.done();
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const results: ScanResult[] = settled.map((r) => (r as PromiseFulfilledResult<ScanResult>).value);

  const interrupted = controller.signal.aborted;
  const found = results.reduce((n, r) => n + r.found.length, 0);
  const probes = results.reduce((n, r) => n + r.probes, 0);
  const header = [
    ` Proposed by \`doorstep provision scan\` on ${results.map((r) => r.port).join(', ')} at ${new Date().toISOString()}:`,
    ` ${found} device(s) found in ${probes} probe(s)${
      interrupted
        ? ` — scan INTERRUPTED, ranges not covered were not probed (not finished: ${results
            .filter((r) => !r.complete && r.probes < r.total)
            .map((r) => r.port)
            .join(', ')})`
        : ''
    }.`,
  ];
  // Units that answered but matched no profile: their register dumps go into the workspace.
  const dumpDir = join(values.dir ?? '.', 'dumps');
  const takenAt = new Date().toISOString();
  for (const r of results)
    for (const d of r.found)
      if (!d.profile && d.registers) {
        d.dumpFile = writeDump(dumpDir, {
          kind: 'doorstep-register-dump',
          version: 1,
          port: r.port,
          unitId: d.unitId,
          settings: d.settings,
          ...(d.identity ? { identity: d.identity } : {}),
          takenAt,
          ...d.registers,
        });
        const words = d.registers.blocks.reduce((n, b) => n + b.values.length, 0);
        process.stderr.write(
          `unit ${d.unitId} on ${r.port} matched no profile: ${words} register(s) saved to ${d.dumpFile}; write its profile with \`doorstep profile new --dump ${d.dumpFile}\`\n`,
        );
      }
  const proposal = propose(results);
  const snippet = renderProposal(proposal, header);
  process.stdout.write(snippet);
  for (const r of results) {
    const settings = [...new Set(r.found.map((d) => formatSettings(d.settings)))];
    if (settings.length > 1)
      process.stderr.write(
        `warning: devices on ${r.port} answer at different line settings (${settings.join(', ')}); one bus polls at one setting — set them alike\n`,
      );
    if (r.found.length === 0 && r.garbled.length > 0)
      process.stderr.write(
        `note: garbled answers on ${r.port} (${[...new Set(r.garbled.map((g) => `${g.settings} ${g.code}`))].join(', ')}): a device is there at other line settings, or the line is noisy\n`,
      );
  }
  if (values.out) writeFileAtomic(values.out, snippet);
  if (values.merge && found > 0) {
    const file = workspacePaths(values.dir ?? '.').config;
    const merged = mergeIntoConfig(file, results);
    process.stderr.write(
      `${file}: added ${merged.buses} bus(es) and ${merged.devices} device(s)${merged.unidentified ? `, ${merged.unidentified} unidentified device(s) as disabled entries` : ''}, ${merged.skipped} already configured\n`,
    );
  }
  if (interrupted) {
    const unfinished = results.filter((r) => !r.complete && r.probes < r.total);
    if (unfinished.length > 0)
      process.stderr.write(
        `ports left unscanned or partly scanned:\n${unfinished.map((r) => `  ${r.port}: ${r.probes} of ${r.total} probe(s) done${r.probes === 0 ? ' (not scanned)' : ''}`).join('\n')}\n`,
      );
    process.stderr.write(`scan interrupted after ${probes} probe(s); ${found} device(s) kept\n`);
    return 130;
  }
  if (found === 0) {
    throw new DoorstepError('PROV_ERR_NOTHING_FOUND', {
      port: values.port.join(', '),
      settings: `${bauds.join('/')} baud, parity ${parities.join('/')}`,
      units: values.units ?? '1-247',
    });
  }
  return 0;
}

/** `--expect N` (every port) and `--expect PATH=N` (one port); a path not scanned is refused. */
export function parseExpect(items: string[], ports: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) {
    const m = /^(?:(.+)=)?(\d+)$/.exec(item);
    const n = Number(m?.[2]);
    if (!m || n < 1 || n > 247)
      throw new DoorstepError('CLI_ERR_USAGE', {
        reason: `--expect "${item}" must be N or PATH=N, with N the number of devices (1–247)`,
      });
    const port = m[1];
    if (port !== undefined && !ports.includes(port))
      throw new DoorstepError('CLI_ERR_USAGE', {
        reason: `--expect "${item}" names ${port}, which is not one of the --port paths`,
      });
    for (const p of port === undefined ? ports : [port]) if (port !== undefined || !out.has(p)) out.set(p, n);
  }
  return out;
}
