import {
  type AlarmSeverity,
  alarmTypeLabel,
  alarmTypeUnit,
  SEVERITY_LABELS,
  shanghaiTime,
} from '../../protocol/index.js';

/** What a text says about one alarm: words a person reads, never raw ids where a label exists. */
export interface TextAlarm {
  type: string;
  severity: AlarmSeverity;
  /** The device's location label from the gateway configuration ("3号楼2单元 楼道"). */
  location: string;
  /** When it was raised (gateway clock, ms). */
  ts: number;
  value?: number | string | boolean;
  /** Back to normal before the text went out. */
  cleared?: boolean;
}

/** At most this many alarms are listed in one text; the rest are counted. */
export const MAX_LISTED = 4;

function value(a: TextAlarm): string {
  if (typeof a.value !== 'number') return '';
  const unit = alarmTypeUnit(a.type);
  return unit ? ` ${a.value}${unit === '%LEL' || unit === '°' ? '' : ' '}${unit}` : '';
}

/**
 * The text sent to a duty number: severity, location, alarm, time (Asia/Shanghai), the gateway's
 * name, and why it comes by text (the platform does not have it). One alarm reads as a sentence;
 * several due at once travel together, listed with their time of day.
 */
export function composeText(alarms: readonly TextAlarm[], gatewayName: string, lang: 'zh' | 'en'): string {
  const first = alarms[0];
  if (!first) throw new Error('composeText needs at least one alarm');
  const worst = alarms.some((a) => a.severity === 'critical') ? 'critical' : first.severity;
  const sev = SEVERITY_LABELS[worst][lang];
  if (lang === 'en') {
    const tail = `Gateway: ${gatewayName}. Not received by the platform (network down): check on site now.`;
    if (alarms.length === 1)
      return `[${sev} alarm] ${first.location} ${alarmTypeLabel(first.type, 'en')}${value(first)}, ${shanghaiTime(first.ts)} (Beijing time)${first.cleared ? ', since cleared' : ''}. ${tail}`;
    const listed = alarms
      .slice(0, MAX_LISTED)
      .map(
        (a, i) =>
          `${i + 1}. ${a.location.slice(0, 40)} ${alarmTypeLabel(a.type, 'en')}${value(a)} ${shanghaiTime(a.ts).slice(11)}${a.cleared ? ' (cleared)' : ''}`,
      );
    const more = alarms.length > MAX_LISTED ? ` and ${alarms.length - MAX_LISTED} more` : '';
    return `[${sev} alarm] ${alarms.length} alarms: ${listed.join('; ')}${more}. ${tail}`;
  }
  const tail = `网关：${gatewayName}。平台未收到（网络中断），请立即到场核实。`;
  if (alarms.length === 1)
    return `【${sev}报警】${first.location} ${alarmTypeLabel(first.type, 'zh')}${value(first)}，${shanghaiTime(first.ts)}${first.cleared ? '（现已恢复）' : ''}。${tail}`;
  const listed = alarms
    .slice(0, MAX_LISTED)
    .map(
      (a, i) =>
        `${i + 1}.${a.location.slice(0, 40)} ${alarmTypeLabel(a.type, 'zh')}${value(a)} ${shanghaiTime(a.ts).slice(11)}${a.cleared ? '（已恢复）' : ''}`,
    );
  const more = alarms.length > MAX_LISTED ? `；另有${alarms.length - MAX_LISTED}条` : '';
  return `【${sev}报警】共${alarms.length}条：${listed.join('；')}${more}。${tail}`;
}
