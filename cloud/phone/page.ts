/**
 * The phone page of a case, as HTML strings: plain HTML and CSS, no script, no cookie, no external
 * resource — WeCom's and DingTalk's in-app browsers (and a 4-inch phone on 3G) show it as it is.
 * Every text that is not ours (labels, the gateway's message, a note) goes through `esc`; text a
 * gateway supplies is also made one inert line first (cloud/notify/safe-text.ts plainText).
 * Pure functions: no clock, no I/O.
 */
import type { AlarmCase, FeedbackCause } from '../alarms/contract.js';
import { FEEDBACK_CAUSE_LABELS, STAGE_LABELS } from '../alarms/contract.js';
import { alarmTypeLabel, alarmTypeUnit, type Lang, severityLabel, shanghaiTime } from '../notify/labels.js';
import { plainText } from '../notify/safe-text.js';

export function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch,
  );
}

const W = {
  location: { zh: '位置', en: 'Location' },
  community: { zh: '社区', en: 'Community' },
  value: { zh: '数值', en: 'Value' },
  severity: { zh: '级别', en: 'Severity' },
  stage: { zh: '阶段', en: 'Stage' },
  time: { zh: '报警时间', en: 'Raised' },
  tz: { zh: '（北京时间）', en: ' (UTC+8)' },
  state: { zh: '状态', en: 'State' },
  active: { zh: '报警中', en: 'active' },
  cleared: { zh: '已恢复', en: 'cleared' },
  latched: { zh: '已恢复，待复位', en: 'cleared, awaiting reset' },
  unacked: { zh: '未确认', en: 'not acknowledged' },
  ackedBy: { zh: '已由 {name} 于 {time} 确认', en: 'acknowledged by {name} at {time}' },
  occurrenceLabel: { zh: '发生次数', en: 'Occurrence' },
  occurrence: { zh: '第 {n} 次', en: '#{n}' },
  message: { zh: '设备信息', en: 'Device message' },
  plan: { zh: '平面图位置', en: 'On the site plan' },
  planAlt: { zh: '社区平面图，红点为报警设备', en: 'Site plan; the red dot is the device' },
  ack: { zh: '确认', en: 'Acknowledge' },
  ackHint: {
    zh: '确认表示您已收到并正在处置，本地声光报警将被消音。',
    en: 'Acknowledging says you have it in hand; the local sounder is silenced.',
  },
  feedback: { zh: '反馈', en: 'Feedback' },
  cause: { zh: '原因', en: 'Cause' },
  note: { zh: '处置说明', en: 'What was done' },
  notePlaceholder: {
    zh: '现场情况与处置（必填，500 字以内）',
    en: 'What you found and did (required, ≤ 500)',
  },
  photo: { zh: '现场照片（可选，JPEG/PNG/WebP，≤ 2 MB）', en: 'Photo (optional, JPEG/PNG/WebP, ≤ 2 MB)' },
  submit: { zh: '提交反馈', en: 'Send feedback' },
  lastFeedback: { zh: '已有反馈：{cause} · {by}', en: 'Feedback on record: {cause} · {by}' },
  doneAck: { zh: '✓ 已确认，谢谢。', en: '✓ Acknowledged, thank you.' },
  doneFeedback: { zh: '✓ 反馈已提交。', en: '✓ Feedback recorded.' },
  recipient: { zh: '接收人', en: 'For' },
  validUntil: { zh: '链接有效至', en: 'Link valid until' },
  otherLang: { zh: 'English', en: '中文' },
  test: { zh: '测试', en: 'test' },
  back: { zh: '返回报警页面', en: 'Back to the alarm' },
  title: { zh: '报警处置', en: 'Alarm' },
} as const;

const fill = (template: string, values: Record<string, string>) =>
  template.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? '');

