import type { DOMPurify } from 'dompurify';

/**
 * Checks an uploaded site plan: a data URL of an SVG or a PNG, at most 2 MiB decoded. PNGs must
 * start with the PNG signature and an IHDR chunk (ISO/IEC 15948 §5.2, §11.2.2). SVGs must be UTF-8
 * text with an <svg> root and nothing active or external: they go through DOMPurify (a real
 * parser and an allow-list of SVG elements and attributes, on jsdom), and a plan from which it
 * had to remove anything — a script, an event handler, foreignObject, a reference outside the file
 * — is refused with what it removed; what is stored is DOMPurify's output serialised as XML, so
 * the bytes kept are the bytes checked. The console only shows plans through <img> (which never
 * runs scripts) and serves them with a sandbox CSP; the check keeps stored files harmless wherever
 * they are opened.
 */
export const MAX_PLAN_BYTES = 2 * 1024 * 1024;

export type PlanCheck =
  | { ok: true; type: 'image/svg+xml' | 'image/png'; base64: string; bytes: number }
  | { ok: false; reason: string };

const DATA_URL = /^data:(image\/svg\+xml|image\/png)(;charset=[\w-]+)?;base64,([A-Za-z0-9+/]+={0,2})$/;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A reference inside the file (`#id`) or an embedded raster image; anything else leaves the file. */
const INTERNAL_REFERENCE = /^\s*(#|data:image\/(png|jpeg);base64,)/i;
/** CSS that reaches outside the file: url() to anything but `#id`, and @import. */
const EXTERNAL_CSS = /url\(\s*["']?\s*(?!#)|@import/i;

/** Filled by the hooks during one (synchronous) sanitize call. */
const cssRefused: string[] = [];
let purifier: Promise<{ purify: DOMPurify; serialize: (node: unknown) => string }> | undefined;

/** One DOMPurify on one jsdom window per process, loaded on the first plan (jsdom is large). */
function svgPurifier() {
  purifier ??= (async () => {
    const [{ JSDOM }, { default: createDOMPurify }] = await Promise.all([
      import('jsdom'),
      import('dompurify'),
    ]);
    const { window } = new JSDOM('');
    const purify = createDOMPurify(window as unknown as Parameters<typeof createDOMPurify>[0]);
    purify.addHook('uponSanitizeAttribute', (_node, data) => {
      const name = data.attrName.toLowerCase();
      if ((name === 'href' || name === 'xlink:href') && !INTERNAL_REFERENCE.test(data.attrValue))
        data.keepAttr = false;
      if (name === 'style' && EXTERNAL_CSS.test(data.attrValue)) data.keepAttr = false;
    });
    purify.addHook('uponSanitizeElement', (node, data) => {
      if (data.tagName === 'style' && EXTERNAL_CSS.test(node.textContent ?? '')) {
        cssRefused.push('url() or @import in <style>');
        node.textContent = '';
      }
    });
    const serializer = new window.XMLSerializer();
    return { purify, serialize: (node: unknown) => serializer.serializeToString(node) };
  })();
  return purifier;
}

/** What DOMPurify took out, in words: `<script>`, `onload on <svg>`. */
function describeRemoved(removed: DOMPurify['removed']): string[] {
  const out = new Set<string>();
  for (const r of removed) {
    if ('element' in r) {
      const name = r.element.nodeName.toLowerCase();
      // The HTML parser's own wrapper elements, not part of the file.
      if (name !== 'body' && name !== 'html' && name !== 'head' && name !== '#text') out.add(`<${name}>`);
    } else if (r.attribute) out.add(`${r.attribute.name} on <${r.from.nodeName.toLowerCase()}>`);
  }
  return [...out];
}

export async function checkPlanImage(dataUrl: string): Promise<PlanCheck> {
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
  // Entities can expand without bound (billion laughs) or pull files in (XXE): never parsed.
  if (/<!ENTITY/i.test(text)) return { ok: false, reason: 'declares entities' };
  if (
    !/^\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>[]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/i.test(
      text,
    )
  )
    return { ok: false, reason: 'is not an SVG document (no <svg> root element)' };
  const { purify, serialize } = await svgPurifier();
  cssRefused.length = 0;
  const body = purify.sanitize(text, {
    USE_PROFILES: { svg: true, svgFilters: true },
    // <use> is safe once its href can only point inside the file (the hook above).
    ADD_TAGS: ['use'],
    FORBID_TAGS: ['foreignObject'],
    RETURN_DOM: true,
  });
  const removed = [...describeRemoved(purify.removed), ...cssRefused];
  if (removed.length > 0)
    return {
      ok: false,
      reason: `contains what a plan may not: ${removed.join(', ')} (scripts, event handlers, embedded documents or references outside the file)`,
    };
  const root = body.firstElementChild;
  if (root?.nodeName.toLowerCase() !== 'svg' || body.childElementCount !== 1)
    return { ok: false, reason: 'is not an SVG document (no single <svg> root element)' };
  const clean = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${serialize(root)}`, 'utf8');
  return { ok: true, type, base64: clean.toString('base64'), bytes: clean.length };
}
