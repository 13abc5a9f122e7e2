import { dirname } from 'node:path';
import type { z } from 'zod';
import { FileReadError, readYamlFile } from '../../common/yaml.js';
import { type FrameLayout, sameLayout } from '../../drivers/frames/layout.js';
import type { LoadedProfile, ProfileType } from '../../drivers/profiles/file.js';
import { resolveProfile } from '../../drivers/profiles/resolve.js';
import {
  DoorstepError,
  type GeomagneticUse,
  issuesOf,
  renderIssues,
  type SensorKind,
  type ValidationIssue,
} from '../../protocol/index.js';
import { resolveRules } from '../runtime/plan.js';
import { Bus, DeviceEntry, GatewayConfig, type ParsedGatewayConfig } from './schema.js';

/** A device entry that passed validation, with what its profile says about it. */
export interface ConfiguredDevice extends Omit<DeviceEntry, 'profile'> {
  /** The profile's id (also for profiles from files or inline). */
  profile: string;
  /** The profile itself, as loaded when the configuration was (re)read: a SIGHUP reloads files too. */
  resolved: LoadedProfile;
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
  /**
   * Rule override problems, with their paths in the file (`devices[2].rules.gas_low.threshold`,
   * `rules.site.smok`): the gateway runs the pack default of each such rule.
   */
  ruleProblems: ValidationIssue[];
}

/** Everything wrong with a configuration, found in one pass. */
export interface GatewayConfigCheck {
  /** Problems that keep the gateway from starting. */
  fatal: ValidationIssue[];
  /** Device entries that would be disabled, with their problems. */
  disabled: DisabledDevice[];
  /** Rule overrides that would be replaced by their pack default. */
  ruleProblems: ValidationIssue[];
  /** The configuration that would run; absent when there is a fatal problem. */
  result?: GatewayConfigResult;
}

const PROFILE_TYPE: Record<Bus['type'], ProfileType> = {
  rtu: 'register',
  tcp: 'register',
  frames: 'frame',
  mqtt: 'mqtt',
};

/** The device's profile, resolved from a built-in id, a file or inline, with problems under `devices[i].profile`. */
function profileFor(
  bus: Bus,
  ref: DeviceEntry['profile'],
  path: string,
  baseDir: string,
): { loaded?: LoadedProfile; issues: ValidationIssue[] } {
  const { loaded, issues } = resolveProfile(ref, { expect: PROFILE_TYPE[bus.type], baseDir, path });
  if (!loaded) return { issues };
  if (loaded.type === 'frame' && bus.type === 'frames' && loaded.layout && loaded.layout.codec !== bus.codec)
    return {
      issues: [
        {
          path,
          message: `profile "${loaded.id}" declares a ${loaded.layout.codec} frame layout; bus "${bus.id}" has codec ${bus.codec}`,
        },
      ],
    };
  return { loaded, issues: [] };
}

/** Checks one device entry against the schema and the rest of the configuration. */
function checkDevice(
  raw: unknown,
  index: number,
  buses: ReadonlyMap<string, Bus>,
  brokenBuses: ReadonlySet<string>,
  taken: { ids: Set<string>; addresses: Set<string> },
  baseDir: string,
): { device?: ConfiguredDevice; rules?: RuleCheckEntry; issues: ValidationIssue[] } {
  const base = `devices[${index}]`;
  const parsed = DeviceEntry.safeParse(raw);
  if (!parsed.success) return { issues: issuesOf(parsed.error, ['devices', index]) };
  const entry = parsed.data;
  const issues: ValidationIssue[] = [];
  const issue = (field: string, message: string) => issues.push({ path: `${base}.${field}`, message });

  const duplicate = taken.ids.has(entry.id);
  if (duplicate) issue('id', `device id "${entry.id}" is used by an earlier entry`);
  const bus = buses.get(entry.bus);
  if (!bus) {
    // A bus whose own entry is invalid is reported there; "no bus" would send the installer astray.
    if (!brokenBuses.has(entry.bus))
      issue('bus', `no bus "${entry.bus}" (buses: ${[...buses.keys()].join(', ') || 'none'})`);
    return { issues };
  }
  const resolved = profileFor(bus, entry.profile, `${base}.profile`, baseDir);
  issues.push(...resolved.issues);
  const loaded = resolved.loaded;
  const profile = loaded && {
    profile: loaded.id,
    resolved: loaded,
    kind: loaded.profile.kind,
    ...(loaded.profile.use ? { use: loaded.profile.use } : {}),
  };

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
      if (entry.detector === undefined)
        issue('detector', 'a wireless device needs the detector id its receiver reports');
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
  // The device's rule overrides are checked even when the entry itself is disabled, so fixing the
  // entry does not bring a second round of problems.
  const rules: RuleCheckEntry | undefined =
    profile && !duplicate ? { index, device: { ...entry, ...profile, busType: bus.type } } : undefined;
  if (issues.length > 0 || !profile) return { issues, ...(rules ? { rules } : {}) };
  taken.ids.add(entry.id);
  if (address) taken.addresses.add(address);
  return { device: { ...entry, ...profile, busType: bus.type }, issues, ...(rules ? { rules } : {}) };
}

