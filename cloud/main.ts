import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DoorstepError } from '../protocol/index.js';
import { buildCloud, type CloudDeps, cloudLogger } from './build.js';
import { loadCloudConfig } from './config/load.js';
import { openCloudStore } from './store/index.js';

const HELP = `Usage: doorstep cloud --config FILE

Runs the district cloud: gateway enrolment and sync (exactly once), credentials, users and API
tokens, the scoped query API, /healthz, /metrics and /openapi.json. Prints the address it listens
on; SIGTERM or SIGINT stops it gracefully (in-flight requests finish, the store is closed).

  --config FILE   the YAML configuration (see cloud/README.md)
  -h, --help      show this help
`;

/** GB 26875.1 leaves no room for a slow restart; a stop that hangs longer is forced. */
const STOP_DEADLINE_MS = 5000;

function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new DoorstepError(
      'CFG_ERR_UNREADABLE',
      { file, reason: (error as Error).message },
      { cause: error },
    );
  }
}

function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(url)) return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  }
  return '0.0.0';
}

export async function run(argv: string[]): Promise<number> {
  let values: { config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (error) {
    throw new DoorstepError('CLI_ERR_USAGE', { reason: (error as Error).message });
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.config)
    throw new DoorstepError('CLI_ERR_USAGE', { reason: 'doorstep cloud needs --config FILE' });

  const config = loadCloudConfig(values.config);
  const logger = cloudLogger(process.env.DOORSTEP_LOG_LEVEL ?? config.log.level);
  const deps: CloudDeps = { logger, openStore: openCloudStore, version: packageVersion() };
  if (config.http.tls)
    deps.tls = { cert: readPem(config.http.tls.certFile), key: readPem(config.http.tls.keyFile) };
  if (config.feed) {
    // Loaded only when configured, so a cloud without a feed never loads zeromq's native module.
    const { ZmqFeedPublisher } = await import('./feed/index.js');
    // The publisher validates its own settings (curve keys …) and names every problem.
    deps.feed = new ZmqFeedPublisher(config.feed as ConstructorParameters<typeof ZmqFeedPublisher>[0]);
  }
  const cloud = buildCloud(config, deps);

  let stopping: Promise<number> | undefined;
  const stop = (signal: string): Promise<number> => {
    stopping ??= (async () => {
      logger.info({ signal }, 'stopping');
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_DEADLINE_MS);
      });
      const result = await Promise.race([cloud.stop().then(() => 'stopped' as const), deadline]);
      clearTimeout(timer);
      if (result === 'timeout') {
        logger.error('graceful stop took longer than 5 s; closing connections');
        cloud.app.server.closeAllConnections();
        return 1;
      }
      return 0;
    })();
    return stopping;
  };

  let url: string;
  try {
    url = await cloud.start();
  } catch (error) {
    await cloud.stop().catch(() => {});
    throw error;
  }
  process.stdout.write(`doorstep cloud listening on ${url}\n`);
  return new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      stop(signal).then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        resolve(1);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
