import { z } from 'zod';
import type { Logger } from '../../common/log.js';
import { DoorstepError, issuesOf, renderIssues } from '../../protocol/index.js';
import { SerialLink } from '../link/serial.js';
import { registerProfileOf } from '../profiles/resolve.js';
import { SimDevice } from './devices.js';
import { RtuSlave } from './modbus-slave/rtu-slave.js';
import { TcpSlaveServer } from './modbus-slave/tcp-slave.js';
import { findScenario, ScenarioPlayer } from './scenarios.js';

/**
 * A whole simulated site: devices behind Modbus TCP servers and RTU buses, each device following a
 * profile and optionally a scenario. Used by `doorstep sim`, the demo, tests and benchmarks.
 */
export const SimDeviceSpec = z.object({
  id: z.string().min(1),
  profile: z.string().min(1),
  unitId: z.number().int().min(1).max(247),
  startup: z.record(z.string(), z.number()).optional(),
  scenario: z.string().optional(),
  loop: z.boolean().default(false),
  /** Delay before the scenario starts, so a demo can stagger events. */
  scenarioDelayMs: z.number().int().min(0).default(0),
  heartbeat: z.boolean().default(true),
});
export type SimDeviceSpec = z.input<typeof SimDeviceSpec>;

const Pace = z.object({
  baudRate: z.number().int().positive(),
  parity: z.enum(['none', 'even', 'odd']).default('none'),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  turnaroundMs: z.number().min(0).default(0),
});

export const SimSiteSpec = z.object({
  tcp: z
    .array(
      z.object({
        name: z.string().min(1),
        host: z.literal('127.0.0.1').default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(0),
        devices: z.array(SimDeviceSpec).min(1),
      }),
    )
    .default([]),
  rtu: z
    .array(
      z.object({
        name: z.string().min(1),
        path: z.string().min(1),
        pace: Pace.optional(),
        devices: z.array(SimDeviceSpec).min(1),
      }),
    )
    .default([]),
});
export type SimSiteSpec = z.input<typeof SimSiteSpec>;

export interface RunningSimSite {
  devices: ReadonlyMap<string, SimDevice>;
  tcp: ReadonlyArray<{ name: string; host: string; port: number; server: TcpSlaveServer }>;
  rtu: ReadonlyArray<{ name: string; path: string; slave: RtuSlave }>;
  players: ReadonlyArray<ScenarioPlayer>;
  stop(): Promise<void>;
}

function buildDevices(
  specs: z.infer<typeof SimDeviceSpec>[],
  line?: { baudRate: number; parity: 'none' | 'even' | 'odd' },
): SimDevice[] {
  return specs.map(
    (s) =>
      new SimDevice({
        id: s.id,
        profile: registerProfileOf(s.profile),
        unitId: s.unitId,
        ...(s.startup ? { startup: s.startup } : {}),
        ...(line ? { line } : {}),
      }),
  );
}

/**
 * A device whose profile declares its unit id register moves to the address a master wrote there
 * (after its reply); an address another unit of the bus already has is refused and the register
 * restored, so the master's read-back at the new address fails as on a real bus with a duplicate.
 */
function followReaddressing(
  devices: SimDevice[],
  slave: { addUnit(unit: SimDevice['unit']): void; removeUnit(unitId: number): boolean },
  range: readonly [number, number],
  logger?: Logger,
): void {
  for (const device of devices)
    device.onSettingsChange((change) => {
      if (change.unitId === undefined) return;
      const unit = device.unit;
      const old = unit.unitId;
      const register = device.profile.settings!.unitId!.register;
      const restore = () => unit.bank.write('holding', register, [old]);
      if (change.unitId < range[0] || change.unitId > range[1]) return restore();
      slave.removeUnit(old);
      unit.unitId = change.unitId;
      try {
        slave.addUnit(unit);
        logger?.info({ device: device.id, from: old, to: change.unitId }, 'simulated device re-addressed');
      } catch {
        unit.unitId = old;
        slave.addUnit(unit);
        restore();
      }
    });
}

/** Validates the whole spec (every problem with its path), then starts servers and scenarios. */
export async function startSimSite(
  input: SimSiteSpec,
  options: { logger?: Logger } = {},
): Promise<RunningSimSite> {
  const parsed = SimSiteSpec.safeParse(input);
  if (!parsed.success) {
    const issues = issuesOf(parsed.error);
    throw new DoorstepError('CFG_ERR_INVALID', {
      count: issues.length,
      summary: `simulation spec\n${renderIssues(issues)}`,
    });
  }
  const spec = parsed.data;
  const devices = new Map<string, SimDevice>();
  const stoppers: Array<() => Promise<void>> = [];
  const players: ScenarioPlayer[] = [];
  const tcp: RunningSimSite['tcp'][number][] = [];
  const rtu: RunningSimSite['rtu'][number][] = [];
  const allSpecs = [...spec.tcp.flatMap((t) => t.devices), ...spec.rtu.flatMap((r) => r.devices)];

  const stop = async () => {
    for (const p of players) p.stop();
    for (const d of devices.values()) d.stopHeartbeat();
    for (const s of stoppers.reverse()) await s().catch(() => undefined);
  };
  try {
    for (const server of spec.tcp) {
      const built = buildDevices(server.devices);
      const slave = new TcpSlaveServer({
        units: built.map((d) => d.unit),
        host: server.host,
        port: server.port,
        ...(options.logger ? { logger: options.logger } : {}),
      });
      const address = await slave.listen();
      stoppers.push(() => slave.close());
      tcp.push({ name: server.name, host: address.host, port: address.port, server: slave });
      followReaddressing(built, slave, [0, 255], options.logger);
      for (const d of built) devices.set(d.id, d);
    }
    for (const bus of spec.rtu) {
      const built = buildDevices(
        bus.devices,
        bus.pace ? { baudRate: bus.pace.baudRate, parity: bus.pace.parity ?? 'none' } : undefined,
      );
      const link = new SerialLink({
        path: bus.path,
        baudRate: bus.pace?.baudRate ?? 9600,
        parity: bus.pace?.parity ?? 'none',
        dataBits: bus.pace?.dataBits ?? 8,
        stopBits: bus.pace?.stopBits ?? 1,
      });
      const slave = new RtuSlave({
        link,
        units: built.map((d) => d.unit),
        ...(bus.pace ? { pace: bus.pace } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
      });
      await slave.start();
      stoppers.push(() => slave.stop());
      followReaddressing(built, slave, [1, 247], options.logger);
      rtu.push({ name: bus.name, path: bus.path, slave });
      for (const d of built) devices.set(d.id, d);
    }
    for (const s of allSpecs) {
      const device = devices.get(s.id)!;
      if (s.heartbeat) device.startHeartbeat();
      if (!s.scenario) continue;
      const scenario = findScenario(s.scenario);
      if (!scenario) throw new Error(`device ${s.id}: no scenario named "${s.scenario}"`);
      const player = new ScenarioPlayer(device, scenario, { loop: s.loop });
      players.push(player);
      if (s.scenarioDelayMs > 0) setTimeout(() => player.start(), s.scenarioDelayMs).unref();
      else player.start();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { devices, tcp, rtu, players, stop };
}
