import { execFile } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/log.js';
import { DoorstepError, isDoorstepError } from '../protocol/index.js';
import { inspectGatewayConfig, loadGatewayConfig } from './config/load.js';
import { buildEdge, type EdgeExtension } from './runtime/gateway.js';
import { plaintextUplinkWarning, uplinkExtension } from './runtime/uplink-extension.js';

const HELP = `Usage: doorstep edge --config FILE [--check]

Runs the gateway: polls the configured buses, decides alarms locally, keeps everything in the
outbox until the cloud has it, serves the local MQTT broker and the health endpoint.

  --config FILE   the gateway's YAML configuration (see README "Gateway configuration")
  --check         validate the configuration, print every problem with its path, and exit
                  (1 when there is any: schema, device entries, rule overrides)
  -h, --help      show this help

Signals: SIGHUP reloads the configuration without losing buffered data or alarm state;
SIGTERM/SIGINT stop within 5 s.
`;

const STOP_BUDGET_MS = 5000;

/** systemd's sd_notify through the systemd-notify tool (Node has no unix datagram sockets). */
function sdNotify(...assignments: string[]): void {
  if (!process.env.NOTIFY_SOCKET) return;
  execFile('systemd-notify', assignments, () => undefined);
}

/**
 * `--check`: every problem of the file in one pass — schema, device entries, actions, rule
 * overrides against the packs and the standards' legal ranges, unknown alarm types — and exit 1 on
 * any of them, even those the gateway would run with (a disabled device, a pack default kept).
 */
function check(file: string): number {
  const result = inspectGatewayConfig(file);
  const out: string[] = [];
  for (const issue of result.fatal) out.push(`✗ ${issue.path || '(root)'}: ${issue.message}`);
  for (const d of result.disabled)
    for (const issue of d.issues) out.push(`✗ ${issue.path}: ${issue.message} (device ${d.device} disabled)`);
  for (const issue of result.ruleProblems) out.push(`✗ ${issue.path}: ${issue.message}`);
  const total = out.length;
  // Warnings: the gateway runs as configured, but someone should look (they do not fail the check).
  const uplink = result.result?.config.uplink;
  const plaintext = uplink ? plaintextUplinkWarning(uplink) : undefined;
  if (plaintext)
    out.push(
      `⚠ uplink.url: ${plaintext.message} (${plaintext.code}; uplink.allowPlaintext: true silences it)`,
    );
  const counts = `${result.fatal.length} fatal, ${result.disabled.length} device entr(ies) disabled, ${result.ruleProblems.length} rule override problem(s)`;
  out.push(
    result.result
      ? `${file}: ${total === 0 ? 'valid' : `${total} problem(s) (${counts})`} — ${result.result.config.devices.length} device(s) would run`
      : `${file}: ${total} problem(s) (${counts}); the gateway would refuse to start`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
  return total > 0 ? 1 : 0;
}

export async function run(argv: string[], extensions: EdgeExtension[] = []): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      check: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.config)
    throw new DoorstepError('CLI_ERR_USAGE', { reason: 'doorstep edge needs --config FILE' });
  const file = values.config;
  if (values.check) return check(file);
  const loaded = loadGatewayConfig(file);

  const logger = createLogger({ name: 'doorstep-edge', level: loaded.config.log.level });
  const withUplink = loaded.config.uplink
    ? [...extensions, uplinkExtension(loaded.config.uplink, loaded.config, logger)]
    : extensions;
  // The modem watches the alarms the uplink may not deliver (edge/modem/README.md).
  const modem = loaded.config.modem?.enabled
    ? [(await import('./modem/index.js')).modemExtension(loaded.config.modem, loaded.config, logger)]
    : [];
  // Node-RED last: started after everything local, stopped first (flows/README.md).
  const nodeRed = loaded.config.nodeRed?.enabled
    ? [(await import('./runtime/node-red.js')).nodeRedExtension(loaded.config.nodeRed, loaded.config, logger)]
    : [];
  const edge = buildEdge(loaded, { logger, extensions: [...withUplink, ...modem, ...nodeRed] });
  await edge.start();
  const health = edge.healthAddress();
  const broker = edge.brokerAddress();
  process.stderr.write(
    `doorstep edge ${edge.gatewayId} running; health http://${health?.host}:${health?.port}/health` +
      `${broker ? `, MQTT ${broker.host}:${broker.port}` : ''}\n`,
  );
  sdNotify('--ready', `--status=polling ${loaded.config.devices.length} device(s)`);

  // Watchdog: ping at half the interval systemd asks for, only while the gateway is healthy enough
  // to be worth keeping (a stalled bus makes systemd restart us).
  const watchdogUsec = Number(process.env.WATCHDOG_USEC ?? 0);
  const watchdog =
    watchdogUsec > 0
      ? setInterval(() => {
          const h = edge.health();
          if (!h.problems.some((p) => p.includes('stalled'))) sdNotify('WATCHDOG=1');
        }, watchdogUsec / 2000)
      : undefined;

  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      try {
        await edge.reload(loadGatewayConfig(file));
      } catch (error) {
        // A broken file on reload keeps the running configuration: nothing changes.
        logger.error(
          { err: isDoorstepError(error) ? error.toJSON() : error },
          'reload refused; configuration unchanged',
        );
      }
    });
  });

  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  if (watchdog) clearInterval(watchdog);
  sdNotify('STOPPING=1');
  await reloading;
  const stopped = edge.stop().then(() => true);
  const timedOut = new Promise<boolean>((resolve) =>
    setTimeout(() => resolve(false), STOP_BUDGET_MS).unref(),
  );
  if (!(await Promise.race([stopped, timedOut]))) {
    logger.error('stop took longer than 5 s; exiting anyway (the outbox is safe on disk)');
    return 1;
  }
  return 0;
}
