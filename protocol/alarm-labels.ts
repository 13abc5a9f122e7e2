import type { AlarmSeverity } from './alarm.js';

/**
 * Words for alarm types in Chinese and English, shared by the cloud's messages and the gateway's
 * own texts (edge/modem): one table, so a type has the same name wherever a person reads it. Duty
 * staff read these at 3 a.m. on a phone, so every default alarm type has a name; an unknown type
 * falls back to its raw slug rather than to nothing.
 */
export interface Label {
  zh: string;
  en: string;
}

/**
 * Every alarm type the default rules raise (edge rules + cloud). Units follow the sensors:
 * combustible gas in %LEL (GB 15322.1), fire-water pressure in MPa (GB 50974-2014), manhole
 * tilt in degrees.
 */
export const ALARM_TYPES: Record<string, Label & { unit?: string }> = {
  smoke: { zh: '烟感报警', en: 'Smoke alarm' },
  fire_confirmed: { zh: '确认火警', en: 'Confirmed fire' },
  gas_low: { zh: '可燃气体低限报警', en: 'Combustible gas low-level alarm', unit: '%LEL' },
  gas_high: { zh: '可燃气体高限报警', en: 'Combustible gas high-level alarm', unit: '%LEL' },
  // Gateways before the one-alarm-per-level packs raised the detector's AL1/AL2 as alarms of their
  // own; today both feed gas_low/gas_high (edge/rules/README.md). Kept so their cases still read well.
  gas_al1: { zh: '可燃气体一级报警', en: 'Combustible gas alarm level 1 (AL1)', unit: '%LEL' },
  gas_al2: { zh: '可燃气体二级报警', en: 'Combustible gas alarm level 2 (AL2)', unit: '%LEL' },
  pressure_low: { zh: '消防水压低', en: 'Fire-water pressure low', unit: 'MPa' },
  pressure_low_low: { zh: '消防水压过低', en: 'Fire-water pressure very low', unit: 'MPa' },
  pressure_high: { zh: '消防水压高', en: 'Fire-water pressure high', unit: 'MPa' },
  door_open_warning: { zh: '防火门未关闭预警', en: 'Fire door left open (warning)' },
  door_held_open: { zh: '防火门常开报警', en: 'Fire door held open (alarm)' },
  fire_lane_occupied: { zh: '消防通道占用', en: 'Fire lane occupied' },
  manhole_tilt: { zh: '井盖倾斜/移位', en: 'Manhole cover tilted or displaced', unit: '°' },
  low_battery: { zh: '电池电量低', en: 'Battery low' },
  device_offline: { zh: '设备离线', en: 'Device offline' },
  heartbeat_lost: { zh: '心跳丢失', en: 'Heartbeat lost' },
  tamper: { zh: '防拆报警', en: 'Tamper alarm' },
  device_fault: { zh: '设备故障', en: 'Device fault' },
  chattering: { zh: '频繁报警（抖动）', en: 'Chattering alarm' },
};

export const SEVERITY_LABELS: Record<AlarmSeverity, Label> = {
  critical: { zh: '紧急', en: 'Critical' },
  major: { zh: '重要', en: 'Major' },
  minor: { zh: '次要', en: 'Minor' },
  info: { zh: '提示', en: 'Info' },
};

/** The alarm type's name in `lang`, or the slug itself for a type without one. */
export function alarmTypeLabel(type: string, lang: 'zh' | 'en'): string {
  return ALARM_TYPES[type]?.[lang] ?? type;
}

export function alarmTypeUnit(type: string): string | undefined {
  return ALARM_TYPES[type]?.unit;
}

const SHANGHAI = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** `2024-05-01 03:12:09` in China Standard Time (UTC+8, no DST), whatever the host's zone. */
export function shanghaiTime(ms: number): string {
  const parts: Record<string, string> = {};
  for (const p of SHANGHAI.formatToParts(new Date(ms))) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}