const CSS = `*{box-sizing:border-box}body{margin:0;font:16px/1.5 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;color:#1a1a1a;background:#f3f4f6}
main{max-width:560px;margin:0 auto;padding:0 0 2em}header{padding:14px 16px;color:#fff;background:#555}
header.critical{background:#b00020}header.major{background:#c25400}header.minor{background:#8a6d00}
.stage{display:inline-block;padding:1px 8px;border:1px solid #fff;border-radius:4px;font-size:14px;margin-right:6px}
h1{font-size:22px;margin:6px 0 0;line-height:1.3}section,.card{background:#fff;margin:12px;padding:12px 14px;border-radius:8px}
dl{margin:0;display:grid;grid-template-columns:auto 1fr;gap:6px 12px}dt{color:#555}dd{margin:0;word-break:break-word}
.value{font-size:20px;font-weight:600}.notice{background:#e7f6ea;color:#135e22;font-weight:600}.warn{background:#fff4e5;color:#7a3d00}
button{width:100%;min-height:52px;font-size:20px;border:0;border-radius:8px;color:#fff;background:#0a6cdc}
button.ack{background:#b00020}label{display:block;margin:10px 0 4px;color:#333}
select,textarea,input[type=file]{width:100%;font-size:17px;padding:8px;border:1px solid #aaa;border-radius:6px;background:#fff}
textarea{min-height:96px}.hint{color:#555;font-size:14px}.plan{position:relative;line-height:0}.plan img{width:100%;height:auto}
.marker{position:absolute;width:18px;height:18px;margin:-9px 0 0 -9px;border-radius:50%;background:#e00;border:3px solid #fff;box-shadow:0 0 0 2px #e00}
footer{margin:12px 16px;color:#555;font-size:14px}a{color:#0a5cc2}h2{font-size:18px;margin:0 0 8px}`;