interface RuleCheckEntry {
  index: number;
  device: ConfiguredDevice;
}

/**
 * Rule overrides of the site and of every device whose profile is known, against the rule packs
 * (edge/rules/resolve.ts), with paths rewritten to where they are in the file.
 */
function checkRules(entries: readonly RuleCheckEntry[], site: Record<string, unknown>): ValidationIssue[] {
  const devices = entries.filter((e) => e.device.enabled).map((e) => e.device);
  const switchedOff = entries.filter((e) => !e.device.enabled).map((e) => ({ ...e.device, enabled: true }));
  const indexOf = new Map(entries.map((e) => [e.device.id, e.index]));
  const where = (path: string): string => {
    if (path.startsWith('site.')) return `rules.${path}`;
    const match = /^devices\.([^.]+)(.*)$/.exec(path);
    const index = match ? indexOf.get(match[1]!) : undefined;
    return match && index !== undefined ? `devices[${index}].rules${match[2]}` : path;
  };
  const problems = [
    ...resolveRules({ devices, rules: { site } }).problems,
    // A switched-off device still has its overrides checked, alone (no site problems twice).
    ...resolveRules({ devices: switchedOff, rules: { site: {} } }).problems,
  ];
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  for (const problem of problems) {
    const issue = { path: where(problem.path), message: problem.message };
    const key = `${issue.path}\u0000${issue.message}`;
    if (!seen.has(key)) issues.push(issue);
    seen.add(key);
  }
  return issues;
}

const BUS_TYPES: readonly Bus['type'][] = ['rtu', 'tcp', 'frames', 'mqtt'];

/**
 * The top level parsed section by section when the whole does not parse, so that devices, actions
 * and rules are still checked against whatever is valid and every problem surfaces in one pass.
 */
function parseSections(raw: unknown): { config?: ParsedGatewayConfig; brokenBuses: Set<string> } {
  const brokenBuses = new Set<string>();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { brokenBuses };
  const doc = raw as Record<string, unknown>;
  const sections: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(GatewayConfig.shape)) {
    if (key === 'buses' && Array.isArray(doc.buses)) {
      sections.buses = doc.buses.flatMap((bus: unknown) => {
        const parsed = Bus.safeParse(bus);
        if (parsed.success) return [parsed.data];
        const { id, type } = (bus ?? {}) as { id?: unknown; type?: unknown };
        if (typeof id !== 'string') return [];
        // An invalid bus of a known type still lets its devices be checked (profile, address,
        // rules); only the configuration as a whole is refused.
        if (BUS_TYPES.includes(type as Bus['type'])) return [{ id, type } as Bus];
        brokenBuses.add(id);
        return [];
      });
      continue;
    }
    const parsed = (schema as z.ZodType).safeParse(doc[key]);
    const fallback = parsed.success ? parsed : (schema as z.ZodType).safeParse(undefined);
    if (fallback.success) sections[key] = fallback.data;
    else if (key === 'gateway') sections.gateway = { id: 'invalid', site: {} };
  }
  return { config: sections as ParsedGatewayConfig, brokenBuses };
}

/**
 * Checks a parsed configuration document in one pass: the schema, every device entry, the actions
 * and every rule override, each problem with its path. Problems outside `devices` and the rules are
 * fatal (nothing runs); a bad device entry disables only that device; a bad rule override keeps its
 * pack default.
 */
