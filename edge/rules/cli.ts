/**
 * `doorstep rules`: what an integrator runs before deploying a rule file (edge/rules/README.md).
 * `check` validates rule files (every problem with its path); `test` replays recorded readings
 * through the real engine on virtual time and prints every transition it decides.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { VirtualAction, VirtualTimeScheduler } from 'rxjs';
import type { AlarmTransition } from '../../protocol/alarm.js';
import { DoorstepError } from '../../protocol/errors.js';
import type { Reading, ReadingValue } from '../../protocol/reading.js';
import { RuleEngine } from './engine/engine.js';
import { createAlarmIdFactory } from './engine/ids.js';
import { assertNoFileProblems, parseRuleFile } from './file.js';
import type { RuleSpec } from './spec.js';

const HELP = `Usage: doorstep rules <command> [options]

Alarm rules as files (YAML; schema: docs/rule.schema.json).

Commands:
  check FILE...                     check rule files: every problem with its path; exit 1 if any
  test --rules FILE --readings CSV  replay recorded readings through the engine on virtual time
                                    and print every transition (raised, cleared, reset)

Options of test:
  --kind KIND         sensor kind of the CSV's devices (default: the kind of the file's rules)
  --param NAME=VALUE  replace a parameter of the file (repeatable)
  --until MS|ISO      keep the clock running to this time after the last reading (timers fire)
  -h, --help          show this help

The CSV has a header naming at least ts, device, point and value (quality optional: good, bad,
uncertain). ts is epoch milliseconds or an ISO 8601 time; value true/false, a number or text.
`;

function check(files: string[]): number {
  if (files.length === 0) throw new DoorstepError('CLI_ERR_USAGE', { reason: 'rules check needs a FILE' });
  let failed = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new DoorstepError('CFG_ERR_UNREADABLE', { file, reason: (error as Error).message });
    }
    const parsed = parseRuleFile(text);
    if (parsed.problems.length === 0) {
      const types = parsed.parsed.map((r) => `${r.type} (${r.kind}, ${r.severity})`).join(', ');
      process.stdout.write(`${file}: ok — ${parsed.parsed.length} rule(s): ${types}\n`);
    } else {
      failed++;
      process.stdout.write(
        `${file}: ${parsed.problems.length} problem(s)\n${parsed.problems
          .map((p) => `  - ${p.path || '(file)'}: ${p.message}`)
          .join('\n')}\n`,
      );
    }
  }
  return failed > 0 ? 1 : 0;
}

function parseTime(text: string, where: string): number {
  const trimmed = text.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) : Date.parse(trimmed);
  if (!Number.isFinite(ms))
    throw new DoorstepError('CLI_ERR_USAGE', {
      reason: `${where}: "${text}" is not epoch ms or an ISO time`,
    });
  return ms;
}

function parseValue(text: string): ReadingValue {
  const trimmed = text.trim();
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (trimmed !== '' && Number.isFinite(Number(trimmed))) return Number(trimmed);
  return trimmed;
}

/** Readings of a CSV file, in file order; every malformed line is reported by number. */
export function parseReadingsCsv(text: string, file: string): Reading[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#'));
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  const column = (name: string) => header.indexOf(name);
  const missing = ['ts', 'device', 'point', 'value'].filter((name) => column(name) < 0);
  if (missing.length > 0)
    throw new DoorstepError('CLI_ERR_USAGE', {
      reason: `${file}: the header must name ts, device, point and value (missing: ${missing.join(', ')})`,
    });
  const quality = column('quality');
  const problems: string[] = [];
  const readings: Reading[] = [];
  lines.forEach((line, index) => {
    const cells = line.split(',');
    const where = `${file} line ${index + 2}`;
    try {
      const q = quality >= 0 ? (cells[quality]?.trim() ?? 'good') : 'good';
      if (q !== 'good' && q !== 'bad' && q !== 'uncertain')
        throw new Error(`quality "${q}" is not good, bad or uncertain`);
      const device = cells[column('device')]?.trim() ?? '';
      const point = cells[column('point')]?.trim() ?? '';
      if (device === '' || point === '') throw new Error('device and point must not be empty');
      readings.push({
        ts: parseTime(cells[column('ts')] ?? '', where),
        device,
        point,
        value: parseValue(cells[column('value')] ?? ''),
        unit: '',
        quality: q,
      });
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
    }
  });
  if (problems.length > 0) throw new DoorstepError('CLI_ERR_USAGE', { reason: problems.join('; ') });
  return readings;
}

function formatTime(ts: number): string {
  return ts >= 1e11 ? new Date(ts).toISOString() : `${ts} ms`;
}

