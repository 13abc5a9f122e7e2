/**
 * Turns a NotificationRequest into what a person reads, in their language: a title, an e-mail
 * subject, plain text, HTML, markdown sized for a robot's limit, and the structured JSON of the
 * generic webhook. Pure functions: no clock, no I/O (the caller passes site names and base URL).
 */
import type { AlarmSeverity, SitePath } from '../../protocol/index.js';
import type { AlarmCase, NotificationRequest, Recipient, Stage } from '../alarms/contract.js';
import { STAGE_LABELS } from '../alarms/contract.js';
import { alarmTypeLabel, alarmTypeUnit, type Lang, severityLabel, shanghaiTime, WORDS } from './labels.js';
import { markdownText, markdownUrl, plainText } from './safe-text.js';

export interface RenderOptions {
  /** Display names of sites by path (`pudong`, `pudong/zhangjiang`, …); slugs are shown otherwise. */
  siteNames?: ReadonlyMap<string, string>;
  /** Base for relative links in the request (`/cases/42` → `https://cloud.example/cases/42`). */
  publicUrl?: string;
  /**
   * The action link of one case for this message's recipient (cloud/phone: a signed phone page).
   * When given, every case carries its own link and the message's view / ack / feedback links are
   * the first case's page; without it the request's `links` are used as they are.
   */
  caseLink?: (c: AlarmCase) => string;
}

export interface RenderedCase {
  id: string;
  type: string;
  typeLabel: string;
  severity: AlarmSeverity;
  severityLabel: string;
  site: SitePath;
  sitePath: string;
  siteLabel: string;
  location?: string;
  gateway: string;
  device: string;
  value?: number | boolean | string;
  unit?: string;
  valueText?: string;
  raisedAt: number;
  raisedAtText: string;
  occurrence: number;
  condition: AlarmCase['condition'];
  acked: boolean;
  test: boolean;
  message?: string;
  /** This case's action link for the recipient (absolute when `publicUrl` is set). */
  link?: string;
}

export interface Message {
  lang: Lang;
  stage: Stage;
  stageLabel: string;
  /** The highest severity among the cases. */
  severity: AlarmSeverity;
  severityLabel: string;
  title: string;
  subject: string;
  reason: string;
  links: NotificationRequest['links'];
  cases: RenderedCase[];
  text: string;
  html: string;
  /** Markdown that fits in `maxBytes` of UTF-8 (robots limit the size of their content). */
  markdown(maxBytes: number): string;
}

const SEVERITY_ORDER: AlarmSeverity[] = ['critical', 'major', 'minor', 'info'];

function w(word: keyof typeof WORDS, lang: Lang): string {
  return WORDS[word][lang];
}

function resolveLink(link: string, publicUrl: string | undefined): string {
  if (!publicUrl) return link;
  try {
    return new URL(link, publicUrl).toString();
  } catch {
    return link;
  }
}

/** `浦东新区 / 张江镇 / 100弄` from the registry's names, slugs where a name is missing. */
export function siteLabel(site: SitePath, names: ReadonlyMap<string, string> | undefined): string {
  const paths = [
    site.district,
    `${site.district}/${site.town}`,
    `${site.district}/${site.town}/${site.community}`,
  ];
  const slugs = [site.district, site.town, site.community];
  return paths.map((p, i) => names?.get(p) ?? slugs[i]).join(' / ');
}

function valueText(c: AlarmCase): string | undefined {
  if (c.value === undefined) return undefined;
  // A contact's true/false adds nothing to the alarm's name in a message (the JSON keeps it).
  if (typeof c.value === 'boolean') return undefined;
  const unit = alarmTypeUnit(c.type);
  return unit ? `${c.value} ${unit}` : String(c.value);
}

export function renderCase(c: AlarmCase, lang: Lang, options: RenderOptions = {}): RenderedCase {
  const unit = typeof c.value === 'number' ? alarmTypeUnit(c.type) : undefined;
  const text = valueText(c);
  return {
    id: c.id,
    type: c.type,
    typeLabel: alarmTypeLabel(c.type, lang),
    severity: c.severity,
    severityLabel: severityLabel(c.severity, lang),
    site: c.site,
    sitePath: `${c.site.district}/${c.site.town}/${c.site.community}`,
    siteLabel: siteLabel(c.site, options.siteNames),
    ...(c.location ? { location: c.location } : {}),
    gateway: c.gateway,
    device: c.device,
    ...(c.value !== undefined ? { value: c.value } : {}),
    ...(unit ? { unit } : {}),
    ...(text ? { valueText: text } : {}),
    raisedAt: c.raisedAt,
    raisedAtText: shanghaiTime(c.raisedAt),
    occurrence: c.occurrence,
    condition: c.condition,
    acked: c.acked,
    test: c.test,
    ...(c.message ? { message: c.message } : {}),
    ...(options.caseLink ? { link: resolveLink(options.caseLink(c), options.publicUrl) } : {}),
  };
}

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  // Back off continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

const bytesOf = (s: string) => Buffer.byteLength(s, 'utf8');

