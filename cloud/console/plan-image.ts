/**
 * Checks an uploaded site plan: a data URL of an SVG or a PNG, at most 2 MiB decoded. PNGs must
 * start with the PNG signature and an IHDR chunk (ISO/IEC 15948 §5.2, §11.2.2). SVGs must be UTF-8
 * text with an <svg> root and nothing active or external: no scripts, event-handler attributes,
 * javascript: URLs, foreignObject, entities, or references outside the file. The console only
 * shows plans through <img> (which never runs scripts) and serves them with a sandbox CSP; the
 * check keeps stored files harmless wherever they are opened.
 */
export const MAX_PLAN_BYTES = 2 * 1024 * 1024;

export type PlanCheck =
  | { ok: true; type: 'image/svg+xml' | 'image/png'; base64: string; bytes: number }
  | { ok: false; reason: string };

const DATA_URL = /^data:(image\/svg\+xml|image\/png)(;charset=[\w-]+)?;base64,([A-Za-z0-9+/]+={0,2})$/;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const SVG_FORBIDDEN: [RegExp, string][] = [
  [/<script[\s>/]/i, 'contains a <script> element'],
  [/\son[a-z]+\s*=/i, 'contains an event-handler attribute (on…=)'],
  [/javascript\s*:/i, 'contains a javascript: URL'],
  [/<foreignObject[\s>/]/i, 'contains a <foreignObject> element'],
  [/<!ENTITY/i, 'declares entities'],
  [/<(iframe|embed|object|audio|video)[\s>/]/i, 'contains an embedded document or media element'],
  [/(?:xlink:)?href\s*=\s*["']\s*(?!#|data:image\/(?:png|jpeg);)/i, 'references something outside the file'],
  [/url\(\s*["']?\s*(?!#)/i, 'references something outside the file (url())'],
  [/@import/i, 'imports a stylesheet'],
];

export function checkPlanImage(dataUrl: string): PlanCheck {
  const m = DATA_URL.exec(dataUrl);
  if (!m) return { ok: false, reason: 'must be a data URL of an image/svg+xml or image/png (base64)' };
  const type = m[1] as 'image/svg+xml' | 'image/png';
  const base64 = m[3] ?? '';
  if ((base64.length * 3) / 4 > MAX_PLAN_BYTES + 3)
    return { ok: false, reason: `is larger than ${MAX_PLAN_BYTES} bytes` };
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0) return { ok: false, reason: 'is empty' };
  if (bytes.length > MAX_PLAN_BYTES) return { ok: false, reason: `is larger than ${MAX_PLAN_BYTES} bytes` };
  if (type === 'image/png') {
    const signed = PNG_SIGNATURE.every((b, i) => bytes[i] === b);
    if (!signed || bytes.subarray(12, 16).toString('latin1') !== 'IHDR')
      return { ok: false, reason: 'is not a PNG image (no PNG signature and IHDR chunk)' };
    return { ok: true, type, base64: bytes.toString('base64'), bytes: bytes.length };
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (text.includes('\uFFFD')) return { ok: false, reason: 'is not UTF-8 text' };
  if (
    !/^\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>[]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/i.test(
      text,
    )
  )
    return { ok: false, reason: 'is not an SVG document (no <svg> root element)' };
  for (const [pattern, why] of SVG_FORBIDDEN) if (pattern.test(text)) return { ok: false, reason: why };
  return { ok: true, type, base64: bytes.toString('base64'), bytes: bytes.length };
}
