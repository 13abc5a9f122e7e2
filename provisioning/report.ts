/**
 * The commissioning report handed over with the gateway: JSON for the town's records and tools,
 * HTML to print or show. Signed with the gateway identity's key when the workspace has one, so the
 * town can tell that a report came from the box it was enrolled with (fingerprint in the report).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/files.js';
import type { ParsedGatewayConfig } from '../edge/config/schema.js';
import { formatSitePath } from '../protocol/index.js';
import type { DeviceCheck } from './commission.js';
import { readIdentity, signPayload, workspacePaths } from './workspace.js';

export interface CommissioningReport {
  kind: 'doorstep-commissioning-report';
  version: 1;
  gateway: string;
  site: string;
  name?: string;
  generatedAt: string;
  installer?: string;
  walkTest: boolean;
  summary: {
    devices: number;
    ok: number;
    failed: number;
    skipped: number;
    walkPassed: number;
    walkFailed: number;
  };
  devices: DeviceCheck[];
  identity?: { installId: string; fingerprint: string };
  /** Ed25519 over the canonical JSON of the report without this field. */
  signature?: string;
}

export function buildReport(
  config: Pick<ParsedGatewayConfig, 'gateway'>,
  checks: DeviceCheck[],
  options: { walkTest: boolean; installer?: string; now?: Date; workspace?: string },
): CommissioningReport {
  const report: CommissioningReport = {
    kind: 'doorstep-commissioning-report',
    version: 1,
    gateway: config.gateway.id,
    site: formatSitePath(config.gateway.site),
    ...(config.gateway.name ? { name: config.gateway.name } : {}),
    generatedAt: (options.now ?? new Date()).toISOString(),
    ...(options.installer ? { installer: options.installer } : {}),
    walkTest: options.walkTest,
    summary: {
      devices: checks.length,
      ok: checks.filter((c) => c.status === 'ok').length,
      failed: checks.filter((c) => c.status === 'fail').length,
      skipped: checks.filter((c) => c.status === 'skipped').length,
      walkPassed: checks.filter((c) => c.walk?.status === 'passed').length,
      walkFailed: checks.filter((c) => c.walk?.status === 'failed').length,
    },
    devices: checks,
  };
  const ws = options.workspace;
  if (ws && existsSync(workspacePaths(ws).key)) {
    const identity = readIdentity(ws);
    report.identity = { installId: identity.installId, fingerprint: identity.fingerprint };
    report.signature = signPayload(ws, report);
  }
  return report;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

export function formatValue(check: DeviceCheck): string {
  if (!check.value) return '–';
  const v = check.value.value;
  const text = typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : v ? 'yes' : 'no';
  return `${check.value.point} ${text}${check.value.unit ? ` ${check.value.unit}` : ''}`;
}

export const STATUS_MARK = { ok: '✓', fail: '✗', skipped: '–' } as const;
export const WALK_MARK = { passed: '✓', failed: '✗', skipped: '–' } as const;

export function renderHtml(report: CommissioningReport): string {
  const rows = report.devices
    .map((c) => {
      const walk = c.walk
        ? `${WALK_MARK[c.walk.status]} ${c.walk.status}${c.walk.afterMs !== undefined ? ` after ${(c.walk.afterMs / 1000).toFixed(1)} s` : ''}${c.walk.reason ? ` <code>${escapeHtml(c.walk.reason)}</code>` : ''}`
        : '';
      return `<tr class="${c.status}"><td>${escapeHtml(c.device)}</td><td>${escapeHtml(c.kind)}</td><td>${escapeHtml(c.location)}</td><td>${escapeHtml(c.bus)} ${escapeHtml(c.address)}</td><td>${escapeHtml(formatValue(c))}</td><td>${STATUS_MARK[c.status]} ${c.reason ? `<code>${escapeHtml(c.reason)}</code>` : ''}<div class="detail">${escapeHtml(c.detail ?? '')}</div></td><td>${walk}</td></tr>`;
    })
    .join('\n');
  const s = report.summary;
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>Commissioning report ${escapeHtml(report.gateway)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}th{background:#eee}
tr.fail td{background:#fdecea}tr.skipped td{color:#777}.detail{font-size:.8em;color:#555}
code{font-size:.85em}footer{margin-top:2em;font-size:.8em;color:#555;word-break:break-all}
</style></head><body>
<h1>Commissioning report — ${escapeHtml(report.gateway)}</h1>
<p>Site <b>${escapeHtml(report.site)}</b>${report.name ? ` (${escapeHtml(report.name)})` : ''} · generated ${escapeHtml(report.generatedAt)}${report.installer ? ` · installer ${escapeHtml(report.installer)}` : ''}</p>
<p>${s.devices} device(s): <b>${s.ok} ✓</b>, ${s.failed} ✗, ${s.skipped} skipped${report.walkTest ? ` · walk test: ${s.walkPassed} passed, ${s.walkFailed} failed` : ' · no walk test'}</p>
<table><thead><tr><th>device</th><th>kind</th><th>location</th><th>bus / address</th><th>value</th><th>status</th><th>walk test</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<footer>${report.identity ? `Gateway key ${escapeHtml(report.identity.fingerprint)}, install ${escapeHtml(report.identity.installId)}. Signature (Ed25519 over the JSON report): ${escapeHtml(report.signature ?? '')}` : 'Unsigned (no gateway identity in this workspace).'}</footer>
</body></html>
`;
}

/** Writes `commissioning-<gateway>-<timestamp>.{json,html}` into `dir`; returns both paths. */
export function writeReports(dir: string, report: CommissioningReport): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const stem = `commissioning-${report.gateway}-${report.generatedAt.replace(/[:.]/g, '-')}`;
  const json = join(dir, `${stem}.json`);
  const html = join(dir, `${stem}.html`);
  writeFileAtomic(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileAtomic(html, renderHtml(report));
  return { json, html };
}
