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
// Plain JavaScript: it runs under plain `node` beside the Node-RED nodes, with no build step.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const NODES_DIR = fileURLToPath(new URL('../nodes', import.meta.url));

let red;
let server;
let stopping = false;

function send(message) {
  if (process.connected) process.send(message);
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
if (!process.send) {
  process.stderr.write('launch.js is started by the doorstep gateway (it needs an IPC channel)\n');
  process.exit(2);
}
// Messages sent before a listener exists would be lost: the parent waits for this one.
send({ type: 'hello' });
