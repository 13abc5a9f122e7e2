/**
 * `doorstep provision …`: the installer's commands. Everything works offline except `register`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DoorstepError, formatSitePath, SitePath } from '../protocol/index.js';
import { runCommission } from './commission-cli.js';
import { flash } from './flash.js';
import { handover } from './handover.js';
import { initWorkspace } from './init.js';
import { registerGateway } from './register.js';
import { runScan } from './scan-cli.js';
import { renderFindings, validateFile, validationFailed } from './validate.js';
import { workspacePaths } from './workspace.js';

const HELP = `Usage: doorstep provision <step> [options]     (doorstep provision <step> --help)

Steps, in the order an installer takes them:
  init        create a gateway workspace: identity (Ed25519 key pair, install id), config skeleton
  scan        find the devices on an RS-485 port (bauds × parities × unit ids) and propose entries
  validate    check the configuration: every problem with its path and a hint how to fix it
  commission  read every device through the gateway's drivers and rules, walk test, report (HTML + JSON)
  handover    end commissioning: refused while a device is in alarm, offline or untested
  register    enrol with the district cloud using the town's enrolment token (needs the network)
  flash       write app, dependencies, config, credentials, systemd unit and udev rule onto a target

The workspace (--dir, default .) holds gateway.yaml, identity.json, identity.key, gateway.secret and
reports/. See provisioning/README.md.
`;

const INIT_HELP = `Usage: doorstep provision init --gateway ID --site DISTRICT/TOWN/COMMUNITY [--name NAME] [--dir DIR] [--force]

Creates the workspace DIR (default .): a fresh identity and a valid, commented gateway.yaml.
Refuses to replace an existing identity or configuration without --force.
`;

const VALIDATE_HELP = `Usage: doorstep provision validate [--dir DIR | --config FILE]

Lists every problem of the gateway configuration with its path and a hint how to fix it.
Exit code 0 when the gateway would start with every device, 1 otherwise.
`;

const REGISTER_HELP = `Usage: doorstep provision register --cloud URL --token TOKEN [--dir DIR] [--uplink-url URL] [--force]

Enrols the gateway with the district cloud (POST URL/v1/enroll) using the town's enrolment token,
stores the credential in DIR/gateway.secret (mode 0600) and writes the uplink section of
gateway.yaml. --uplink-url: the address the gateway will use, if not the one given to --cloud.
`;

const FLASH_HELP = `Usage: doorstep provision flash --target ROOT [--dir DIR] [--app APP] [--as-root PATH] [--force]

Writes onto ROOT (a mounted SD card's root filesystem, or a directory): /opt/doorstep (package.json,
bin/, dist/, production node_modules copied from APP), /etc/doorstep (gateway.yaml, identity,
manifest.json with sha256 of every file), the credential (0600), the systemd unit (enabled), a udev
rule for stable serial names, sysusers/tmpfiles entries for the doorstep user. Verifies every
checksum after writing. A second run changes nothing and says so. Refuses a target that holds
another gateway's identity without --force.

  --app APP        a built doorstep tree: package.json, bin/, dist/ (npm run build), node_modules/
                   (default: the tree this command runs from)
  --as-root PATH   where ROOT is seen when the gateway runs (default /); pass ROOT itself to run the
                   gateway in place, e.g. a bench test
`;

function appRoot(): string {
  // provisioning/cli.ts from a checkout, dist/provisioning/cli.js when built.
  const here = new URL('..', import.meta.url).pathname;
  return existsSync(join(here, 'package.json')) ? here : new URL('../..', import.meta.url).pathname;
}

function help(text: string): number {
  process.stdout.write(text);
  return 0;
}

function usage(reason: string): never {
  throw new DoorstepError('CLI_ERR_USAGE', { reason });
}

async function runInit(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      gateway: { type: 'string' },
      site: { type: 'string' },
      name: { type: 'string' },
      dir: { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return help(INIT_HELP);
  if (!values.gateway || !values.site)
    usage('provision init needs --gateway ID and --site DISTRICT/TOWN/COMMUNITY');
  const [district, town, community, ...rest] = values.site.split('/');
  const site = SitePath.safeParse({ district, town, community });
  if (!site.success || rest.length > 0)
    usage(
      `--site "${values.site}" must be district/town/community in lower-case slugs, e.g. pudong/zhangjiang/lane-100`,
    );
  const { identity, paths } = initWorkspace({
    dir: values.dir ?? '.',
    gateway: values.gateway,
    site: site.data,
    ...(values.name ? { name: values.name } : {}),
    force: values.force ?? false,
  });
  process.stdout.write(
    [
      `workspace ${paths.dir} for gateway ${identity.gateway} (${formatSitePath(identity.site)})`,
      `  identity  ${paths.identity}  key ${identity.fingerprint}, install ${identity.installId}`,
      `  config    ${paths.config}`,
      'next: provision scan --port /dev/serial/by-id/… --merge, then validate, commission, register, flash',
      '',
    ].join('\n'),
  );
  return 0;
}

function runValidate(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { dir: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return help(VALIDATE_HELP);
  const file = values.config ?? workspacePaths(values.dir ?? '.').config;
  const report = validateFile(file);
  process.stdout.write(`${renderFindings(report)}\n`);
  return validationFailed(report) ? 1 : 0;
}

const HANDOVER_HELP = `Usage: doorstep provision handover [--dir DIR] [--installer NAME] [--force --reason TEXT]

Ends commissioning: reads every device once more through the gateway's drivers and rules and
refuses, listing every reason, while any device is in alarm, offline or unreadable, or has no
passed walk test in the latest signed commissioning report. Accepted: gateway.commissioning
becomes false in gateway.yaml (flash again, or SIGHUP a running gateway) and a signed record
reports/handover-<gateway>-<time>.json is written. --force hands over anyway; it needs --reason,
which is recorded with the devices that were not ready.

  --read-timeout S   seconds to wait for a complete reading (default 10)
  --poll-ms MS       poll interval while reading (default 250)
`;

const PROBLEM_WORDS = {
  in_alarm: 'in alarm',
  offline: 'offline',
  untested: 'untested',
  invalid: 'invalid entry',
} as const;

async function runHandover(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      installer: { type: 'string' },
      force: { type: 'boolean' },
      reason: { type: 'string' },
      'read-timeout': { type: 'string' },
      'poll-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return help(HANDOVER_HELP);
  if (values.force && !values.reason?.trim())
    usage('--force needs --reason "…": why the site is handed over with devices not ready (it is recorded)');
  const number = (text: string | undefined, fallback: number, flag: string) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!(n > 0 && n <= 86_400)) usage(`${flag} "${text}" must be a number > 0`);
    return n;
  };
  const r = await handover({
    dir: values.dir ?? '.',
    force: values.force ?? false,
    ...(values.reason ? { forceReason: values.reason.trim() } : {}),
    ...(values.installer ? { installer: values.installer } : {}),
    readTimeoutMs: number(values['read-timeout'], 10, '--read-timeout') * 1000,
    pollMs: number(values['poll-ms'], 250, '--poll-ms'),
  });
  const lines = r.record.notReady.map(
    (n) =>
      `  ✗ ${n.device}  ${n.location}: ${PROBLEM_WORDS[n.problem]} — ${n.reason}${n.detail ? `: ${n.detail}` : ''}`,
  );
  if (!r.accepted) {
    process.stdout.write(`${lines.join('\n')}\n`);
    throw new DoorstepError('PROV_ERR_HANDOVER_REFUSED', {
      gateway: r.record.gateway,
      count: r.record.notReady.length,
    });
  }
  if (lines.length > 0)
    process.stdout.write(
      `handed over with ${lines.length} device(s) not ready (forced: ${r.record.forceReason}):\n${lines.join('\n')}\n`,
    );
  process.stdout.write(
    `${r.record.gateway} handed over${r.alreadyHandedOver ? ' (it already was)' : ': commissioning: false written into gateway.yaml; its alarms are real from the next flash or SIGHUP'}\nrecord: ${r.recordFile}\n`,
  );
  return 0;
}

async function runRegister(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      cloud: { type: 'string' },
      token: { type: 'string' },
      dir: { type: 'string' },
      'uplink-url': { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return help(REGISTER_HELP);
  if (!values.cloud || !values.token) usage('provision register needs --cloud URL and --token TOKEN');
  const r = await registerGateway({
    dir: values.dir ?? '.',
    cloud: values.cloud,
    token: values.token,
    ...(values['uplink-url'] ? { uplinkUrl: values['uplink-url'] } : {}),
    force: values.force ?? false,
  });
  process.stdout.write(
    `enrolled ${r.gateway}: credential ${r.credentialId} stored in ${r.secretFile} (0600); uplink ${r.uplinkUrl} written into gateway.yaml\n`,
  );
  return 0;
}

async function runFlash(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      dir: { type: 'string' },
      app: { type: 'string' },
      'as-root': { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return help(FLASH_HELP);
  if (!values.target) usage('provision flash needs --target ROOT (a mounted SD card or a directory)');
  const asRoot = values['as-root'];
  if (asRoot !== undefined && !asRoot.startsWith('/'))
    usage(`--as-root "${asRoot}" must be an absolute path`);
  process.stderr.write(`flashing ${values.target} …\n`);
  const r = await flash({
    dir: values.dir ?? '.',
    target: values.target,
    app: values.app ?? appRoot(),
    ...(asRoot ? { asRoot } : {}),
    force: values.force ?? false,
  });
  const mb = (r.bytes / 1024 / 1024).toFixed(1);
  process.stdout.write(
    r.changed
      ? `${r.target}: wrote ${r.written.length} file(s) (${mb} MB), removed ${r.removed.length}, ${r.unchanged} unchanged; verified ${r.verified} checksum(s)\n`
      : `${r.target}: nothing changed — the target already holds this bundle (${r.verified} checksum(s) verified)\n`,
  );
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const [step, ...rest] = argv;
  switch (step) {
    case 'init':
      return runInit(rest);
    case 'scan':
      return runScan(rest);
    case 'validate':
      return runValidate(rest);
    case 'commission':
      return runCommission(rest);
    case 'handover':
      return runHandover(rest);
    case 'register':
      return runRegister(rest);
    case 'flash':
      return runFlash(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP);
      return step === undefined ? 2 : 0;
    default:
      return usage(
        `unknown provision step "${step}" (init, scan, validate, commission, handover, register, flash)`,
      );
  }
}
