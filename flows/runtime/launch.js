// Runs Node-RED embedded in a process of its own, started and supervised by the gateway
// (edge/runtime/node-red.ts) as `node --max-old-space-size=HEAP launch.js` with an IPC channel.
// Node-RED cannot be re-initialised inside one process, and a child with its own heap cap keeps a
// runaway flow from taking the gateway's acquisition down with it.
//
// Protocol (IPC messages):
//   child → parent  {type:'hello'}  its listener is installed
//   parent → child  {type:'start', options}   options below; secrets travel here, never in argv/env
//   child → parent  {type:'ready', host, port, pid} once the runtime and its HTTP server are up
//   child → parent  {type:'fatal', message}   then exit(1)
//   parent → child  {type:'stop'}  (or SIGTERM) → Node-RED stops its flows, the process exits 0
// The child exits by itself when the IPC channel closes: a gateway killed with -9 leaves no orphan.
//
// Under systemd (nodeRed.supervisor: systemd; edge/systemd/doorstep-node-red.service) it runs on its
// own, as another user than the gateway: `launch.js --options FILE --user-dir DIR`. FILE holds the
// same options (the gateway writes them to <dataDir>/node-red/start.json, 0600; the unit passes
// them in as a systemd credential), DIR is the unit's state directory and replaces their userDir;
// without a flowFile it is DIR/flows.json, seeded with the shipped flows when missing. Ready and
// fatal are log lines; systemd restarts it.
//
// Plain JavaScript: it runs under plain `node` beside the Node-RED nodes, with no build step.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const NODES_DIR = fileURLToPath(new URL('../nodes', import.meta.url));
const SHIPPED_DIR = fileURLToPath(new URL('../shipped', import.meta.url));

let red;
let server;
let stopping = false;

function send(message) {
  if (process.connected) process.send(message);
  else if (message.type === 'ready')
    process.stdout.write(
      `Node-RED running at http://${message.host}:${message.port}/ (pid ${message.pid})\n`,
    );
  else if (message.type === 'fatal') process.stderr.write(`Node-RED failed to start: ${message.message}\n`);
}

/** Options for a launcher systemd runs: the file the gateway wrote, with this unit's own userDir. */
export function standaloneOptions(optionsFile, userDir) {
  const options = JSON.parse(readFileSync(optionsFile, 'utf8'));
  const flowFile = options.flowFile ?? join(userDir, 'flows.json');
  if (!existsSync(flowFile)) {
    // Seeded once, as the gateway does for its child: from then on the file is the integrator's.
    const flows = readdirSync(SHIPPED_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .flatMap((f) => JSON.parse(readFileSync(join(SHIPPED_DIR, f), 'utf8')));
    mkdirSync(userDir, { recursive: true, mode: 0o700 });
    writeFileSync(flowFile, `${JSON.stringify(flows, null, 2)}\n`, { mode: 0o600 });
  }
  return { ...options, userDir, flowFile };
}

/**
 * The settings object (what Node-RED's settings.js would hold). Everything that would reach the
 * internet is off: palette manager and npm installs, telemetry and update checks; the editor
 * serves only local files.
 */
export function buildSettings(o) {
  return {
    userDir: o.userDir,
    // Absolute, always: a relative flowFile is resolved against the working directory and a
    // deploy would overwrite whatever file of that name is found there.
    flowFile: o.flowFile,
    flowFilePretty: true,
    credentialSecret: o.credentialSecret,
    nodesDir: [NODES_DIR],
    uiHost: o.host,
    uiPort: o.port,
    httpAdminRoot: '/',
    // No HTTP-in endpoints: the port serves the editor and its admin API only.
    httpNodeRoot: false,
    httpStatic: undefined,
    adminAuth: {
      type: 'credentials',
      sessionExpiryTime: 8 * 3600,
      users: [{ username: o.adminUser, password: o.adminPasswordHash, permissions: '*' }],
    },
    externalModules: {
      autoInstall: false,
      palette: { allowInstall: false, allowUpdate: false, allowUpload: false },
      modules: { allowInstall: false },
    },
    functionExternalModules: false,
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false },
    runtimeState: { enabled: false },
    editorTheme: {
      projects: { enabled: false },
      tours: false,
      multiplayer: { enabled: false },
    },
    logging: { console: { level: o.logLevel || 'info', metrics: false, audit: false } },
    // Read by the doorstep broker config node (flows/nodes/broker.js); not exported to the editor.
    doorstep: {
      gatewayId: o.gatewayId,
      mqttUrl: o.mqttUrl,
      username: o.brokerUser,
      password: o.brokerPassword,
    },
  };
}

async function start(options) {
  red = require('node-red');
  server = createServer();
  red.init(server, buildSettings(options));
  // Node-RED's admin app serves the editor and the admin API at httpAdminRoot ('/').
  server.on('request', red.httpAdmin);
  await red.start();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  send({ type: 'ready', host: address.address, port: address.port, pid: process.pid });
}

async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  try {
    if (red) await red.stop();
    server?.close();
    server?.closeAllConnections?.();
  } finally {
    process.exit(code);
  }
}

process.on('message', (message) => {
  if (message?.type === 'start')
    start(message.options).catch((error) => {
      send({ type: 'fatal', message: error?.message ?? String(error) });
      process.exit(1);
    });
  else if (message?.type === 'stop') stop(0);
});
process.once('SIGTERM', () => stop(0));
process.once('SIGINT', () => stop(0));
process.once('disconnect', () => stop(0));
const { values: args } = parseArgs({
  options: { options: { type: 'string' }, 'user-dir': { type: 'string' } },
  strict: true,
});
if (args.options) {
  if (!args['user-dir']) {
    process.stderr.write("launch.js --options FILE needs --user-dir DIR (the unit's state directory)\n");
    process.exit(2);
  }
  let options;
  try {
    options = standaloneOptions(args.options, args['user-dir']);
  } catch (error) {
    process.stderr.write(`Node-RED start options ${args.options}: ${error?.message ?? error}\n`);
    process.exit(1);
  }
  start(options).catch((error) => {
    send({ type: 'fatal', message: error?.message ?? String(error) });
    process.exit(1);
  });
} else if (!process.send) {
  process.stderr.write(
    'launch.js is started by the doorstep gateway (IPC channel) or by systemd (--options FILE --user-dir DIR)\n',
  );
  process.exit(2);
} else {
  // Messages sent before a listener exists would be lost: the parent waits for this one.
  send({ type: 'hello' });
}
