import { STANDARD_POINTS, UNITS } from '../../protocol/index.js';

/**
 * The one vocabulary every profile shape (register, frame, MQTT JSON) shares: the quantities
 * doorstep knows by point name — with their label, unit, physical range and poll class — the
 * units a profile may declare, and the alarm outputs whose meaning depends on a quantity. A
 * profile file names a standard point and gets the rest from here, so a gas concentration is
 * `gas`, in %LEL, 0–100, critical, whichever vendor's map it came from.
 */
export interface Quantity {
  point: string;
  name: string;
  nameZh: string;
  valueType: 'number' | 'boolean';
  unit: string;
  range?: [number, number];
  priority: 'critical' | 'normal' | 'diagnostic';
}

const P = STANDARD_POINTS;

const list: Quantity[] = [
  // GB 15322.1: concentration of combustible gas in %LEL, 0–100.
  {
    point: P.gas.concentration,
    name: 'Gas concentration',
    nameZh: '可燃气体浓度',
    valueType: 'number',
    unit: UNITS.lel,
    range: [0, 100],
    priority: 'critical',
  },
  {
    point: P.gas.al1,
    name: 'Gas alarm level 1 (low)',
    nameZh: '低限报警',
    valueType: 'boolean',
    unit: '',
    priority: 'critical',
  },
  {
    point: P.gas.al2,
    name: 'Gas alarm level 2 (high)',
    nameZh: '高限报警',
    valueType: 'boolean',
    unit: '',
    priority: 'critical',
  },
  // GB 50974-2014: fire-water pressure in MPa.
  {
    point: P.water_pressure.pressure,
    name: 'Water pressure',
    nameZh: '消防水压',
    valueType: 'number',
    unit: UNITS.mpa,
    range: [0, 1.6],
    priority: 'critical',
  },
  {
    point: P.smoke.alarm,
    name: 'Smoke alarm',
    nameZh: '烟雾报警',
    valueType: 'boolean',
    unit: '',
    priority: 'critical',
  },
  {
    point: P.door.open,
    name: 'Door open',
    nameZh: '门开启',
    valueType: 'boolean',
    unit: '',
    priority: 'critical',
  },
  {
    point: P.geomagnetic.vehicle,
    name: 'Vehicle present',
    nameZh: '车辆占用',
    valueType: 'boolean',
    unit: '',
    priority: 'critical',
  },
  {
    point: P.geomagnetic.tilt,
    name: 'Cover tilt',
    nameZh: '井盖倾角',
    valueType: 'number',
    unit: UNITS.degree,
    range: [0, 180],
    priority: 'critical',
  },
  {
    point: P.geomagnetic.coverOpen,
    name: 'Cover open',
    nameZh: '井盖开启',
    valueType: 'boolean',
    unit: '',
    priority: 'critical',
  },
  {
    point: P.diagnostics.fault,
    name: 'Device fault',
    nameZh: '设备故障',
    valueType: 'boolean',
    unit: '',
    priority: 'normal',
  },
  {
    point: P.diagnostics.faultCode,
    name: 'Fault code',
    nameZh: '故障代码',
    valueType: 'number',
    unit: '',
    priority: 'normal',
  },
  {
    point: P.diagnostics.tamper,
    name: 'Tamper',
    nameZh: '防拆',
    valueType: 'boolean',
    unit: '',
    priority: 'normal',
  },
  {
    point: P.diagnostics.batteryLow,
    name: 'Battery low',
    nameZh: '电池欠压',
    valueType: 'boolean',
    unit: '',
    priority: 'diagnostic',
  },
  {
    point: P.diagnostics.battery,
    name: 'Battery',
    nameZh: '电池电量',
    valueType: 'number',
    unit: UNITS.percent,
    range: [0, 100],
    priority: 'diagnostic',
  },
  {
    point: P.diagnostics.signal,
    name: 'Signal strength',
    nameZh: '信号强度',
    valueType: 'number',
    unit: UNITS.dbm,
    range: [-140, 0],
    priority: 'diagnostic',
  },
  {
    point: P.diagnostics.heartbeat,
    name: 'Heartbeat',
    nameZh: '心跳',
    valueType: 'boolean',
    unit: '',
    priority: 'normal',
  },
  {
    point: 'maintenance',
    name: 'Inhibit / maintenance mode',
    nameZh: '维护/屏蔽',
    valueType: 'boolean',
    unit: '',
    priority: 'normal',
  },
  {
    point: 'level',
    name: 'Water level',
    nameZh: '水位',
    valueType: 'number',
    unit: 'm',
    range: [0, 20],
    priority: 'critical',
  },
  {
    point: 'flow',
    name: 'Flow rate',
    nameZh: '瞬时流量',
    valueType: 'number',
    unit: 'm³/h',
    range: [0, 10000],
    priority: 'normal',
  },
  {
    point: 'flow_total',
    name: 'Totalised flow',
    nameZh: '累计流量',
    valueType: 'number',
    unit: 'm³',
    priority: 'diagnostic',
  },
  {
    point: 'temperature',
    name: 'Temperature',
    nameZh: '温度',
    valueType: 'number',
    unit: '°C',
    range: [-40, 125],
    priority: 'normal',
  },
  {
    point: 'heat_alarm',
    name: 'Heat alarm',
    nameZh: '感温报警',
    valueType: 'boolean',
    unit: '',
    priority: 'critical',
  },
  {
    point: 'loop_current',
    name: 'Loop current',
    nameZh: '回路电流',
    valueType: 'number',
    unit: 'mA',
    range: [0, 24],
    priority: 'diagnostic',
  },
];

export const QUANTITIES: ReadonlyMap<string, Readonly<Quantity>> = new Map(list.map((q) => [q.point, q]));

/** Units a profile may declare: doorstep's own (protocol UNITS) and those of the catalogue's device families. */
export const KNOWN_UNITS: ReadonlySet<string> = new Set([
  ...Object.values(UNITS),
  'mA',
  'V',
  'µT',
  'dB/m',
  '%/m',
  'm',
  'cm',
  'mm',
  'm³/h',
  'm³',
  'L/min',
  'm/s',
  'kPa',
  'bar',
  '°C',
  '%RH',
  'ppm',
  's',
  'min',
  'h',
]);

/**
 * Alarm outputs whose truth depends on a quantity: a detector cannot be in alarm with no gas.
 * A profile that produces both gets the check `alarm ⇒ quantity > above` without declaring it.
 */
export const ALARM_OUTPUTS: ReadonlyMap<string, { quantity: string; above: number }> = new Map([
  [P.gas.al1, { quantity: P.gas.concentration, above: 0 }],
  [P.gas.al2, { quantity: P.gas.concentration, above: 0 }],
]);
