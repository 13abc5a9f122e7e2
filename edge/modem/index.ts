import type { Logger } from '../../common/log.js';
import type { Link } from '../../drivers/link/types.js';
import type { AlarmTransition } from '../../protocol/index.js';
import type { GatewayConfigResult } from '../config/load.js';
import type { Edge, EdgeExtension } from '../runtime/gateway.js';
import type { ModemConfig } from './config.js';
import { AtModem, type ModemPort } from './modem.js';
import { ModemTexter } from './texter.js';

export { ModemConfig } from './config.js';
export { AtModem, cmsMeaning, type ModemPort, type ModemStatus } from './modem.js';
export { encodeSubmit, type SubmitPdu } from './pdu.js';
export { composeText, type TextAlarm } from './text.js';
export { type ModemHealth, ModemTexter } from './texter.js';

export interface ModemExtensionDeps {
  /** Tests: another modem (default: AT commands on `config.port`). */
  modem?: ModemPort;
  createLink?: (config: ModemConfig & { port: string }) => Link;
  now?: () => number;
  tickMs?: number;
}

/**
 * The gateway's own 4G modem as an extension (edge/modem/README.md): it watches every alarm the
 * gateway announces and texts those the cloud has not acknowledged in time. Started after the
 * core, like the uplink; acquisition never waits for it.
 */
export function modemExtension(
  config: ModemConfig,
  gateway: GatewayConfigResult['config'],
  logger: Logger,
  deps: ModemExtensionDeps = {},
): EdgeExtension {
  if (!config.enabled || !config.port) throw new Error('modemExtension needs an enabled modem with a port');
  const cfg = { ...config, port: config.port };
  const log = logger.child({ component: 'modem' });
  const locations = new Map(gateway.devices.map((d) => [d.id, d.location]));
  // Transitions announced while the gateway starts (before this extension) are kept until start.
  const early: AlarmTransition[] = [];
  let texter: ModemTexter | undefined;
  return {
    name: 'modem',
    async start(edge: Edge) {
      if (!gateway.gateway.name) log.warn('gateway.name is not set: texts name the gateway by its id');
      texter = new ModemTexter({
        config: cfg,
        gatewayName: gateway.gateway.name ?? gateway.gateway.id,
        locationOf: (device) => locations.get(device) ?? device,
        outbox: edge.outbox,
        modem:
          deps.modem ??
          new AtModem({
            config: cfg,
            logger: log,
            ...(deps.createLink ? { createLink: deps.createLink } : {}),
          }),
        logger: log,
        ...(deps.now ? { now: deps.now } : {}),
        ...(deps.tickMs ? { tickMs: deps.tickMs } : {}),
      });
      texter.start();
      for (const t of early.splice(0)) texter.watch(t);
    },
    async stop() {
      await texter?.stop();
    },
    onAlarm(t) {
      if (texter) texter.watch(t);
      else early.push(t);
    },
    health() {
      return texter?.health() ?? { enabled: true, port: cfg.port, state: 'unknown' };
    },
  };
}
