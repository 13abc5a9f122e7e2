/**
 * Text a gateway supplies — the alarm message, string values, device, gateway and alarm ids, an
 * unknown alarm type's slug — and registry labels are data, never markup (docs/architecture.md invariant 11: a
 * gateway's text is never trusted for markup). A compromised gateway must not be able to put
 * `[点击确认](http://evil…)` or a fake "确认接警：http://…" line into a duty officer's message.
 *
 * - plainText: one line (line breaks, other control characters and bidirectional overrides become
 *   spaces — a message cannot fake the lines around it), and web addresses defanged
 *   (`http://` → `http：//`, `www.` → `www．`) so no mail client or chat app turns them into links.
 * - markdownText: plainText, then every character with a meaning in WeCom/DingTalk markdown
 *   replaced by its full-width form (`[` → `［`, `(` → `（`, `*` → `＊` …). Backslash escapes
 *   (CommonMark §2.4) are not documented for either robot, full-width forms read the same and
 *   cannot form markup in any renderer.
 * - markdownUrl: our own links, with the characters that could end a markdown link target
 *   percent-encoded (RFC 3986 §2.1).
 * HTML is escaped by the caller (message.ts) after plainText; the webhook's JSON carries the raw
 * values as data (JSON.stringify escapes them).
 */

// C0 and C1 controls, zero-width characters, line/paragraph separators, bidi embeddings,
// overrides and isolates (Unicode TR #9), the byte-order mark.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

export function plainText(text: string): string {
  return text
    .replace(INVISIBLE, ' ')
    .replace(/ {2,}/g, ' ')
    .trim()
    .replace(/([a-z][a-z0-9+.-]{1,15}):\/\//gi, '$1：//')
    .replace(/\bwww\./gi, 'www．');
}

const MARKDOWN: Record<string, string> = {
  '[': '［',
  ']': '］',
  '(': '（',
  ')': '）',
  '<': '＜',
  '>': '＞',
  '*': '＊',
  _: '＿',
  '`': '｀',
  '#': '＃',
  '~': '～',
  '|': '｜',
  '!': '！',
  '\\': '＼',
};

export function markdownText(text: string): string {
  return plainText(text).replace(/[[\]()<>*_`#~|!\\]/g, (ch) => MARKDOWN[ch] ?? ch);
}

export function markdownUrl(url: string): string {
  return url.replace(
    /[()[\]<>\s"'`]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}
