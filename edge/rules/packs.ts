/**
 * Default rule packs per sensor kind: the rule files of `packs/` (one per kind, plus diagnostics
 * for every kind), in the rule file format integrators write (file.ts). Every figure cites its
 * source (a standard by number, practice, or our proposal; docs/standards.md) with its confidence
 * (H/M/L) beside it in the file; figures of L confidence are meant to be overridden per site or
 * device (resolve.ts). Loaded once, synchronously, when first imported: a broken built-in file stops
 * the process with EDGE_ERR_RULE_FILE and every problem listed.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { GeomagneticUse, SensorKind } from '../../protocol/reading.js';
import { assertNoFileProblems, type ParsedRuleFile, parseRuleFile } from './file.js';
import type { RuleSpecInput } from './spec.js';

export interface PackOptions {
  /** The gas detector's own low set point in %LEL (default 20; GB 15322.1 allows 1–25). */
  gasLowSetPointLel?: number;
  /** Full scale of the pressure transmitter in MPa, for the 2 %-of-span deadband (default 1.6). */
  pressureSpanMpa?: number;
  /** Period of the device's heartbeat point in ms (default 60 000; Midas toggles every 2 000). */
  heartbeatPeriodMs?: number;
  /** Geomagnetic sensors: fire-lane vehicle presence or manhole cover; omitted: both rule sets. */
  use?: GeomagneticUse;
}

const KINDS: readonly SensorKind[] = ['smoke', 'gas', 'water_pressure', 'door', 'geomagnetic'];

/**
 * The packs' folder: `packs/` beside this module (sources and dist/), or `rule-packs/` beside a
 * bundle's chunk (a single-file build copies the folder there, as the crash tests do).
 */
function packDir(): URL {
  for (const name of ['./packs/', './rule-packs/']) {
    const dir = new URL(name, import.meta.url);
    if (existsSync(new URL('diagnostics.yaml', dir))) return dir;
  }
  return new URL('./packs/', import.meta.url);
}

export const PACK_DIR: string = packDir().pathname;

const texts = new Map<string, string>();
function packText(name: string): string {
  let text = texts.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`${name}.yaml`, packDir()), 'utf8');
    texts.set(name, text);
  }
  return text;
}

/** Parameters a pack file declares, filled from the device's pack options. */
function paramsFor(file: string, options: PackOptions): Record<string, number> {
  const all: Record<string, number | undefined> = {
    gasLowSetPointLel: options.gasLowSetPointLel,
    pressureSpanMpa: options.pressureSpanMpa,
    heartbeatPeriodMs: options.heartbeatPeriodMs,
  };
  const declared = defaults.get(file)?.params ?? {};
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(all))
    if (value !== undefined && name in declared) out[name] = value;
  return out;
}

function load(name: string, params: Record<string, number> = {}): ParsedRuleFile {
  const parsed = parseRuleFile(packText(name), params);
  assertNoFileProblems(`edge/rules/packs/${name}.yaml`, parsed.problems);
  return parsed;
}

/** Each pack with its own defaults, checked once at start. */
const defaults = new Map<string, ParsedRuleFile>();
for (const name of [...KINDS, 'diagnostics']) defaults.set(name, load(name));

function rulesOf(name: string, options: PackOptions): RuleSpecInput[] {
  const params = paramsFor(name, options);
  const file = Object.keys(params).length === 0 ? defaults.get(name)! : load(name, params);
  return structuredClone(file.rules);
}

/** The default rules for a device of `kind`, diagnostics included (unparsed: defaults apply on parse). */
export function defaultRulePack(kind: SensorKind, options: PackOptions = {}): RuleSpecInput[] {
  const specific = rulesOf(kind, options).filter(
    (rule) => options.use === undefined || rule.use === undefined || rule.use === options.use,
  );
  return [...specific, ...rulesOf('diagnostics', options)];
}

/**
 * Every alarm type a default pack raises, with the kinds (and geomagnetic uses) whose pack has it,
 * so a configuration can tell a misspelt type (`smok`) from a site-wide override of a type that
 * only some kinds have.
 */
export function defaultAlarmTypes(): Map<string, { kind: SensorKind; use?: GeomagneticUse }[]> {
  const types = new Map<string, { kind: SensorKind; use?: GeomagneticUse }[]>();
  const kinds: { kind: SensorKind; use?: GeomagneticUse }[] = [
    { kind: 'smoke' },
    { kind: 'gas' },
    { kind: 'water_pressure' },
    { kind: 'door' },
    { kind: 'geomagnetic', use: 'vehicle_presence' },
    { kind: 'geomagnetic', use: 'manhole_tilt' },
  ];
  for (const entry of kinds)
    for (const rule of defaultRulePack(entry.kind, entry.use ? { use: entry.use } : {}))
      types.set(rule.type, [...(types.get(rule.type) ?? []), entry]);
  return types;
}
