/**
 * Default rule packs per sensor kind. Every figure cites its source (a standard by number, practice,
 * or our proposal) with its confidence (H/M/L), as edge/rules/README.md lists them; figures of L
 * confidence are meant to be overridden per site or device (resolve.ts).
 */
import type { GeomagneticUse, SensorKind } from '../../protocol/reading.js';
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

// GB 15322.1 (M): a single/low set point lies within 1–25 %LEL; high level 50 %LEL (GB/T 50493-2019).
export const GAS_LOW_RANGE_LEL: [number, number] = [1, 25];
export const GAS_LOW_DEFAULT_LEL = 20;
export const GAS_HIGH_LEL = 50;
// GB/T 50493-2019 (M): the second (high) level is set at ≤ 50 %LEL; above the low range's floor.
export const GAS_HIGH_RANGE_LEL: [number, number] = [1, 50];
// GB 50974-2014 §5.2.2 (H): worst-point static pressure ≥ 0.10 MPa (≥ 0.07 residential);
// §7.4.12 (M): > 0.70 MPa needs pressure reduction.
export const PRESSURE_LOW_MPA = 0.1;
export const PRESSURE_LOW_LOW_MPA = 0.07;
export const PRESSURE_HIGH_MPA = 0.7;
// ISA-18.2 practice (L, recollection): 2 % of span deadband, 15 s on/off delay for pressure alarms.
export const PRESSURE_DEADBAND_FRACTION = 0.02;
export const PRESSURE_DELAY_MS = 15_000;
// Assumed transmitter span: 0–1.6 MPa is a common range for fire-water transmitters (our assumption).
export const DEFAULT_PRESSURE_SPAN_MPA = 1.6;
// GB 29364 vendor practice (L): a normally-closed fire door held open ~10 s → "open", ~60 s → fault.
export const DOOR_WARNING_MS = 10_000;
export const DOOR_ALARM_MS = 60_000;
// Fire-lane occupancy: on-delay of minutes, 5 is a sane default (our proposal, L).
export const FIRE_LANE_DELAY_MS = 5 * 60_000;
// Manhole cover: tilt 10–15° persisting ≥ 3 s, latched until inspected (vendor practice, L).
export const MANHOLE_TILT_DEG = 12;
export const MANHOLE_DELAY_MS = 3_000;
// GB 26875.1 commissioning checklists (M): a network fault must be signalled within 100 s;
// 60 s offline leaves margin for the uplink.
export const OFFLINE_DELAY_MS = 60_000;
// Heartbeat lost after 3 missed periods (our proposal, L).
export const HEARTBEAT_MISSED_PERIODS = 3;
export const DEFAULT_HEARTBEAT_PERIOD_MS = 60_000;
// Low battery below 20 % (our proposal, L); GB 20517-2025 §5.11.1 (H): low battery is a fault,
// distinct from fire.
export const BATTERY_LOW_PERCENT = 20;
// Confirmed fire: two detectors of one zone within 10 min (our proposal, L; the standards ask for
// two independent signals, GB 50116-2013 §4.1.6, without a window).
export const FIRE_CONFIRM_WINDOW_MS = 10 * 60_000;

function diagnosticsPack(options: PackOptions): RuleSpecInput[] {
  const heartbeatPeriodMs = options.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_PERIOD_MS;
  return [
    {
      type: 'low_battery',
      severity: 'minor',
      kind: 'any',
      when: [
        { kind: 'isTrue', point: 'battery_low' },
        { kind: 'below', point: 'battery', threshold: BATTERY_LOW_PERCENT, deadband: 5 },
      ],
      source: 'battery_low bit or < 20 % (our proposal, L); GB 20517-2025 §5.11.1',
    },
    {
      type: 'device_offline',
      severity: 'minor',
      kind: 'any',
      when: [{ kind: 'linkOffline' }],
      onDelayMs: OFFLINE_DELAY_MS,
      source: 'GB 26875.1 network fault ≤ 100 s (M)',
    },
    {
      type: 'heartbeat_lost',
      severity: 'minor',
      kind: 'any',
      when: [
        { kind: 'unchanged', point: 'heartbeat', staleAfterMs: HEARTBEAT_MISSED_PERIODS * heartbeatPeriodMs },
      ],
      source: '3 × heartbeat period (our proposal, L)',
    },
    { type: 'tamper', severity: 'minor', kind: 'any', when: [{ kind: 'isTrue', point: 'tamper' }] },
    { type: 'device_fault', severity: 'minor', kind: 'any', when: [{ kind: 'isTrue', point: 'fault' }] },
  ];
}

function smokePack(): RuleSpecInput[] {
  return [
    {
      type: 'smoke',
      severity: 'critical',
      kind: 'smoke',
      when: [{ kind: 'isTrue', point: 'smoke' }],
      latched: true,
      source: 'detector alarm bit; latched per ISA-18.2 (fire)',
    },
    {
      type: 'fire_confirmed',
      severity: 'critical',
      kind: 'smoke',
      when: [{ kind: 'isTrue', point: 'smoke' }],
      latched: true,
      confirmWith: { point: 'smoke', withinMs: FIRE_CONFIRM_WINDOW_MS },
      source: 'GB 50116-2013 §4.1.6; GB 55036-2022 §12.0.11 (H); 10 min window (L)',
    },
  ];
}

