/**
 * Words for people: alarm types, severities and units in Chinese and English. Duty staff read
 * these at 3 a.m. on a phone, so every default alarm type has a name; an unknown type falls back
 * to its raw slug rather than to nothing.
 */
import { type Label, SEVERITY_LABELS } from '../../protocol/alarm-labels.js';
import type { AlarmSeverity } from '../../protocol/index.js';

export type Lang = 'zh' | 'en';

// The alarm-type and severity words live in protocol/ so that the gateway's own texts (edge/modem) use the same words.
export {
  ALARM_TYPES,
  alarmTypeLabel,
  alarmTypeUnit,
  type Label,
  SEVERITY_LABELS,
  shanghaiTime,
} from '../../protocol/alarm-labels.js';

/** Words used around the facts in every message. */
export const WORDS = {
  site: { zh: '地点', en: 'Site' },
  location: { zh: '位置', en: 'Location' },
  device: { zh: '设备', en: 'Device' },
  value: { zh: '数值', en: 'Value' },
  time: { zh: '时间', en: 'Time' },
  reason: { zh: '原因', en: 'Reason' },
  occurrence: { zh: '发生次数', en: 'Occurrence' },
  severity: { zh: '级别', en: 'Severity' },
  cases: { zh: '合并告警', en: 'Grouped alarms' },
  view: { zh: '查看详情', en: 'View' },
  ack: { zh: '确认接警', en: 'Acknowledge' },
  feedback: { zh: '填写反馈', en: 'Give feedback' },
  open: { zh: '处理', en: 'Open' },
  test: { zh: '测试', en: 'test' },
  more: { zh: '另有 {n} 条未列出', en: '{n} more not listed' },
  cleared: { zh: '已恢复', en: 'cleared' },
  latched: { zh: '已恢复待复位', en: 'cleared, awaiting reset' },
  acked: { zh: '已确认', en: 'acknowledged' },
} as const satisfies Record<string, Label>;

export function severityLabel(severity: AlarmSeverity, lang: Lang): string {
  return SEVERITY_LABELS[severity]?.[lang] ?? severity;
}
