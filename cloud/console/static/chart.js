// @ts-check
/** Inline SVG trend charts: a line of points, optionally a min–max band. No library. */
import { timeOnly } from './i18n.js';

const NS = 'http://www.w3.org/2000/svg';

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 */
function el(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * @param {{ label: string, unit: string, points: {t: number, v: number}[], band?: {t: number, min: number, max: number}[] }} series
 * @returns {SVGSVGElement}
 */
export function lineChart(series) {
  const W = 640;
  const H = 200;
  const pad = { l: 52, r: 12, t: 14, b: 26 };
  const svg = /** @type {SVGSVGElement} */ (
    el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img' })
  );
  const title = el('title', {});
  title.textContent = `${series.label} (${series.unit})`;
  svg.append(title);
  const all = [...series.points.map((p) => p.v), ...(series.band ?? []).flatMap((b) => [b.min, b.max])];
  const times = [...series.points.map((p) => p.t), ...(series.band ?? []).map((b) => b.t)];
  if (all.length === 0) return svg;
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  const t0 = Math.min(...times);
  const t1 = Math.max(...times) || t0 + 1;
  const x = (/** @type {number} */ t) => pad.l + ((t - t0) / Math.max(1, t1 - t0)) * (W - pad.l - pad.r);
  const y = (/** @type {number} */ v) => H - pad.b - ((v - lo) / (hi - lo)) * (H - pad.t - pad.b);
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    svg.append(el('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: 'grid' }));
    const label = el('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' });
    label.textContent = Number(v.toFixed(3)).toString();
    svg.append(label);
  }
  for (const t of [t0, (t0 + t1) / 2, t1]) {
    const label = el('text', { x: x(t), y: H - 6, 'text-anchor': 'middle', class: 'axis' });
    label.textContent = timeOnly(t);
    svg.append(label);
  }
  if (series.band && series.band.length > 1) {
    const top = series.band.map((b) => `${x(b.t).toFixed(1)},${y(b.max).toFixed(1)}`);
    const bottom = series.band
      .slice()
      .reverse()
      .map((b) => `${x(b.t).toFixed(1)},${y(b.min).toFixed(1)}`);
    svg.append(el('polygon', { points: [...top, ...bottom].join(' '), class: 'band' }));
  }
  if (series.points.length > 0) {
    const d = series.points
      .map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`)
      .join('');
    svg.append(el('path', { d, class: 'line' }));
  }
  return svg;
}
