import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DoorstepError, renderIssues } from '../../protocol/index.js';
import { CATALOGUE_DIR, catalogue } from './catalogue/index.js';
import { checkProfileFile, type LoadedProfile, readProfileFile } from './file.js';
import { parseDump, runDump } from './golden.js';
import { buildReadPlan } from './plan.js';
import { isProfilePath } from './resolve.js';
import { SKELETONS } from './skeleton.js';

const HELP = `Usage: doorstep profile <command> [options]

Device profiles as files (YAML or JSON; schema: docs/profile.schema.json).

Commands:
  check FILE...                 check profile files: every problem with its path; exit 1 if any
  test FILE|ID [--dump DUMP]    decode a register or frame dump (or MQTT messages) with a profile
                                and compare with the readings it expects; DUMP defaults to the
                                file's <name>.dump.json (built-ins: their catalogue dump)
  new [--type register|frame|mqtt] [--id ID] [-o FILE]
                                write an annotated skeleton to start from (stdout without -o)
  list                          list the built-in profiles

Options:
  -h, --help                    show this help
`;

function describe(p: LoadedProfile): string {
  switch (p.type) {
    case 'register': {
      const plan = buildReadPlan(p.profile);
      return `register profile ${p.id} v${p.version} (${p.profile.kind}): ${p.profile.points.length} point(s) in ${plan.length} read(s)${p.profile.signature ? ', with a signature' : ''}`;
    }
    case 'frame':
      return `frame profile ${p.id} v${p.version} (${p.profile.kind}): ${Object.keys(p.profile.descriptors).length} point(s), ${p.layout ? `${p.layout.codec} layout of ${p.layout.fields.length} field(s)` : 'doorstep layout'}`;
    case 'mqtt':
      return `MQTT JSON profile ${p.id} v${p.version} (${p.profile.kind}): ${p.profile.fields.length} field(s) on ${p.profile.topic}`;
  }
}

function check(files: string[]): number {
  if (files.length === 0) throw new DoorstepError('CLI_ERR_USAGE', { reason: 'profile check needs a FILE' });
  let failed = 0;
  for (const file of files) {
    const { loaded, issues } = checkProfileFile(file);
    if (loaded) process.stdout.write(`${file}: ok — ${describe(loaded)}\n`);
    else {
      failed++;
      process.stdout.write(`${file}: ${issues.length} problem(s)\n${renderIssues(issues)}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

function load(ref: string): { loaded: LoadedProfile; dumpFile: string } {
  if (!isProfilePath(ref)) {
    const loaded = catalogue.get(ref);
    if (!loaded) throw new DoorstepError('DRV_ERR_UNKNOWN_PROFILE', { profile: ref });
    return { loaded, dumpFile: `${CATALOGUE_DIR}${ref}.dump.json` };
  }
  const { loaded, issues } = checkProfileFile(ref);
  if (!loaded)
    throw new DoorstepError('DRV_ERR_PROFILE', {
      profile: ref,
      reason: `${issues.length} problem(s)\n${renderIssues(issues)}`,
    });
  return { loaded, dumpFile: ref.replace(/\.(ya?ml|json)$/i, '') + '.dump.json' };
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function test(ref: string | undefined, dumpArg: string | undefined): number {
  if (!ref)
    throw new DoorstepError('CLI_ERR_USAGE', { reason: 'profile test needs a FILE or a built-in id' });
  const { loaded, dumpFile: besides } = load(ref);
  const dumpFile = dumpArg ?? besides;
  if (!dumpArg && !existsSync(dumpFile))
    throw new DoorstepError('CLI_ERR_USAGE', { reason: `no --dump given and no ${dumpFile}` });
  const dump = parseDump(readProfileFile(dumpFile), dumpFile);
  if (dump.profile !== loaded.id)
    process.stdout.write(`note: the dump is written for "${dump.profile}", testing it with "${loaded.id}"\n`);
  const results = runDump(loaded, dump);
  let failed = 0;
  for (const r of results) {
    const ok = r.mismatches.length === 0;
    if (!ok) failed++;
    process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${r.name}\n`);
    for (const reading of r.readings)
      process.stdout.write(
        `       ${reading.point.padEnd(18)} ${show(reading.value).padStart(10)} ${reading.unit.padEnd(5)} ${reading.quality}\n`,
      );
    for (const p of r.problems) process.stdout.write(`       problem: ${p}\n`);
    for (const m of r.mismatches) process.stdout.write(`       mismatch: ${m}\n`);
  }
  process.stdout.write(
    `${loaded.id} v${loaded.version}: ${results.length - failed} of ${results.length} case(s) as expected\n`,
  );
  return failed > 0 ? 1 : 0;
}

function skeleton(type: string | undefined, id: string | undefined, out: string | undefined): number {
  const kind = (type ?? 'register') as keyof typeof SKELETONS;
  if (!Object.hasOwn(SKELETONS, kind))
    throw new DoorstepError('CLI_ERR_USAGE', {
      reason: `--type must be register, frame or mqtt, not "${type}"`,
    });
  if (id !== undefined && !/^[a-z][a-z0-9-]{0,63}$/.test(id))
    throw new DoorstepError('CLI_ERR_USAGE', {
      reason: `--id "${id}" must be a lower-case id: a-z, 0-9, "-"`,
    });
  const text = SKELETONS[kind].replace(/^id: .*$/m, `id: ${id ?? `my-${kind}-device`}`);
  if (!out) {
    process.stdout.write(text);
    return 0;
  }
  if (existsSync(out)) throw new DoorstepError('CLI_ERR_USAGE', { reason: `${out} exists; not overwritten` });
  writeFileSync(out, text, { flag: 'wx' });
  process.stdout.write(`${out} written; edit it, then: doorstep profile check ${out}\n`);
  return 0;
}

function list(): number {
  for (const p of catalogue.values())
    process.stdout.write(
      `${p.id.padEnd(28)} ${p.type.padEnd(9)} ${p.profile.kind.padEnd(15)} v${String(p.version).padEnd(3)} ${p.type === 'register' ? p.profile.title : p.profile.description}\n`,
    );
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      dump: { type: 'string' },
      type: { type: 'string' },
      id: { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
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
      return test(rest[0], values.dump);
    case 'new':
      return skeleton(values.type, values.id, values.output);
    case 'list':
      return list();
    default:
      throw new DoorstepError('CLI_ERR_USAGE', { reason: `unknown profile command "${command}"` });
  }
}