/**
 * One alarm per gas level, whoever sees it first: the detector's own output (AL1/AL2 bit or alarm
 * level register) and doorstep's set point on the %LEL watch the same concentration, so they are
 * two conditions of one rule, not two alarms (docs/architecture.md invariant 7). The set point comes first: its
 * point gives the transition its value and the `threshold`/`deadband` overrides their target.
 */
function gasPack(options: PackOptions): RuleSpecInput[] {
  return [
    {
      type: 'gas_low',
      severity: 'major',
      kind: 'gas',
      when: [
        {
          kind: 'above',
          point: 'gas',
          threshold: options.gasLowSetPointLel ?? GAS_LOW_DEFAULT_LEL,
          inclusive: true,
        },
        { kind: 'isTrue', point: 'gas_al1' },
      ],
      thresholdRange: GAS_LOW_RANGE_LEL,
      source: "GB 15322.1 set point within 1–25 %LEL (M), or the detector's own AL1",
    },
    {
      type: 'gas_high',
      severity: 'critical',
      kind: 'gas',
      when: [
        { kind: 'above', point: 'gas', threshold: GAS_HIGH_LEL, inclusive: true },
        { kind: 'isTrue', point: 'gas_al2' },
      ],
      latched: true,
      thresholdRange: GAS_HIGH_RANGE_LEL,
      source: "GB 15322.1; GB/T 50493-2019 high level ≤ 50 %LEL (M), or the detector's own AL2",
    },
  ];
}

function pressurePack(options: PackOptions): RuleSpecInput[] {
  const deadband = PRESSURE_DEADBAND_FRACTION * (options.pressureSpanMpa ?? DEFAULT_PRESSURE_SPAN_MPA);
  const delays = { onDelayMs: PRESSURE_DELAY_MS, offDelayMs: PRESSURE_DELAY_MS };
  const isa = '2 % span deadband, 15 s delays: ISA-18.2 practice (L)';
  return [
    {
      type: 'pressure_low',
      severity: 'major',
      kind: 'water_pressure',
      when: [{ kind: 'below', point: 'pressure', threshold: PRESSURE_LOW_MPA, deadband }],
      ...delays,
      source: `GB 50974-2014 §5.2.2 ≥ 0.10 MPa (H); ${isa}`,
    },
    {
      type: 'pressure_low_low',
      severity: 'major',
      kind: 'water_pressure',
      when: [{ kind: 'below', point: 'pressure', threshold: PRESSURE_LOW_LOW_MPA, deadband }],
      ...delays,
      source: `GB 50974-2014 §5.2.2 ≥ 0.07 MPa residential (H); ${isa}`,
    },
    {
      type: 'pressure_high',
      severity: 'major',
      kind: 'water_pressure',
      when: [{ kind: 'above', point: 'pressure', threshold: PRESSURE_HIGH_MPA, deadband }],
      ...delays,
      source: `GB 50974-2014 §7.4.12 > 0.70 MPa (M); ${isa}`,
    },
  ];
}

function doorPack(): RuleSpecInput[] {
  const when = [{ kind: 'isTrue' as const, point: 'door_open' }];
  return [
    {
      type: 'door_open_warning',
      severity: 'minor',
      kind: 'door',
      when,
      onDelayMs: DOOR_WARNING_MS,
      source: 'GB 29364 practice ~10 s (L)',
    },
    {
      type: 'door_held_open',
      severity: 'major',
      kind: 'door',
      when,
      onDelayMs: DOOR_ALARM_MS,
      source: 'GB 29364 practice ~60 s (L)',
    },
  ];
}

function geomagneticPack(use: GeomagneticUse | undefined): RuleSpecInput[] {
  const rules: RuleSpecInput[] = [];
  if (use !== 'manhole_tilt') {
    rules.push({
      type: 'fire_lane_occupied',
      severity: 'major',
      kind: 'geomagnetic',
      use: 'vehicle_presence',
      when: [{ kind: 'isTrue', point: 'vehicle_present' }],
      onDelayMs: FIRE_LANE_DELAY_MS,
      source: '5 min on-delay, all day unless scheduled (our proposal, L)',
    });
  }
  if (use !== 'vehicle_presence') {
    rules.push({
      type: 'manhole_tilt',
      severity: 'major',
      kind: 'geomagnetic',
      use: 'manhole_tilt',
      when: [
        { kind: 'above', point: 'tilt', threshold: MANHOLE_TILT_DEG, deadband: 2 },
        { kind: 'isTrue', point: 'cover_open' },
      ],
      onDelayMs: MANHOLE_DELAY_MS,
      latched: true,
      source: 'tilt 10–15° for ≥ 3 s, latched until inspected: vendor practice (L)',
    });
  }
  return rules;
}

/** The default rules for a device of `kind`, diagnostics included (unparsed: defaults apply on parse). */
export function defaultRulePack(kind: SensorKind, options: PackOptions = {}): RuleSpecInput[] {
  const specific: Record<SensorKind, () => RuleSpecInput[]> = {
    smoke: smokePack,
    gas: () => gasPack(options),
    water_pressure: () => pressurePack(options),
    door: doorPack,
    geomagnetic: () => geomagneticPack(options.use),
  };
  return [...specific[kind](), ...diagnosticsPack(options)];
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
