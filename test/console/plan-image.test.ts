import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPlanImage } from '../../cloud/console/plan-image.js';

const svgUrl = (text: string) => `data:image/svg+xml;base64,${Buffer.from(text).toString('base64')}`;
const decoded = (base64: string) => Buffer.from(base64, 'base64').toString('utf8');

/** A plan as CAD tools export it: declaration, doctype, comments, gradients, <use>, styles. */
const CAD_PLAN = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<!-- exported -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 400 200">
  <defs><linearGradient id="g"><stop offset="0" stop-color="#ccc"/></linearGradient><rect id="b" width="10" height="10"/></defs>
  <style>.wall { stroke: #333 }</style>
  <rect class="wall" style="fill:url(#g)" width="400" height="200"/>
  <use xlink:href="#b" x="20" y="20"/>
  <text x="30" y="60">3号楼</text>
</svg>`;

describe('site plan check (DOMPurify on jsdom)', () => {
  it('keeps a CAD export whole, stored as well-formed XML', async () => {
    const checked = await checkPlanImage(svgUrl(CAD_PLAN));
    assert.ok(checked.ok, JSON.stringify(checked));
    const stored = decoded(checked.base64);
    assert.match(stored, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg /);
    for (const kept of ['url(#g)', 'xlink:href="#b"', '3号楼', '.wall { stroke: #333 }', '<stop '])
      assert.ok(stored.includes(kept), `${kept} in ${stored}`);
  });

  const refused: [string, string, RegExp][] = [
    ['script', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', /<script>/],
    ['event handler', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', /onload on <svg>/],
    [
      'foreignObject',
      '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><iframe src="https://evil"/></foreignObject></svg>',
      /<foreignobject>/i,
    ],
    [
      'external image',
      '<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/t.png"/></svg>',
      /href on <image>/,
    ],
    [
      'javascript link',
      '<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"><text>x</text></a></svg>',
      /href on <a>/,
    ],
    [
      'external css in a style attribute',
      '<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:url(https://evil/x)"/></svg>',
      /style on <rect>/,
    ],
    [
      '@import in <style>',
      '<svg xmlns="http://www.w3.org/2000/svg"><style>@import "https://evil/x.css";</style></svg>',
      /url\(\) or @import in <style>/,
    ],
    [
      'entities',
      '<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg"/>',
      /declares entities/,
    ],
    [
      'mixed-case script tag',
      '<svg xmlns="http://www.w3.org/2000/svg"><ScRiPt>alert(1)</ScRiPt></svg>',
      /<script>/,
    ],
  ];
  for (const [what, svg, reason] of refused)
    it(`refuses ${what}, naming it`, async () => {
      const checked = await checkPlanImage(svgUrl(svg));
      assert.equal(checked.ok, false);
      assert.match(checked.ok ? '' : checked.reason, reason);
    });

  it('refuses what is not an SVG, and PNGs without their signature', async () => {
    const html = await checkPlanImage(svgUrl('<html><body>hi</body></html>'));
    assert.equal(html.ok, false);
    const png = await checkPlanImage(
      `data:image/png;base64,${Buffer.from('not a png at all').toString('base64')}`,
    );
    assert.equal(png.ok, false);
  });
});