export function checkGatewayConfig(raw: unknown, options: { baseDir?: string } = {}): GatewayConfigCheck {
  const baseDir = options.baseDir ?? process.cwd();
  const parsed = GatewayConfig.safeParse(raw);
  const fatal: ValidationIssue[] = parsed.success ? [] : issuesOf(parsed.error);
  const sections = parsed.success
    ? { config: parsed.data, brokenBuses: new Set<string>() }
    : parseSections(raw);
  const config = sections.config;
  if (!config) return { fatal, disabled: [], ruleProblems: [] };

  const buses = new Map<string, Bus>();
  config.buses.forEach((bus, i) => {
    if (buses.has(bus.id))
      fatal.push({ path: `buses[${i}].id`, message: `bus id "${bus.id}" is used twice` });
    buses.set(bus.id, bus);
  });

  config.buses.forEach((bus, i) => {
    if (bus.type === 'mqtt' && !config.broker)
      fatal.push({
        path: `buses[${i}].type`,
        message: 'MQTT sensors publish into the local broker: configure `broker`',
      });
  });

  const taken = { ids: new Set<string>(), addresses: new Set<string>() };
  const devices: ConfiguredDevice[] = [];
  const disabled: DisabledDevice[] = [];
  const ruleEntries: RuleCheckEntry[] = [];
  config.devices.forEach((raw, index) => {
    const checked = checkDevice(raw, index, buses, sections.brokenBuses, taken, baseDir);
    if (checked.rules) ruleEntries.push(checked.rules);
    if (checked.device) devices.push(checked.device);
    else {
      const id =
        typeof raw === 'object' && raw && 'id' in raw && typeof raw.id === 'string'
          ? raw.id
          : `devices[${index}]`;
      if (checked.issues.length > 0) disabled.push({ device: id, index, issues: checked.issues });
    }
  });

  // One receiver speaks one frame layout: a device whose profile declares another is disabled.
  // Why not several per bus: a receiver's frames carry no layout tag, and layouts sharing a start
  // mark would each claim the other's frames (drivers/frames/README.md "Frame layouts").
  const layouts = new Map<string, { device: string; profile: string; layout: FrameLayout | undefined }>();
  for (const d of [...devices]) {
    if (d.resolved.type !== 'frame') continue;
    const layout = d.resolved.layout;
    const first = layouts.get(d.bus);
    if (!first) layouts.set(d.bus, { device: d.id, profile: d.profile, layout });
    else if (first.layout === layout || (first.layout && layout && sameLayout(first.layout, layout)))
      continue;
    else {
      const index = config.devices.findIndex((raw) => (raw as { id?: unknown })?.id === d.id);
      devices.splice(devices.indexOf(d), 1);
      disabled.push({
        device: d.id,
        index,
        issues: [
          {
            path: `devices[${index}].profile`,
            message: `bus "${d.bus}": profile "${d.profile}" of device "${d.id}" declares another frame layout than profile "${first.profile}" of device "${first.device}"; one receiver is decoded with one layout — give both profiles the same layout or put the devices on separate buses`,
          },
        ],
      });
    }
  }

  const byId = new Map(devices.map((d) => [d.id, d]));
  config.actions.forEach((action, i) => {
    if (action.do.kind === 'write') {
      const target = byId.get(action.do.device);
      if (!target)
        fatal.push({
          path: `actions[${i}].do.device`,
          message: `no enabled device "${action.do.device}" to write to`,
        });
      else if (target.busType !== 'rtu' && target.busType !== 'tcp')
        fatal.push({ path: `actions[${i}].do.device`, message: `"${target.id}" is not a Modbus device` });
    }
    for (const [j, d] of (action.on.devices ?? []).entries())
      if (!byId.has(d) && !disabled.some((x) => x.device === d))
        fatal.push({ path: `actions[${i}].on.devices[${j}]`, message: `no device "${d}"` });
  });

  const ruleProblems = checkRules(ruleEntries, config.rules.site);
  if (fatal.length > 0) return { fatal, disabled, ruleProblems };
  return {
    fatal,
    disabled,
    ruleProblems,
    result: { config: { ...config, devices }, disabled, ruleProblems },
  };
}

/** Every problem of a check as one list: fatal ones, then disabled devices', then rule overrides'. */
export function allProblems(check: GatewayConfigCheck): ValidationIssue[] {
  return [...check.fatal, ...check.disabled.flatMap((d) => d.issues), ...check.ruleProblems];
}

/**
 * Validates a parsed configuration document (checkGatewayConfig). When it cannot run, `issues`
 * holds every problem of the file — device entries and rule overrides too — so none waits for a
 * second round.
 */
export function validateGatewayConfig(
  raw: unknown,
  options: { baseDir?: string } = {},
):
  | { ok: true; result: GatewayConfigResult }
  | { ok: false; issues: ValidationIssue[]; check: GatewayConfigCheck } {
  const check = checkGatewayConfig(raw, options);
  if (check.result) return { ok: true, result: check.result };
  return { ok: false, issues: allProblems(check), check };
}

/**
 * Reads and validates the gateway's YAML file. An unreadable file or invalid YAML refuses to start
 * (CFG_ERR_UNREADABLE); fatal problems are listed all at once with their paths (CFG_ERR_INVALID).
 */
export function loadGatewayConfig(file: string): GatewayConfigResult {
  // Profile files named in the configuration are relative to it.
  const checked = validateGatewayConfig(readGatewayConfig(file), { baseDir: dirname(file) });
  if (!checked.ok)
    throw new DoorstepError('CFG_ERR_INVALID', {
      count: checked.issues.length,
      summary: `${file}\n${renderIssues(checked.issues)}`,
    });
  return checked.result;
}

/** Reads and checks the gateway's YAML file without refusing anything but an unreadable file. */
export function inspectGatewayConfig(file: string): GatewayConfigCheck {
  return checkGatewayConfig(readGatewayConfig(file), { baseDir: dirname(file) });
}

/** The file's YAML document; an unreadable file or invalid YAML is CFG_ERR_UNREADABLE. */
function readGatewayConfig(file: string): unknown {
  try {
    return readYamlFile(file);
  } catch (error) {
    const reason = error instanceof FileReadError ? error.reason : String(error);
    throw new DoorstepError('CFG_ERR_UNREADABLE', { file, reason }, { cause: error });
  }
}