function shell(lang: Lang, title: string, body: string): string {
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><main>${body}</main></body></html>`;
}

export interface PlanView {
  /** URL of the plan image (served with the same token). */
  src: string;
  /** Marker position as fractions of the plan's width and height. */
  x: number;
  y: number;
}

export interface CasePageInput {
  lang: Lang;
  case: AlarmCase;
  /** Registry names of the case's site: `浦东新区 / 张江镇 / 100弄`. */
  siteLabel: string;
  /** The page's own path (`/m/<case>/<token>`), for the forms and the language switch. */
  path: string;
  recipientName: string;
  expiresAt: number;
  plan?: PlanView;
  /** What just happened (after a POST's redirect). */
  done?: 'ack' | 'feedback';
}

function valueText(c: AlarmCase): string | undefined {
  if (c.value === undefined || typeof c.value === 'boolean') return undefined;
  const unit = typeof c.value === 'number' ? alarmTypeUnit(c.type) : undefined;
  const text = plainText(String(c.value));
  return unit ? `${text} ${unit}` : text;
}

const withLang = (path: string, lang: Lang) => (lang === 'en' ? `${path}?lang=en` : path);

export function casePage(p: CasePageInput): string {
  const { lang, case: c } = p;
  const t = (k: keyof typeof W) => W[k][lang];
  const type = plainText(alarmTypeLabel(c.type, lang));
  const community = p.siteLabel.split(' / ').at(-1) ?? '';
  // Where, in words a person uses: the registry's location label, else the community's name.
  const where = c.location ? plainText(c.location) : community;
  const value = valueText(c);
  const condition =
    c.condition === 'active' ? t('active') : c.condition === 'latched' ? t('latched') : t('cleared');
  const ackState = c.acked
    ? fill(t('ackedBy'), {
        name: plainText(c.ackedBy?.name ?? '?'),
        time: c.ackedAt !== undefined ? shanghaiTime(c.ackedAt).slice(5) : '',
      })
    : t('unacked');
  const rows: [string, string, string?][] = [
    [t('location'), esc(where)],
    [t('community'), esc(p.siteLabel)],
    ...(value ? [[t('value'), esc(value), 'value'] as [string, string, string]] : []),
    [t('severity'), esc(severityLabel(c.severity, lang))],
    [t('stage'), esc(STAGE_LABELS[c.stage][lang])],
    [t('time'), `${esc(shanghaiTime(c.raisedAt))}${t('tz')}`],
    [t('state'), `${esc(condition)} · <span id="ack-state">${esc(ackState)}</span>`],
    ...(c.occurrence > 1
      ? [[t('occurrenceLabel'), esc(fill(t('occurrence'), { n: String(c.occurrence) }))] as [string, string]]
      : []),
    ...(c.message ? [[t('message'), esc(plainText(c.message))] as [string, string]] : []),
  ];
  const notice =
    p.done === 'ack'
      ? `<section class="notice" id="done" role="status">${t('doneAck')}</section>`
      : p.done === 'feedback'
        ? `<section class="notice" id="done" role="status">${t('doneFeedback')}</section>`
        : '';
  const plan = p.plan
    ? `<section><h2>${t('plan')}</h2><div class="plan"><img src="${esc(p.plan.src)}" alt="${esc(t('planAlt'))}"><span class="marker" style="left:${(p.plan.x * 100).toFixed(2)}%;top:${(p.plan.y * 100).toFixed(2)}%"></span></div></section>`
    : '';
  const action = (what: string) => esc(withLang(`${p.path}/${what}`, lang));
  const ack = c.acked
    ? ''
    : `<section id="ack"><form method="post" action="${action('ack')}">
<button class="ack" type="submit" id="ack-button">${t('ack')}</button></form>
<p class="hint">${t('ackHint')}</p></section>`;
  const causes = (Object.keys(FEEDBACK_CAUSE_LABELS) as FeedbackCause[])
    .map((k) => `<option value="${k}">${esc(FEEDBACK_CAUSE_LABELS[k][lang])}</option>`)
    .join('');
  const last = c.feedback
    ? `<p class="hint" id="last-feedback">${esc(
        fill(t('lastFeedback'), {
          cause: FEEDBACK_CAUSE_LABELS[c.feedback.cause]?.[lang] ?? c.feedback.cause,
          by: plainText(c.feedback.by.name),
        }),
      )}</p>`
    : '';
  const feedback = `<section id="feedback"><h2>${t('feedback')}</h2>${last}
<form method="post" action="${action('feedback')}" enctype="multipart/form-data">
<label for="cause">${t('cause')}</label><select id="cause" name="cause">${causes}</select>
<label for="note">${t('note')}</label><textarea id="note" name="note" maxlength="500" required placeholder="${esc(t('notePlaceholder'))}"></textarea>
<label for="photo">${t('photo')}</label><input id="photo" name="photo" type="file" accept="image/jpeg,image/png,image/webp">
<p></p><button type="submit" id="feedback-button">${t('submit')}</button></form></section>`;
  const testTag = c.test ? `[${t('test')}] ` : '';
  const body = `<header class="${esc(c.severity)}"><span class="stage" id="stage">${esc(STAGE_LABELS[c.stage][lang])}</span>${esc(severityLabel(c.severity, lang))}
<h1 id="type">${esc(testTag + type)}</h1><div id="where">${esc(where)}</div></header>
${notice}
<section class="card"><dl>${rows.map(([k, v, cls]) => `<dt>${esc(k)}</dt><dd${cls ? ` class="${cls}"` : ''}>${v}</dd>`).join('')}</dl></section>
${ack}${plan}${feedback}
<footer>${t('recipient')}：${esc(p.recipientName)} · ${t('validUntil')} ${esc(shanghaiTime(p.expiresAt).slice(5, 16))}
· <a href="${esc(withLang(p.path, lang === 'zh' ? 'en' : 'zh'))}" id="lang">${t('otherLang')}</a></footer>`;
  return shell(lang, `${STAGE_LABELS[c.stage][lang]} · ${type} · ${where}`, body);
}

/** A page that says why nothing can be done here; `back` links to the case page when it still works. */
export function messagePage(lang: Lang, title: string, text: string, back?: string): string {
  const link = back ? `<p><a href="${esc(withLang(back, lang))}" id="back">${W.back[lang]}</a></p>` : '';
  return shell(
    lang,
    title,
    `<header><h1 id="title">${esc(title)}</h1></header><section class="warn" id="why"><p>${esc(text)}</p>${link}</section>`,
  );
}
