import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../common/log.js';
import { DoorstepError, type DownlinkCommand, type GatewayHealthReport } from '../../protocol/index.js';
import type { ParsedGatewayConfig } from '../config/schema.js';
import type { Uplink } from '../uplink/uplink.js';
import type { Edge, EdgeCommand, EdgeExtension } from './gateway.js';
import { EDGE_VERSION } from './version.js';

/** Commands remembered as done, so a command re-sent before our result reached the cloud runs once. */
const HANDLED_MEMORY = 1000;

function toEdgeCommand(c: DownlinkCommand): EdgeCommand | undefined {
  const base = { source: 'cloud' as const, id: c.id, device: c.device, by: c.by };
  switch (c.kind) {
    case 'ack':
      return { ...base, command: 'ack', ...(c.type ? { type: c.type } : {}) };
    case 'silence':
      return { ...base, command: 'silence', ...(c.type ? { type: c.type } : {}) };
    case 'reset':
      return c.type ? { ...base, command: 'reset', type: c.type } : undefined;
    case 'walk_test':
      return { ...base, command: 'walk_test', on: c.on ?? true };
  }
}

/** Hosts whose traffic never leaves the machine: plain http there exposes nothing. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The warning for an http:// cloud url (the bearer secret and the alarms would travel in clear),
 * or undefined: https, a loopback host, or silenced by `allowPlaintext`.
 */
export function plaintextUplinkWarning(config: {
  url: string;
  allowPlaintext?: boolean;
}): DoorstepError | undefined {
  const url = new URL(config.url);
  if (url.protocol !== 'http:' || config.allowPlaintext || LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return new DoorstepError('EDGE_ERR_UPLINK_PLAINTEXT', { url: `${url.protocol}//${url.host}` });
}

/**
 * The uplink as a gateway extension: started after everything local (acquisition never waits for
 * it — invariant 2), woken by every alarm, executing the cloud's downlink commands through the same
 * path as local ones.
 */
export function uplinkExtension(
  config: NonNullable<ParsedGatewayConfig['uplink']>,
  gateway: ParsedGatewayConfig,
  logger: Logger,
): EdgeExtension {
  let uplink: Uplink | undefined;
  const handled: string[] = [];
  const startedAt = Date.now();
  return {
    name: 'uplink',
    async start(edge: Edge) {
      const plaintext = plaintextUplinkWarning(config);
      if (plaintext) logger.warn({ code: plaintext.code, err: plaintext }, plaintext.message);
      const { Uplink } = await import('../uplink/uplink.js');
      const { FileUplinkState } = await import('../uplink/state.js');
      const secret = () => readFileSync(config.credentialsFile, 'utf8').trim();
      uplink = new Uplink({
        baseUrl: config.url,
        gateway: gateway.gateway.id,
        site: gateway.gateway.site,
        credentials: secret,
        outbox: edge.outbox,
        state: new FileUplinkState(join(gateway.storage.dataDir, 'uplink-state.json')),
        batch: { rows: config.batchRows },
        requestTimeoutMs: config.requestTimeoutMs,
        backlogPace:
          config.backlogRowsPerSecond === 'max' ? 'max' : { rowsPerSecond: config.backlogRowsPerSecond },
        intervalMs: config.intervalMs,
        software: `doorstep-edge ${EDGE_VERSION}`,
        logger: logger.child({ component: 'uplink' }),
        healthReport: (): Partial<GatewayHealthReport> => {
          const h = edge.health();
          return {
            software: `doorstep-edge ${EDGE_VERSION}`,
            uptimeS: Math.round((Date.now() - startedAt) / 1000),
            devices: Object.entries(h.devices).map(([device, s]) => ({
              device,
              state: s.state,
              since: s.since,
              consecutiveFailures: 0,
              ...(s.reason ? { reason: s.reason } : {}),
              ...(s.detail ? { detail: s.detail } : {}),
              // Advances with every good poll: the cloud's lastSeen moves at each health report.
              ...(s.lastSeen ? { lastSeen: s.lastSeen } : {}),
              ...(s.slow ? { slow: s.slow } : {}),
            })),
          };
        },
        onCommands: (commands) => {
          for (const c of commands) {
            if (handled.includes(c.id)) continue;
            handled.push(c.id);
            if (handled.length > HANDLED_MEMORY) handled.shift();
            const cmd = toEdgeCommand(c);
            if (!cmd) {
              logger.warn({ command: c }, 'cloud command not understood');
              continue;
            }
            void edge.command(cmd);
          }
        },
      });
      uplink.start();
    },
    async stop() {
      await uplink?.stop();
    },
    onAlarm() {
      uplink?.notify();
    },
    health() {
      return uplink?.stats() ?? {};
    },
  };
}
