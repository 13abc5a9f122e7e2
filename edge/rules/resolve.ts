/**
 * Effective rules for a device: pack defaults ← site overrides ← device overrides, by alarm type.
 * Everything is validated; every problem is reported with its path. A rule whose override is
 * invalid keeps running with its pack default (a typo must never switch a fire rule off), and the
 * problem says so.
 */
import { DoorstepError } from '../../protocol/errors.js';
import type { GeomagneticUse, SensorKind } from '../../protocol/reading.js';
import { defaultAlarmTypes, defaultRulePack, type PackOptions } from './packs.js';
import { type ConditionInput, RuleOverride, RuleSpec, type RuleSpecInput } from './spec.js';

export interface DeviceRuleEntry {
  id: string;
  kind: SensorKind;
  use?: GeomagneticUse;
  /** Devices of one kind in one zone confirm each other (fire_confirmed). */
  zone?: string;
  pack?: PackOptions;
}

export interface RuleProblem {
  /** Where the problem is, e.g. `devices.gas-1.gas_low.threshold`. */
  path: string;
  message: string;
}

/** The effective, validated rules of one device, as the engine takes them. */
export interface DeviceRules {
  device: string;
  rules: RuleSpec[];
}

export interface RuleOverrideSet {
  /** By alarm type, for every device that has the rule (or of `kind`, for a new rule). */
  site?: Record<string, unknown>;
  /** By device id, then alarm type. */
  devices?: Record<string, Record<string, unknown>>;
}

interface Layer {
  path: string;
  override: RuleOverride;
}

function issuePath(base: string, path: readonly PropertyKey[]): string {
  return [base, ...path.map(String)].join('.');
}

function parseOverrides(raw: Record<string, unknown> | undefined, base: string, problems: RuleProblem[]) {
  const parsed = new Map<string, RuleOverride>();
  for (const [type, value] of Object.entries(raw ?? {})) {
    const result = RuleOverride.safeParse(value);
    if (result.success) parsed.set(type, result.data);
    else
      for (const issue of result.error.issues)
        problems.push({ path: issuePath(`${base}.${type}`, issue.path), message: issue.message });
  }
  return parsed;
}

function applyLayer(rule: RuleSpecInput, layer: Layer, problems: RuleProblem[]): RuleSpecInput {
  const { threshold, deadband, ...rest } = layer.override;
  const merged: RuleSpecInput = { ...rule, ...rest };
  if (threshold === undefined && deadband === undefined) return merged;
  const index = merged.when.findIndex((c) => c.kind === 'above' || c.kind === 'below');
  if (index < 0) {
    problems.push({
      path: `${layer.path}.threshold`,
      message: 'the rule has no above/below condition to take a threshold or deadband',
    });
    return merged;
  }
  merged.when = merged.when.map(
    (condition, i): ConditionInput =>
      i === index
        ? {
            ...condition,
            ...(threshold !== undefined ? { threshold } : {}),
            ...(deadband !== undefined ? { deadband } : {}),
          }
        : condition,
  );
  return merged;
}

/** Which layer set the field a zod issue points at, so the path names what the user wrote. */
function blame(path: readonly PropertyKey[], layers: readonly Layer[], packPath: string): string {
  const top = String(path[0] ?? '');
  const leaf = String(path[path.length - 1] ?? '');
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    if (
      top === 'when' &&
      (leaf === 'threshold' || leaf === 'deadband') &&
      layer.override[leaf] !== undefined
    ) {
      return `${layer.path}.${leaf}`;
    }
    if (top in layer.override) return issuePath(layer.path, path);
  }
  return issuePath(packPath, path);
}

/** Effective rules of one device (confirm peers not yet filled in: see resolveSiteRules). */
export function resolveDeviceRules(
  device: DeviceRuleEntry,
  overrides: RuleOverrideSet = {},
): { rules: RuleSpec[]; problems: RuleProblem[] } {
  const problems: RuleProblem[] = [];
  const site = parseOverrides(overrides.site, 'site', problems);
  const own = parseOverrides(overrides.devices?.[device.id], `devices.${device.id}`, problems);
  const packPath = `pack.${device.kind}`;
  const pack = defaultRulePack(device.kind, { ...device.pack, ...(device.use ? { use: device.use } : {}) });
  const byType = new Map(pack.map((rule) => [rule.type, rule]));
  const types = new Set([...byType.keys(), ...own.keys()]);
  for (const [type, override] of site)
    if (!byType.has(type) && override.kind === device.kind) types.add(type);

  const rules: RuleSpec[] = [];
  for (const type of types) {
    const deviceOverride = own.get(type);
    if (
      !byType.has(type) &&
      deviceOverride &&
      deviceOverride.when === undefined &&
      deviceOverride.kind === undefined
    ) {
      // Neither a rule of the pack nor a new rule: most often a misspelt type (`smok`).
      problems.push({
        path: `devices.${device.id}.${type}`,
        message: `no rule "${type}" for a ${device.kind} device (its rules: ${[...byType.keys()].join(', ')}); a new rule needs kind, severity and when`,
      });
      continue;
    }
    const layers: Layer[] = [];
    const siteOverride = site.get(type);
    if (siteOverride) layers.push({ path: `site.${type}`, override: siteOverride });
    if (deviceOverride) layers.push({ path: `devices.${device.id}.${type}`, override: deviceOverride });
    const base = byType.get(type);
    let merged = (base ?? { type }) as RuleSpecInput;
    for (const layer of layers) merged = applyLayer(merged, layer, problems);
    const result = RuleSpec.safeParse(merged);
    if (result.success) {
      if (result.data.enabled) rules.push(result.data);
      continue;
    }
    for (const issue of result.error.issues) {
      const message = base ? `${issue.message} (rule keeps its pack default)` : issue.message;
      // A rule that is not in the pack is the last override's to complete.
      const fallbackPath = base ? `${packPath}.${type}` : (layers.at(-1)?.path ?? `${packPath}.${type}`);
      problems.push({ path: blame(issue.path, layers, fallbackPath), message });
    }
    if (base) {
      const fallback = RuleSpec.safeParse(base);
      if (fallback.success && fallback.data.enabled) rules.push(fallback.data);
    }
  }
  return { rules, problems };
}

