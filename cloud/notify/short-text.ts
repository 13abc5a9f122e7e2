/**
 * What fits on a phone screen: the compact text of an SMS (SMPP), of a WeCom text message that
 * @s a person, and the named parameters of a provider's approved SMS and voice templates. Built
 * from a rendered `Message`; every text a gateway supplied goes through `plainText` (one line,
 * web addresses defanged), so a gateway cannot put a link or a fake line into an SMS either.
 */
import { WORDS } from './labels.js';
import { type Message, truncateUtf8 } from './message.js';
import { plainText } from './safe-text.js';

/** The named values a provider template may use (`${type}` in Aliyun's template syntax). */
export interface TemplateValues {
  /** 预警 / 提醒 / 督办 */
  stage: string;
  /** 紧急 / 重要 … */
  severity: string;
  /** The alarm type in words, "等 N 条" when grouped. */
  type: string;
  /** The community's name (the last part of the site label). */
  site: string;
  /** The location label of the device, else its id. */
  location: string;
  /** Value and unit, or "-". */
  value: string;
  /** HH:MM, Asia/Shanghai. */
  time: string;
  /** Why now: 新警情, 未在3分钟内确认 … */
  reason: string;
  /** How many cases the notification carries. */
  count: string;
  /** The acknowledge link. */
  link: string;
}

export const TEMPLATE_KEYS = [
  'stage',
  'severity',
  'type',
  'site',
  'location',
  'value',
  'time',
  'reason',
  'count',
  'link',
] as const satisfies readonly (keyof TemplateValues)[];
export type TemplateKey = (typeof TEMPLATE_KEYS)[number];

export function templateValues(message: Message): TemplateValues {
  const first = message.cases[0];
  const n = message.cases.length;
  const zh = message.lang === 'zh';
  const type = first ? plainText(first.typeLabel) : '';
  return {
    stage: message.stageLabel,
    severity: message.severityLabel,
    type: n > 1 ? (zh ? `${type}等${n}条` : `${type} and ${n - 1} more`) : type,
    site: first ? plainText(first.siteLabel.split(' / ').at(-1) ?? '') : '',
    location: first ? plainText(first.location ?? first.device) : '',
    value: first?.valueText ? plainText(first.valueText) : '-',
    time: first ? first.raisedAtText.slice(11, 16) : '',
    reason: message.reason,
    count: String(n),
    link: message.links.ack,
  };
}

/** How a limit is counted: UTF-8 bytes (WeCom) or UTF-16 code units (an SMS in UCS-2). */
export type TextUnit = 'utf8' | 'utf16';

function measure(text: string, unit: TextUnit): number {
  return unit === 'utf8' ? Buffer.byteLength(text, 'utf8') : text.length;
}

function cut(text: string, max: number, unit: TextUnit): string {
  if (unit === 'utf8') return truncateUtf8(text, max);
  let end = Math.max(0, max);
  // Never split a surrogate pair (a character outside the BMP).
  const code = text.charCodeAt(end - 1);
  if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--;
  return text.slice(0, end);
}

/**
 * A short plain text: title, where, value, time, reason, how many more, and the acknowledge
 * link; at most `max` units — the facts are cut first, the title and the link stay.
 */
export function compactText(message: Message, max: number, unit: TextUnit = 'utf8'): string {
  const lang = message.lang;
  const sep = lang === 'zh' ? '：' : ': ';
  const v = templateValues(message);
  const first = message.cases[0];
  const facts = [
    `${WORDS.site[lang]}${sep}${v.site}${first?.location ? ` ${plainText(first.location)}` : ''}`,
    ...(first?.valueText ? [`${WORDS.value[lang]}${sep}${v.value}`] : []),
    ...(first ? [`${WORDS.time[lang]}${sep}${first.raisedAtText}`] : []),
    `${WORDS.reason[lang]}${sep}${v.reason}`,
    ...(message.cases.length > 1
      ? [WORDS.more[lang].replace('{n}', String(message.cases.length - 1)).replace('未列出', '')]
      : []),
  ].join('\n');
  const head = message.title;
  const tail = `${WORDS.ack[lang]}${sep}${message.links.ack}`;
  const ellipsis = '…';
  const room = max - measure(`${head}\n\n${tail}`, unit);
  const body =
    measure(facts, unit) <= room ? facts : `${cut(facts, room - measure(ellipsis, unit), unit)}${ellipsis}`;
  return room > measure(ellipsis, unit) ? `${head}\n${body}\n${tail}` : cut(`${head}\n${tail}`, max, unit);
}