function stateNote(c: RenderedCase, lang: Lang): string {
  const notes: string[] = [];
  if (c.condition === 'cleared') notes.push(w('cleared', lang));
  if (c.condition === 'latched') notes.push(w('latched', lang));
  if (c.acked) notes.push(w('acked', lang));
  return notes.length ? (lang === 'zh' ? `（${notes.join('，')}）` : ` (${notes.join(', ')})`) : '';
}

type Esc = (s: string) => string;
const asIs: Esc = (s) => s;

/** One grouped case: where first (the location label), then the device. `esc` escapes supplied text. */
function caseLine(c: RenderedCase, lang: Lang, i: number, esc: Esc = asIs): string {
  const where = [c.siteLabel.split(' / ').at(-1), c.location]
    .filter(Boolean)
    .map((x) => esc(x as string))
    .join(' ');
  const value = c.valueText ? ` ${esc(c.valueText)}` : '';
  const test = c.test ? `[${w('test', lang)}] ` : '';
  return `${i + 1}. ${c.raisedAtText.slice(11)} ${test}${esc(c.typeLabel)}${value} · ${where} · ${esc(c.device)}${stateNote(c, lang)}`;
}

/** What a person reads of a case: every supplied text on one line, web addresses defanged. */
function shownCase(c: RenderedCase): RenderedCase {
  return {
    ...c,
    typeLabel: plainText(c.typeLabel),
    siteLabel: plainText(c.siteLabel),
    ...(c.location !== undefined ? { location: plainText(c.location) } : {}),
    gateway: plainText(c.gateway),
    device: plainText(c.device),
    ...(c.valueText !== undefined ? { valueText: plainText(c.valueText) } : {}),
    ...(c.message !== undefined ? { message: plainText(c.message) } : {}),
  };
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch,
  );
}