/**
 * Effective rules of every device of a site. Confirm rules without an explicit device list take
 * the other devices of the same kind in the same zone; a confirm rule left with no peer is
 * dropped (a lone detector cannot confirm itself).
 */
export function resolveSiteRules(
  devices: readonly DeviceRuleEntry[],
  overrides: RuleOverrideSet = {},
): { devices: DeviceRules[]; problems: RuleProblem[] } {
  const problems: RuleProblem[] = [];
  const known = new Set(devices.map((device) => device.id));
  for (const id of Object.keys(overrides.devices ?? {})) {
    if (!known.has(id))
      problems.push({ path: `devices.${id}`, message: `no device ${id} in the configuration` });
  }
  checkSiteTypes(devices, overrides.site ?? {}, problems);
  const resolved: DeviceRules[] = [];
  for (const device of devices) {
    const result = resolveDeviceRules(device, overrides);
    // Site overrides are checked once per device; report each problem once.
    for (const problem of result.problems) {
      if (!problems.some((seen) => seen.path === problem.path && seen.message === problem.message))
        problems.push(problem);
    }
    const rules: RuleSpec[] = [];
    for (const rule of result.rules) {
      if (rule.confirmWith === undefined) {
        rules.push(rule);
        continue;
      }
      const peers =
        rule.confirmWith.devices ??
        devices
          .filter(
            (other) =>
              other.id !== device.id &&
              other.kind === device.kind &&
              device.zone !== undefined &&
              other.zone === device.zone,
          )
          .map((other) => other.id);
      peers.forEach((peer, index) => {
        if (!known.has(peer)) {
          problems.push({
            path: `devices.${device.id}.${rule.type}.confirmWith.devices.${index}`,
            message: `no device ${peer} in the configuration`,
          });
        }
      });
      const livePeers = peers.filter((peer) => known.has(peer) && peer !== device.id);
      if (livePeers.length > 0)
        rules.push({ ...rule, confirmWith: { ...rule.confirmWith, devices: livePeers } });
    }
    resolved.push({ device: device.id, rules });
  }
  return { devices: resolved, problems };
}

/**
 * Site overrides that no device of the site checks: a type no pack has (a misspelt `smok`, or a new
 * rule without `kind`), and overrides of a pack's type that no device here has — checked against
 * that pack, so a figure outside its legal range is reported before the first such device arrives.
 */
function checkSiteTypes(
  devices: readonly DeviceRuleEntry[],
  site: Record<string, unknown>,
  problems: RuleProblem[],
): void {
  const known = defaultAlarmTypes();
  for (const [type, raw] of Object.entries(site)) {
    const override = RuleOverride.safeParse(raw);
    if (!override.success) {
      // Reported with its path by resolveDeviceRules for every device; here when there is none.
      if (devices.length === 0)
        for (const issue of override.error.issues)
          problems.push({ path: issuePath(`site.${type}`, issue.path), message: issue.message });
      continue;
    }
    const owners = known.get(type);
    if (owners === undefined) {
      if (override.data.kind === undefined)
        problems.push({
          path: `site.${type}`,
          message: `no default rule "${type}" (known: ${[...known.keys()].join(', ')}); a new site rule needs kind, severity and when`,
        });
      continue;
    }
    const covered = devices.some((device) =>
      defaultRulePack(device.kind, device.use ? { use: device.use } : {}).some((rule) => rule.type === type),
    );
    if (covered) continue;
    const owner = owners[0]!;
    const probe: DeviceRuleEntry = {
      id: '(none)',
      kind: owner.kind,
      ...(owner.use ? { use: owner.use } : {}),
    };
    for (const problem of resolveDeviceRules(probe, { site: { [type]: raw } }).problems)
      if (problem.path.startsWith(`site.${type}`)) problems.push(problem);
  }
}

/** Throws CFG_ERR_INVALID listing every problem with its path, when there is any. */
export function assertNoRuleProblems(problems: readonly RuleProblem[]): void {
  if (problems.length === 0) return;
  throw new DoorstepError('CFG_ERR_INVALID', {
    count: problems.length,
    summary: problems.map((problem) => `${problem.path}: ${problem.message}`).join('; '),
  });
}
