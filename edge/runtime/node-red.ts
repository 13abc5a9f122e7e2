import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { delayAfterFailuresMs } from '../../common/backoff.js';
import { writeSecretFile } from '../../common/files.js';
import type { Logger } from '../../common/log.js';
import { verifyPassword } from '../../common/password.js';
import { DoorstepError } from '../../protocol/errors.js';
import type { NodeRedConfig, ParsedGatewayConfig } from '../config/schema.js';
import type { Edge, EdgeExtension } from './gateway.js';

// flows/ sits two levels up from edge/runtime in the sources and in dist/ alike (scripts/build.mjs
// copies its .js/.json/.html files).
const FLOWS_DIR = fileURLToPath(new URL('../../flows/', import.meta.url));
export const NODE_RED_LAUNCHER = join(FLOWS_DIR, 'runtime', 'launch.js');
export const SHIPPED_FLOWS_DIR = join(FLOWS_DIR, 'shipped');

export interface NodeRedSupervisorOptions {
  /** Restart backoff: first delay, cap, and how long a run must last for the delay to start over. */
  restart?: { initialMs?: number; maxMs?: number; stableMs?: number };
  /** How long Node-RED may take to report ready before it is killed and started again. */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL (the gateway's whole stop budget is 5 s). */
  stopTimeoutMs?: number;
}

/**
 * Where the gateway writes Node-RED's start options when systemd runs it (`supervisor: systemd`):
 * doorstep-node-red.service loads this file as a systemd credential (LoadCredential=), so Node-RED's
 * user never needs read access to the gateway's files.
 */
export function nodeRedStartFile(dataDir: string): string {
  return join(dataDir, 'node-red', 'start.json');
}

export interface NodeRedHealth {
  enabled: true;
  /** Who starts and restarts it: the gateway (`child`) or doorstep-node-red.service (`systemd`). */
  supervisor: 'child' | 'systemd';
  /** Absent with `supervisor: systemd` (ask `systemctl status doorstep-node-red`), unless its options could not be written. */
  running?: boolean;
  /** With `supervisor: systemd`: the start options written for the unit. */
  startFile?: string;
  pid?: number;
  /** Times the supervisor started it again after it died (not counting the first start). */
  restarts: number;
  /** Resident set size of the child (Linux /proc), bytes. */
  rssBytes?: number;
  heapMb: number;
  url?: string;
  startedAt?: number;
  lastExit?: { code: number | null; signal: string | null; at: number };
  /** Why it is not running (configuration or start failure), when it is not. */
  problem?: string;
}

export interface NodeRedExtension extends EdgeExtension {
  health(): NodeRedHealth;
  /** Where the editor listens once Node-RED reported ready. */
  address(): { host: string; port: number } | undefined;
}

/** The shipped flows (flows/shipped/*.json, in file-name order) as one Node-RED flow array. */
export function shippedFlows(dir = SHIPPED_FLOWS_DIR): Record<string, unknown>[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>[]);
}

/** A bcrypt hash for `nodeRed.adminPasswordHash`, with the bcryptjs Node-RED itself ships and checks with. */
export function hashAdminPassword(plain: string, cost = 10): string {
  if (!plain) throw new DoorstepError('EDGE_ERR_NODERED_CONFIG', { reason: 'the admin password is empty' });
  const fromNodeRed = createRequire(createRequire(import.meta.url).resolve('node-red/package.json'));
  const bcrypt = fromNodeRed('bcryptjs') as { hashSync(s: string, rounds: number): string };
  return bcrypt.hashSync(plain, cost);
}

function rssOf(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined; // not Linux, or the process just went away
  }
}

/** Read the credential secret, or make one (once: a new secret would orphan flows_cred.json). */
function credentialSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  writeSecretFile(file, `${secret}\n`);
  return secret;
}

/** Node-RED's log line "6 Jan 12:00:00 - [warn] …" → our level. */
function levelOf(line: string): 'error' | 'warn' | 'info' {
  if (/ - \[(error|fatal)\]/.test(line)) return 'error';
  if (/ - \[warn\]/.test(line)) return 'warn';
  return 'info';
}

