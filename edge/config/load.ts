import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { frameProfiles } from '../../drivers/frames/profiles/registry.js';
import { mqttProfiles } from '../../drivers/mqtt/profiles.js';
import { registerProfiles } from '../../drivers/profiles/catalogue/index.js';
import {
  DoorstepError,
  type GeomagneticUse,
  issuesOf,
  renderIssues,
  type SensorKind,
  type ValidationIssue,
} from '../../protocol/index.js';
import { type Bus, DeviceEntry, GatewayConfig, type ParsedGatewayConfig } from './schema.js';

/** A device entry that passed validation, with what its profile says about it. */
export interface ConfiguredDevice extends DeviceEntry {
  kind: SensorKind;
  use?: GeomagneticUse;
  busType: Bus['type'];
}

/** A device entry that failed validation: it is not run, and health shows why. */
export interface DisabledDevice {
  /** The entry's id when it has a usable one, else `devices[i]`. */
  device: string;
  index: number;
  issues: ValidationIssue[];
}

export interface GatewayConfigResult {
  config: Omit<ParsedGatewayConfig, 'devices'> & { devices: ConfiguredDevice[] };
  disabled: DisabledDevice[];
}

function profileFor(bus: Bus, profile: string): { kind: SensorKind; use?: GeomagneticUse } | undefined {
  if (bus.type === 'rtu' || bus.type === 'tcp') {
    const p = registerProfiles.get(profile);
    return p && { kind: p.kind, ...(p.use ? { use: p.use } : {}) };
  }
  const p = bus.type === 'frames' ? frameProfiles[profile] : mqttProfiles[profile];
  return p && { kind: p.kind, ...(p.use ? { use: p.use } : {}) };
}

function knownProfiles(bus: Bus): string[] {
  if (bus.type === 'rtu' || bus.type === 'tcp') return [...registerProfiles.keys()];
  return Object.keys(bus.type === 'frames' ? frameProfiles : mqttProfiles);
}

/** Checks one device entry against the schema and the rest of the configuration. */
function checkDevice(
  raw: unknown,
  index: number,
  buses: ReadonlyMap<string, Bus>,
  taken: { ids: Set<string>; addresses: Set<string> },
): { device?: ConfiguredDevice; issues: ValidationIssue[] } {
  const base = `devices[${index}]`;
  const parsed = DeviceEntry.safeParse(raw);
  if (!parsed.success) return { issues: issuesOf(parsed.error, ['devices', index]) };
  const entry = parsed.data;
  const issues: ValidationIssue[] = [];
  const issue = (field: string, message: string) => issues.push({ path: `${base}.${field}`, message });

  if (taken.ids.has(entry.id)) issue('id', `device id "${entry.id}" is used by an earlier entry`);
  const bus = buses.get(entry.bus);
  if (!bus) {
    issue('bus', `no bus "${entry.bus}" (buses: ${[...buses.keys()].join(', ') || 'none'})`);
    return { issues };
  }
  const profile = profileFor(bus, entry.profile);
  if (!profile)
    issue('profile', `no ${bus.type} profile "${entry.profile}" (known: ${knownProfiles(bus).join(', ')})`);

  let address: string | undefined;
  switch (bus.type) {
    case 'rtu':
      if (entry.unitId === undefined) issue('unitId', 'a device on an RTU bus needs unitId (1–247)');
      else address = `${bus.id}#${entry.unitId}`;
      break;
    case 'tcp':
      if (!entry.host) issue('host', 'a device on a TCP bus needs host');
      if (entry.port === undefined) issue('port', 'a device on a TCP bus needs port (usually 502)');
      address = `${bus.id}#${entry.host}:${entry.port}#${entry.unitId ?? 1}`;
      break;
    case 'frames':
      if (!entry.detector) issue('detector', 'a wireless device needs the detector id its receiver reports');
      else address = `${bus.id}#${entry.detector}`;
      break;
    case 'mqtt':
      address = `${bus.id}#${entry.topicId ?? entry.id}`;
      break;
  }
  if (address && taken.addresses.has(address))
    issue(
      bus.type === 'frames' ? 'detector' : bus.type === 'mqtt' ? 'topicId' : 'unitId',
      'address already used by another device on this bus',
    );
  if (issues.length > 0 || !profile) return { issues };
  taken.ids.add(entry.id);
  if (address) taken.addresses.add(address);
  return { device: { ...entry, ...profile, busType: bus.type }, issues };
}