/** Renders the request for one recipient (their `lang`, else `defaultLang`). */
export function renderMessage(
  request: NotificationRequest,
  lang: Lang,
  options: RenderOptions = {},
): Message {
  // The JSON keeps the values as data; everything people read is built from the shown forms.
  const cases = request.cases.map((c) => renderCase(c, lang, options));
  const shown = cases.map(shownCase);
  const first = shown[0];
  const severity =
    SEVERITY_ORDER.find((s) => cases.some((c) => c.severity === s)) ?? first?.severity ?? 'info';
  const stageLabel = STAGE_LABELS[request.stage][lang];
  const sevLabel = severityLabel(severity, lang);
  const reason = request.reason[lang];
  // One page per case holds its 确认 and 反馈 forms; a tap on a link only ever opens it (GET never
  // acts: chat apps fetch links for previews), the fragments scroll to the form.
  const firstLink = cases[0]?.link;
  const links = firstLink
    ? { view: firstLink, ack: `${firstLink}#ack`, feedback: `${firstLink}#feedback` }
    : {
        view: resolveLink(request.links.view, options.publicUrl),
        ack: resolveLink(request.links.ack, options.publicUrl),
        feedback: resolveLink(request.links.feedback, options.publicUrl),
      };
  const whatOf = (esc: Esc) =>
    first
      ? cases.length > 1
        ? lang === 'zh'
          ? `${esc(first.typeLabel)} 等 ${cases.length} 条`
          : `${esc(first.typeLabel)} and ${cases.length - 1} more`
        : esc(first.typeLabel)
      : '';
  const where = first ? (first.siteLabel.split(' / ').at(-1) ?? '') : '';
  const testTag = first?.test ? `[${w('test', lang)}]` : '';
  const titleOf = (esc: Esc) =>
    lang === 'zh'
      ? `${testTag}【${stageLabel}】${sevLabel} · ${whatOf(esc)}`
      : `${testTag}[${stageLabel}] ${sevLabel} · ${whatOf(esc)}`;
  const title = titleOf(asIs);
  const subject = where ? `${title} · ${where}` : title;
  const sep = lang === 'zh' ? '：' : ': ';
  const tz = lang === 'zh' ? '（北京时间）' : ' (China Standard Time, UTC+8)';

  // The facts of the first case, one "label: value" per line, in reading order; `esc` escapes
  // the supplied parts for the markup at hand.
  const factsOf = (esc: Esc): [string, string][] => {
    const facts: [string, string][] = [];
    if (first) {
      facts.push([w('site', lang), `${esc(first.siteLabel)} (${esc(first.sitePath)})`]);
      if (first.location) facts.push([w('location', lang), esc(first.location)]);
      facts.push([w('device', lang), `${esc(first.device)} (${esc(first.gateway)})`]);
      if (first.valueText) facts.push([w('value', lang), esc(first.valueText)]);
      facts.push([w('time', lang), `${first.raisedAtText}${tz}`]);
    }
    facts.push([w('reason', lang), reason]);
    if (first && first.occurrence > 1)
      facts.push([
        w('occurrence', lang),
        lang === 'zh' ? `第 ${first.occurrence} 次` : `#${first.occurrence}`,
      ]);
    if (first?.message) facts.push(['', esc(first.message)]);
    return facts;
  };
  const facts = factsOf(asIs);

  // A grouped message carries every case's own link: each case is acknowledged on its own page.
  const open = w('open', lang);
  const listed =
    shown.length > 1
      ? shown.map((c, i) => caseLine(c, lang, i) + (c.link ? `\n   ${open}${sep}${c.link}` : ''))
      : [];
  const listedMd =
    shown.length > 1
      ? shown.map(
          (c, i) => caseLine(c, lang, i, markdownText) + (c.link ? ` [${open}](${markdownUrl(c.link)})` : ''),
        )
      : [];
  const listHead = `${w('cases', lang)} (${cases.length})${lang === 'zh' ? '：' : ':'}`;
  const linkLines: [string, string][] = [
    [w('view', lang), links.view],
    [w('ack', lang), links.ack],
    [w('feedback', lang), links.feedback],
  ];

  const text = [
    title,
    '',
    ...facts.map(([k, v]) => (k ? `${k}${sep}${v}` : v)),
    ...(listed.length ? ['', listHead, ...listed] : []),
    '',
    ...linkLines.map(([k, v]) => `${k}${sep}${v}`),
    '',
  ].join('\n');

  const html = [
    '<!doctype html><html><head><meta charset="utf-8"></head><body style="font-family:sans-serif">',
    `<h2>${escapeHtml(title)}</h2>`,
    '<table cellpadding="4">',
    ...facts.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`),
    '</table>',
    ...(listed.length
      ? [
          `<h3>${escapeHtml(listHead)}</h3><ol>`,
          ...shown.map(
            (c, i) =>
              `<li>${escapeHtml(caseLine(c, lang, i).replace(/^\d+\. /, ''))}${
                c.link ? ` <a href="${escapeHtml(c.link)}">${escapeHtml(open)}</a>` : ''
              }</li>`,
          ),
          '</ol>',
        ]
      : []),
    `<p>${linkLines.map(([k, v]) => `<a href="${escapeHtml(v)}">${escapeHtml(k)}</a>`).join(' · ')}</p>`,
    '</body></html>',
  ].join('\n');

  const markdown = (maxBytes: number): string => {
    // Order of sacrifice when the robot's limit is reached: the grouped list goes first (with a
    // "N more" line), then the facts are cut; the title and the three action links always stay.
    const head = `### ${titleOf(markdownText)}`;
    const linkMd = linkLines.map(([k, v]) => `[${k}](${markdownUrl(v)})`).join(' | ');
    const factMd = factsOf(markdownText)
      .map(([k, v]) => (k ? `**${k}**${sep}${v}` : v))
      .join('\n');
    const fixed = bytesOf(head) + bytesOf(linkMd) + 4;
    let factPart = factMd;
    if (fixed + bytesOf(factPart) > maxBytes)
      factPart = truncateUtf8(factMd, Math.max(0, maxBytes - fixed - 3)) + '…';
    let budget = maxBytes - fixed - bytesOf(factPart) - 2;
    const kept: string[] = [];
    if (listedMd.length) {
      const headBytes = bytesOf(listHead) + 2;
      if (budget > headBytes) {
        budget -= headBytes;
        for (const [i, line] of listedMd.entries()) {
          const more = listedMd.length - i - 1;
          const reserve = more ? bytesOf(w('more', lang).replace('{n}', String(more))) + 4 : 0;
          const need = bytesOf(line) + 1;
          if (need + reserve > budget) {
            kept.push(`> ${w('more', lang).replace('{n}', String(listedMd.length - i))}`);
            break;
          }
          kept.push(line);
          budget -= need;
        }
      }
    }
    const parts = [head, factPart, ...(kept.length ? [`${listHead}\n${kept.join('\n')}`] : []), linkMd];
    return truncateUtf8(parts.join('\n\n'), maxBytes);
  };

  return {
    lang,
    stage: request.stage,
    stageLabel,
    severity,
    severityLabel: sevLabel,
    title,
    subject,
    reason,
    links,
    cases,
    text,
    html,
    markdown,
  };
}

/** Language of a recipient: their own choice wins over the configured default. */
export function langFor(recipient: Recipient | undefined, fallback: Lang): Lang {
  return recipient?.lang ?? fallback;
}

/** The JSON body of the generic webhook (documented in cloud/notify/README.md). */
export interface WebhookPayload {
  type: 'doorstep.notification';
  version: 1;
  id: string;
  stage: Stage;
  stageLabel: string;
  severity: AlarmSeverity;
  severityLabel: string;
  language: Lang;
  recipient: { id: string; name: string };
  title: string;
  reason: string;
  text: string;
  links: NotificationRequest['links'];
  cases: RenderedCase[];
  sentAt: number;
}

export function webhookPayload(
  request: NotificationRequest,
  recipient: Recipient,
  message: Message,
  sentAt: number,
): WebhookPayload {
  return {
    type: 'doorstep.notification',
    version: 1,
    id: request.id,
    stage: message.stage,
    stageLabel: message.stageLabel,
    severity: message.severity,
    severityLabel: message.severityLabel,
    language: message.lang,
    recipient: { id: recipient.id, name: recipient.name },
    title: message.title,
    reason: message.reason,
    text: message.text,
    links: message.links,
    cases: message.cases,
    sentAt,
  };
}