/**
 * Node-RED as a supervised child process of the gateway (an EdgeExtension, started after
 * everything local and stopped first). `node --max-old-space-size=heapMb flows/runtime/launch.js`
 * embeds Node-RED with a generated settings object; when it dies it is started again with
 * exponential backoff. It reaches the gateway only over the local broker, as `brokerUser`, so a
 * broken flow can neither block acquisition nor bypass the broker's ACL.
 */
export function nodeRedExtension(
  config: NodeRedConfig,
  gateway: Pick<ParsedGatewayConfig, 'gateway' | 'storage' | 'broker' | 'log'>,
  logger: Logger,
  options: NodeRedSupervisorOptions = {},
): NodeRedExtension {
  const log = logger.child({ component: 'node-red' });
  const initialMs = options.restart?.initialMs ?? 1000;
  const maxMs = options.restart?.maxMs ?? 60_000;
  const stableMs = options.restart?.stableMs ?? 60_000;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 3000;

  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  let failures = 0;
  let readyAt: number | undefined;
  let address: { host: string; port: number } | undefined;
  let lastExit: NodeRedHealth['lastExit'];
  let problem: string | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let startOptions: Record<string, unknown> | undefined;
  let startFile: string | undefined;

  const fail = (reason: string) => {
    const error = new DoorstepError('EDGE_ERR_NODERED_CONFIG', { reason });
    problem = error.message;
    log.error({ code: error.code, hint: error.hint }, error.message);
  };

  /** Checks what Node-RED needs from the gateway and prepares its userDir; undefined when it cannot run. */
  async function prepare(edge: Edge): Promise<Record<string, unknown> | undefined> {
    const broker = edge.brokerAddress();
    const user = gateway.broker?.users.find((u) => u.username === config.brokerUser);
    if (!broker || !gateway.broker) return void fail('the gateway has no local broker (`broker` section)');
    if (!user) return void fail(`broker.users has no user "${config.brokerUser}" (nodeRed.brokerUser)`);
    if (!config.brokerPassword || !(await verifyPassword(config.brokerPassword, user.passwordHash)))
      return void fail(
        `nodeRed.brokerPassword does not match the passwordHash of broker user "${user.username}"`,
      );
    if (!config.adminPasswordHash) return void fail('nodeRed.adminPasswordHash is missing');
    const userDir = join(gateway.storage.dataDir, 'node-red');
    mkdirSync(userDir, { recursive: true, mode: 0o700 });
    const flowFile = config.flowsFile ?? join(userDir, 'flows.json');
    try {
      // Under systemd the launcher seeds the flows file in its own state directory.
      if (config.supervisor !== 'systemd' && !existsSync(flowFile)) {
        // Seed once; after that the file is the integrator's (deploys write it), never overwritten.
        mkdirSync(dirname(flowFile), { recursive: true });
        writeFileSync(flowFile, `${JSON.stringify(shippedFlows(), null, 2)}\n`);
        log.info({ flowFile }, 'shipped flows copied');
      }
    } catch (error) {
      return void fail(`flows file ${flowFile}: ${(error as Error).message}`);
    }
    // The gateway's broker listens on 0.0.0.0 or a LAN address; Node-RED, beside it, uses loopback.
    const brokerHost = ['0.0.0.0', '::'].includes(broker.host) ? '127.0.0.1' : broker.host;
    return {
      userDir,
      // Under systemd, without flowsFile the launcher takes flows.json in its own userDir.
      ...(config.supervisor === 'systemd' && !config.flowsFile ? {} : { flowFile }),
      credentialSecret: config.credentialSecret ?? credentialSecret(join(userDir, '.credential-secret')),
      host: config.host,
      port: config.port,
      adminUser: config.adminUser,
      adminPasswordHash: config.adminPasswordHash,
      gatewayId: gateway.gateway.id,
      mqttUrl: `mqtt://${brokerHost.includes(':') ? `[${brokerHost}]` : brokerHost}:${broker.port}`,
      brokerUser: config.brokerUser,
      brokerPassword: config.brokerPassword,
      logLevel: ['fatal', 'error'].includes(gateway.log.level)
        ? 'error'
        : gateway.log.level === 'warn'
          ? 'warn'
          : 'info',
    };
  }

  function launch(): void {
    if (stopping || !startOptions) return;
    const userDir = startOptions.userDir as string;
    const proc = spawn(process.execPath, [`--max-old-space-size=${config.heapMb}`, NODE_RED_LAUNCHER], {
      cwd: userDir,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // A minimal environment: function nodes can read process.env (env.get), and the gateway's
      // own environment is none of their business.
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: userDir,
        NODE_ENV: 'production',
        ...(process.env.LANG ? { LANG: process.env.LANG } : {}),
        ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
      },
    });
    child = proc;
    readyAt = undefined;
    address = undefined;
    const startTimer = setTimeout(() => {
      log.error({ childPid: proc.pid, startTimeoutMs }, 'Node-RED did not become ready in time; killing it');
      proc.kill('SIGKILL');
    }, startTimeoutMs);
    for (const stream of [proc.stdout, proc.stderr]) {
      let rest = '';
      stream?.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString('utf8')).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) log[levelOf(line)]({ childPid: proc.pid }, line.trim());
      });
    }
    proc.on('message', (message: { type?: string; host?: string; port?: number; message?: string }) => {
      if (message.type === 'hello') proc.send({ type: 'start', options: startOptions });
      else if (message.type === 'ready' && message.port !== undefined) {
        clearTimeout(startTimer);
        readyAt = Date.now();
        address = { host: message.host ?? config.host, port: message.port };
        problem = undefined;
        log.info({ childPid: proc.pid, url: `http://${config.host}:${message.port}/` }, 'Node-RED running');
      } else if (message.type === 'fatal') {
        problem = `Node-RED failed to start: ${message.message}`;
        log.error({ childPid: proc.pid }, problem);
      }
    });
    proc.on('error', (error) => log.error({ err: error }, 'Node-RED process error'));
    proc.on('exit', (code, signal) => {
      clearTimeout(startTimer);
      if (child === proc) child = undefined;
      lastExit = { code, signal, at: Date.now() };
      const ranFor = readyAt === undefined ? 0 : Date.now() - readyAt;
      readyAt = undefined;
      address = undefined;
      if (stopping) return;
      // A run that lasted counts as healthy: the next crash starts the backoff from the beginning.
      failures = ranFor >= stableMs ? 0 : failures + 1;
      const delayMs = delayAfterFailuresMs({ initialMs, maxMs }, failures);
      const error = new DoorstepError('EDGE_ERR_NODERED_EXITED', {
        reason: signal ? `signal ${signal}` : `code ${code}`,
        delayMs,
      });
      log.error({ code: error.code, exitCode: code, signal }, error.message);
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        restarts += 1;
        launch();
      }, delayMs);
    });
  }

  return {
    name: 'nodeRed',
    async start(edge: Edge) {
      stopping = false;
      startOptions = await prepare(edge);
      // Node-RED is optional: a problem is logged and shown in health, the gateway runs on.
      if (!startOptions) return;
      if (config.supervisor === 'systemd') {
        // Written before the gateway reports ready: the unit is ordered after doorstep-edge.service.
        const file = nodeRedStartFile(gateway.storage.dataDir);
        try {
          writeSecretFile(file, `${JSON.stringify(startOptions)}\n`);
          startFile = file;
          log.info({ startFile: file }, 'Node-RED start options written for doorstep-node-red.service');
        } catch (error) {
          fail(`start options ${file}: ${(error as Error).message}`);
        }
        return;
      }
      launch();
    },
    async stop() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = undefined;
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        log.warn({ childPid: proc.pid }, 'Node-RED did not stop in time; killing it');
        proc.kill('SIGKILL');
      }, stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    },
    health(): NodeRedHealth {
      if (config.supervisor === 'systemd')
        return {
          enabled: true,
          supervisor: 'systemd',
          heapMb: config.heapMb,
          restarts: 0,
          ...(startFile ? { startFile } : { running: false }),
          ...(problem ? { problem } : {}),
        };
      const pid = child?.pid;
      const running = readyAt !== undefined && pid !== undefined;
      const rssBytes = pid === undefined ? undefined : rssOf(pid);
      return {
        enabled: true,
        supervisor: 'child',
        running,
        ...(pid !== undefined ? { pid } : {}),
        restarts,
        ...(rssBytes !== undefined ? { rssBytes } : {}),
        heapMb: config.heapMb,
        ...(address ? { url: `http://${config.host}:${address.port}/` } : {}),
        ...(readyAt !== undefined ? { startedAt: readyAt } : {}),
        ...(lastExit ? { lastExit } : {}),
        ...(problem && !running ? { problem } : {}),
      };
    },
    address: () => address,
  };
}
