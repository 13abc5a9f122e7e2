import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { writeFileAtomic, writeSecretFile } from '../common/files.js';
import { validateGatewayConfig } from '../edge/config/load.js';
import { DoorstepError, formatSitePath, renderIssues, type SitePath } from '../protocol/index.js';
import { fingerprintOf, type Identity, workspacePaths } from './workspace.js';

export interface InitOptions {
  dir: string;
  gateway: string;
  site: SitePath;
  name?: string;
  /** Replace an existing identity (the old one is lost: a flashed card of it will be refused). */
  force?: boolean;
  now?: () => Date;
}

/** Where things live on the gateway; the skeleton says so, and flash maps them into the target. */
export const GATEWAY_PATHS = {
  app: '/opt/doorstep',
  etc: '/etc/doorstep',
  config: '/etc/doorstep/gateway.yaml',
  secret: '/etc/doorstep/gateway.secret',
  dataDir: '/var/lib/doorstep',
} as const;

/** A valid gateway YAML with comments: the installer fills buses and devices in (or scan does). */
export function configSkeleton(identity: Pick<Identity, 'gateway' | 'site' | 'name'>): string {
  const header = [
    `# Gateway configuration for ${identity.gateway} (${formatSitePath(identity.site)}),`,
    '# written by `doorstep provision init`. Reference: docs/gateway-config.md.',
    '# Check it at any time with `doorstep provision validate --dir <this directory>`.',
    '# Paths in this file are paths on the gateway box; `provision flash` puts the files there.',
    '# commissioning: true — every alarm reaches the town as a test and pages nobody until',
    '# `doorstep provision handover` (after the walk test) sets it to false.',
  ];
  const gateway = stringify({
    gateway: {
      id: identity.gateway,
      site: identity.site,
      ...(identity.name ? { name: identity.name } : {}),
      commissioning: true,
    },
  }).trimEnd();
  const body = [
    '',
    '# RS-485 buses. `doorstep provision scan --port /dev/serial/by-id/… --merge` finds the devices',
    '# on a port and adds a bus and its devices here. Prefer /dev/serial/by-id/ paths: ttyUSB numbers',
    '# change when adapters are replugged.',
    'buses: []',
    '#  - id: rs485-1',
    '#    type: rtu',
    '#    port: /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_XXXXXXXX-if00-port0',
    '#    baudRate: 9600',
    '#    parity: even        # the Modbus default (serial line v1.02 §2.5.1)',
    '',
    '# One entry per sensor; `location` is what duty staff read on their screen.',
    'devices: []',
    '#  - id: smoke-3-2',
    '#    bus: rs485-1',
    '#    profile: smoke-status-register   # `doorstep sim --list-profiles`',
    '#    unitId: 3',
    '#    location: 3号楼2单元 楼道',
    '',
    'storage:',
    '  # Outbox and rule state; must survive reboots (systemd StateDirectory=doorstep).',
    `  dataDir: ${GATEWAY_PATHS.dataDir}`,
    '',
    'health:',
    '  # GET /health and /metrics; 127.0.0.1 unless the LAN must scrape it.',
    '  host: 127.0.0.1',
    '  port: 9180',
    '',
    '# uplink: written by `doorstep provision register` when the gateway is enrolled with the cloud.',
    '',
  ];
  return [...header, gateway, ...body].join('\n');
}

/**
 * Creates a workspace: a fresh identity (random install id + Ed25519 key pair) and a configuration
 * skeleton. Refuses to replace an existing identity without `force`, so a second `init` in the
 * wrong directory cannot orphan a gateway that was already flashed.
 */
export function initWorkspace(options: InitOptions): {
  identity: Identity;
  paths: ReturnType<typeof workspacePaths>;
} {
  const paths = workspacePaths(options.dir);
  for (const existing of [paths.identity, paths.config])
    if (existsSync(existing) && !options.force)
      throw new DoorstepError('PROV_ERR_EXISTS', {
        what: existing === paths.identity ? 'a gateway identity' : 'a gateway configuration',
        path: existing,
      });
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const identity: Identity = {
    gateway: options.gateway,
    site: options.site,
    ...(options.name ? { name: options.name } : {}),
    installId: randomUUID(),
    createdAt: (options.now?.() ?? new Date()).toISOString(),
    publicKey: publicPem,
    fingerprint: fingerprintOf(publicPem),
  };
  const skeleton = configSkeleton(identity);
  // Never write a skeleton the gateway would refuse: the id or site the installer typed is checked here.
  const checked = validateGatewayConfig(parse(skeleton));
  if (!checked.ok)
    throw new DoorstepError('CFG_ERR_INVALID', {
      count: checked.issues.length,
      summary: `gateway identity\n${renderIssues(checked.issues)}`,
    });
  try {
    mkdirSync(paths.dir, { recursive: true });
    mkdirSync(paths.reports, { recursive: true });
  } catch (error) {
    throw new DoorstepError(
      'PROV_ERR_WORKSPACE',
      { dir: paths.dir, reason: (error as Error).message },
      { cause: error },
    );
  }
  writeSecretFile(paths.key, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  writeFileAtomic(paths.identity, `${JSON.stringify(identity, null, 2)}\n`, 0o644);
  // 0600 from the start: the installer adds broker and Node-RED passwords to this file.
  writeSecretFile(paths.config, skeleton);
  return { identity, paths };
}