export function formatTransition(t: AlarmTransition): string {
  const sources = t.sources && t.sources.length > 0 ? ` [${t.sources.join(', ')}]` : '';
  const value = t.value !== undefined ? ` value ${String(t.value)}` : '';
  const message = t.message !== undefined ? ` — ${t.message}` : '';
  return `${formatTime(t.ts)}  ${t.device}  ${t.type}  ${t.state}  ${t.severity}${sources}${value}${message}`;
}

/** Replays `readings` through the engine with `rules` on virtual time; returns the transitions. */
export function replay(
  rules: readonly RuleSpec[],
  readings: readonly Reading[],
  options: { kind?: string; until?: number } = {},
): AlarmTransition[] {
  const kind = options.kind ?? rules.find((r) => r.kind !== 'any')?.kind;
  const devices = [...new Set(readings.map((r) => r.device))];
  const applicable = rules.filter((r) => r.kind === 'any' || kind === undefined || r.kind === kind);
  const entries = devices.map((device) => ({
    device,
    // A confirmation without named devices is confirmed by the file's other devices.
    rules: applicable.map((rule) =>
      rule.confirmWith && rule.confirmWith.devices === undefined
        ? { ...rule, confirmWith: { ...rule.confirmWith, devices: devices.filter((d) => d !== device) } }
        : rule,
    ),
  }));
  const sorted = [...readings].sort((a, b) => a.ts - b.ts);
  const start = sorted[0]?.ts ?? 0;
  const clock = new VirtualTimeScheduler(VirtualAction, Number.POSITIVE_INFINITY);
  clock.frame = start;
  const advanceTo = (at: number) => {
    clock.maxFrames = at;
    clock.flush();
    clock.frame = at;
  };
  const engine = new RuleEngine({
    gateway: 'rules-test',
    devices: entries,
    scheduler: clock,
    newId: createAlarmIdFactory('rules-test', 'test'),
  });
  const out: AlarmTransition[] = [];
  const subscription = engine.transitions.subscribe((t) => out.push(t));
  engine.start();
  try {
    for (let i = 0; i < sorted.length; ) {
      const ts = sorted[i]!.ts;
      const batch: Reading[] = [];
      while (i < sorted.length && sorted[i]!.ts === ts) batch.push(sorted[i++]!);
      advanceTo(ts);
      engine.ingest(batch);
    }
    if (options.until !== undefined && options.until > clock.now()) advanceTo(options.until);
  } finally {
    subscription.unsubscribe();
    engine.stop();
  }
  return out;
}

function test(values: {
  rules?: string;
  readings?: string;
  kind?: string;
  param?: string[];
  until?: string;
}): number {
  if (!values.rules || !values.readings)
    throw new DoorstepError('CLI_ERR_USAGE', { reason: 'rules test needs --rules FILE and --readings CSV' });
  const params: Record<string, number> = {};
  for (const pair of values.param ?? []) {
    const [name, figure] = pair.split('=');
    if (!name || figure === undefined || !Number.isFinite(Number(figure)))
      throw new DoorstepError('CLI_ERR_USAGE', { reason: `--param "${pair}" must be NAME=NUMBER` });
    params[name] = Number(figure);
  }
  let ruleText: string;
  let csv: string;
  try {
    ruleText = readFileSync(values.rules, 'utf8');
    csv = readFileSync(values.readings, 'utf8');
  } catch (error) {
    throw new DoorstepError('CFG_ERR_UNREADABLE', {
      file: `${values.rules} / ${values.readings}`,
      reason: (error as Error).message,
    });
  }
  const parsed = parseRuleFile(ruleText, params);
  assertNoFileProblems(values.rules, parsed.problems);
  const readings = parseReadingsCsv(csv, values.readings);
  const options: { kind?: string; until?: number } = {};
  if (values.kind !== undefined) options.kind = values.kind;
  if (values.until !== undefined) options.until = parseTime(values.until, '--until');
  const transitions = replay(parsed.parsed, readings, options);
  for (const t of transitions) process.stdout.write(`${formatTransition(t)}\n`);
  process.stdout.write(`${readings.length} reading(s), ${transitions.length} transition(s)\n`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      rules: { type: 'string' },
      readings: { type: 'string' },
      kind: { type: 'string' },
      param: { type: 'string', multiple: true },
      until: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(HELP);
    return command === undefined && !values.help ? 2 : 0;
  }
  switch (command) {
    case 'check':
      return check(rest);
    case 'test':
      return test(values);
    default:
      throw new DoorstepError('CLI_ERR_USAGE', {
        reason: `unknown rules command "${command}" (check, test)`,
      });
  }
}
