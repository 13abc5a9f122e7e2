#!/usr/bin/env node
/**
 * The one `doorstep` command. Each subcommand lives with the folder that owns it and is loaded
 * only when used, so `doorstep sim` on an installer's laptop never loads the cloud.
 */
import { DoorstepError, ERROR_CATALOGUE, isDoorstepError } from '../protocol/errors.js';

interface Subcommand {
  summary: string;
  load(): Promise<{ run(argv: string[]): Promise<number> }>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  edge: {
    summary: 'run the gateway: poll buses, decide alarms, buffer in the outbox, local broker',
    load: () => import('../edge/main.js'),
  },
  demo: {
    summary: 'run a simulated neighbourhood on this machine and print what it sees',
    load: () => import('./demo.js'),
  },
  sim: {
    summary: 'serve simulated Modbus devices over TCP or a serial port (demos, training, bench tests)',
    load: () => import('../drivers/sim/cli.js'),
  },
  profile: {
    summary: 'device profiles as files: check, test against a dump, new skeleton, list built-ins',
    load: () => import('../drivers/profiles/cli.js'),
  },
  rules: {
    summary: 'alarm rules as files: check them, replay recorded readings and print the transitions',
    load: () => import('../edge/rules/cli.js'),
  },
  poll: {
    summary: 'poll devices with a sensor profile and print decoded readings and device states',
    load: () => import('../drivers/cli-poll.js'),
  },
  modbus: {
    summary:
      "installer's tools: write a device's unit id (set-unit) or baud rate/parity (set-baud) as its profile declares",
    load: () => import('../drivers/cli-modbus.js'),
  },
  cloud: {
    summary: 'run the district cloud: enrolment, exactly-once sync, scoped query API',
    load: () => import('../cloud/main.js'),
  },
  feed: {
    summary: 'print the live tier feed of a district, town or community until Ctrl-C',
    load: () => import('../cloud/feed/cli.js'),
  },
  provision: {
    summary: 'set a gateway up on site: init, scan, validate, commission (walk test), register, flash',
    load: () => import('../provisioning/cli.js'),
  },
  alarm: {
    summary: 'list, show and act on alarm cases (ack, feedback, close, shelve, reset, silence)',
    load: () => import('../cloud/alarms/cli.js'),
  },
  user: {
    summary: 'user accounts: list, API tokens (list, revoke), disable/enable, passwords, end sessions, audit',
    load: () => import('../cloud/auth/cli.js'),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((k) => k.length));
  const lines = Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'doorstep — edge gateway runtime and cloud for neighbourhood safety networks',
    '',
    'Usage: doorstep <command> [options]',
    '       doorstep <command> --help',
    '',
    'Commands:',
    ...lines,
    '',
    'Options:',
    '  -h, --help     show this help',
    '  -v, --version  print the version',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${usage()}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === '-v' || command === '--version') {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL(await packageJsonPath(), import.meta.url), 'utf8')) as {
      version: string;
    };
    process.stdout.write(`doorstep ${pkg.version}\n`);
    return 0;
  }
  const sub = SUBCOMMANDS[command];
  if (!sub) throw new DoorstepError('CLI_ERR_USAGE', { reason: `unknown command "${command}"` });
  const mod = await sub.load();
  return mod.run(rest);
}

/** package.json sits two levels up when built into dist/bin, one level up when run from source. */
async function packageJsonPath(): Promise<string> {
  const { existsSync } = await import('node:fs');
  return existsSync(new URL('../package.json', import.meta.url)) ? '../package.json' : '../../package.json';
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (isDoorstepError(error)) {
      process.stderr.write(
        `doorstep: ${error.code}: ${error.message}\n  hint: ${ERROR_CATALOGUE[error.code].hint}\n`,
      );
      process.exitCode = error.code === 'CLI_ERR_USAGE' ? 2 : 1;
    } else {
      process.stderr.write(
        `doorstep: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