/**
 * Validates a parsed configuration document. Problems outside `devices` are fatal (returned as
 * `issues`, nothing runs); a bad device entry disables only that device (`disabled`).
 */
export function validateGatewayConfig(
  raw: unknown,
): { ok: true; result: GatewayConfigResult } | { ok: false; issues: ValidationIssue[] } {
  const parsed = GatewayConfig.safeParse(raw);
  const deviceIssues: DisabledDevice[] = [];
  if (!parsed.success) return { ok: false, issues: issuesOf(parsed.error) };
  const config = parsed.data;
  const issues: ValidationIssue[] = [];

  const buses = new Map<string, Bus>();
  config.buses.forEach((bus, i) => {
    if (buses.has(bus.id))
      issues.push({ path: `buses[${i}].id`, message: `bus id "${bus.id}" is used twice` });
    buses.set(bus.id, bus);
  });

  config.buses.forEach((bus, i) => {
    if (bus.type === 'mqtt' && !config.broker)
      issues.push({
        path: `buses[${i}].type`,
        message: 'MQTT sensors publish into the local broker: configure `broker`',
      });
  });

  const taken = { ids: new Set<string>(), addresses: new Set<string>() };
  const devices: ConfiguredDevice[] = [];
  config.devices.forEach((raw, index) => {
    const { device, issues: problems } = checkDevice(raw, index, buses, taken);
    if (device) devices.push(device);
    else {
      const id =
        typeof raw === 'object' && raw && 'id' in raw && typeof raw.id === 'string'
          ? raw.id
          : `devices[${index}]`;
      deviceIssues.push({ device: id, index, issues: problems });
    }
  });

  const byId = new Map(devices.map((d) => [d.id, d]));
  config.actions.forEach((action, i) => {
    if (action.do.kind === 'write') {
      const target = byId.get(action.do.device);
      if (!target)
        issues.push({
          path: `actions[${i}].do.device`,
          message: `no enabled device "${action.do.device}" to write to`,
        });
      else if (target.busType !== 'rtu' && target.busType !== 'tcp')
        issues.push({ path: `actions[${i}].do.device`, message: `"${target.id}" is not a Modbus device` });
    }
    for (const [j, d] of (action.on.devices ?? []).entries())
      if (!byId.has(d) && !deviceIssues.some((x) => x.device === d))
        issues.push({ path: `actions[${i}].on.devices[${j}]`, message: `no device "${d}"` });
  });

  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, result: { config: { ...config, devices }, disabled: deviceIssues } };
}

/**
 * Reads and validates the gateway's YAML file. An unreadable file or invalid YAML refuses to start
 * (CFG_ERR_UNREADABLE); fatal problems are listed all at once with their paths (CFG_ERR_INVALID).
 */
export function loadGatewayConfig(file: string): GatewayConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DoorstepError(
      'CFG_ERR_UNREADABLE',
      { file, reason: (error as Error).message },
      { cause: error },
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    const reason = error instanceof YAMLParseError ? error.message.split('\n')[0] : String(error);
    throw new DoorstepError(
      'CFG_ERR_UNREADABLE',
      { file, reason: `invalid YAML: ${reason}` },
      { cause: error },
    );
  }
  const checked = validateGatewayConfig(doc);
  if (!checked.ok)
    throw new DoorstepError('CFG_ERR_INVALID', {
      count: checked.issues.length,
      summary: `${file}\n${renderIssues(checked.issues)}`,
    });
  return checked.result;
}
