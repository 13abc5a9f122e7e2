// The console's alarm board with 1 000 open alarms, in headless Chromium against a real cloud
// (SQLite) fed by real /v1/sync batches. Measured in the browser with performance.now (layout
// forced, so style and layout count): the initial render of the 1 000 rows, and applying one
// pushed update (a changed case and a new one). Also: sign-in → 1 000 rows on screen (network,
// SSE snapshot and render), ingest → row on screen for one new alarm (includes the ≈ 1 s poll),
// and the first-load transfer size.
// Targets: render ≤ 1 000 ms, update ≤ 100 ms (p95 of 30), sign-in → board ≤ 3 000 ms,
// ingest → on screen ≤ 2 000 ms, first load ≤ 300 KB brotli.
import { performance } from 'node:perf_hooks';
import { startConsoleWorld, USERS } from '../console/harness.js';
import { report } from './report.js';

// Callbacks passed to page.evaluate/waitForFunction run in the browser; the Node program has no DOM
// lib (adding it would change other files' types), so the few browser globals they use are declared
// here, module-local.
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const window: any;

const N = 1000;
const w = await startConsoleWorld();
try {
  // 1 000 open conditions (each device its own: the board has one row per open condition) in
  // one town, a few batches like a storm would arrive.
  const t0 = Date.now();
  for (let b = 0; b < 10; b++)
    await w.zj.sync({
      alarms: Array.from({ length: N / 10 }, (_, i) => {
        const k = b * (N / 10) + i;
        return {
          id: `bench-case-${k}`,
          device: `dev-${k}`,
          type: ['smoke', 'gas_high', 'pressure_low', 'door_held_open'][k % 4] ?? 'smoke',
          severity: (['critical', 'major', 'minor', 'info'] as const)[k % 4],
          ts: t0 - k * 1000,
        };
      }),
    });

  const { page } = await w.newPage();
  await page.goto(`${w.url}/console`);
  await page.fill('#username', USERS.zjDuty.username);
  await page.fill('#password', 'console-test-pass');
  const start = performance.now();
  await page.click('#signin');
  await page.waitForFunction((n) => document.querySelectorAll('#rows tr.case').length >= n, N, {
    timeout: 30_000,
  });
  const toBoard = performance.now() - start;

  const render = await page.evaluate(() => {
    const d = (window as unknown as { __doorstep: { board: { reset(): void } } }).__doorstep;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = performance.now();
      d.board.reset();
      void document.body.offsetHeight;
      times.push(performance.now() - a);
    }
    return times.sort((x, y) => x - y);
  });

  const updates = await page.evaluate((n) => {
    const d = (
      window as unknown as {
        __doorstep: {
          state: { cases: Map<string, Record<string, unknown>> };
          applyChanges(up: unknown[], removed: string[]): void;
        };
      }
    ).__doorstep;
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      const existing = d.state.cases.get(`bench-case-${(i * 37) % n}`);
      const changed = { ...existing, acked: !existing?.acked, updatedAt: Date.now() };
      const fresh = {
        ...existing,
        id: `bench-new-${i}`,
        raisedAt: Date.now(),
        severity: 'critical',
        acked: false,
      };
      const a = performance.now();
      d.applyChanges([changed, fresh], []);
      void document.body.offsetHeight;
      times.push(performance.now() - a);
    }
    return times.sort((x, y) => x - y);
  }, N);

  // End to end: a new alarm posted by a gateway until its row is on the screen.
  const e2e: number[] = [];
  for (let i = 0; i < 5; i++) {
    const id = `bench-e2e-case-${i}`;
    const a = performance.now();
    await w.zj.sync({ alarms: [{ id, device: 'smoke-e2e', type: 'smoke' }] });
    await page.waitForSelector(`tr.case[data-id="${id}"]`, { timeout: 5000 });
    e2e.push(performance.now() - a);
  }
  e2e.sort((x, y) => x - y);

  let bytes = 0;
  for (const path of [
    '/console',
    '/console/static/app.css',
    '/console/static/app.js',
    '/console/static/i18n.js',
    '/console/static/chart.js',
  ]) {
    const r = await fetch(`${w.url}${path}`, { headers: { 'accept-encoding': 'br' } });
    bytes += Number(r.headers.get('content-length'));
    await r.arrayBuffer();
  }

  const p = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;
  report({
    name: 'console board initial render, 1 000 rows (median of 5)',
    value: p(render, 0.5),
    unit: 'ms',
    target: 1000,
    comparator: '<=',
  });
  report({
    name: 'console board update (1 changed + 1 new of 1 000), p95 of 30',
    value: p(updates, 0.95),
    unit: 'ms',
    target: 100,
    comparator: '<=',
    note: `median ${p(updates, 0.5).toFixed(1)} ms`,
  });
  report({
    name: 'console sign-in → 1 000 rows on screen',
    value: Math.round(toBoard),
    unit: 'ms',
    target: 3000,
    comparator: '<=',
  });
  report({
    name: 'console ingest → new row on screen (max of 5)',
    value: Math.round(p(e2e, 1)),
    unit: 'ms',
    target: 2000,
    comparator: '<=',
    note: `median ${Math.round(p(e2e, 0.5))} ms; server polls every 1 s`,
  });
  report({
    name: 'console first load, brotli as sent',
    value: bytes,
    unit: 'bytes',
    target: 300 * 1024,
    comparator: '<=',
  });
} finally {
  await w.stop();
}
