/**
 * The registry as a table people open in a spreadsheet: CSV (RFC 4180, UTF-8 with a byte-order
 * mark so Excel reads the Chinese) and XLSX (exceljs). Every text comes from a gateway: a cell
 * that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'` so no
 * spreadsheet runs it as a formula (OWASP "CSV Injection"), and XLSX cells are written as
 * strings, never formulas.
 */
import ExcelJS from 'exceljs';
import type { RegistryDevice } from '../store/registry.js';
import { type Lang, registryWord } from './labels.js';

const COLUMNS = [
  'code',
  'label',
  'building',
  'unit',
  'floor',
  'kind',
  'site',
  'gateway',
  'device',
  'profile',
  'installedOn',
  'status',
  'removedAt',
] as const;
type Column = (typeof COLUMNS)[number];

const iso = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

function cell(d: RegistryDevice, c: Column, lang: Lang): string {
  switch (c) {
    case 'site':
      return `${d.site.district}/${d.site.town}/${d.site.community}`;
    case 'kind':
      return registryWord(`kind.${d.kind}`, lang) ?? d.kind;
    case 'status':
      return registryWord(`status.${d.status}`, lang) ?? d.status;
    case 'profile':
      return `${d.profile} v${d.profileVersion}`;
    case 'removedAt':
      return iso(d.removedAt);
    default:
      return d[c] ?? '';
  }
}

/** A text no spreadsheet takes for a formula. */
export function inertCell(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

function csvField(text: string): string {
  const t = inertCell(text);
  return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

export function registryCsv(devices: readonly RegistryDevice[], lang: Lang): string {
  const head = COLUMNS.map((c) => csvField(registryWord(`col.${c}`, lang) ?? c)).join(',');
  const lines = devices.map((d) => COLUMNS.map((c) => csvField(cell(d, c, lang))).join(','));
  return `\ufeff${[head, ...lines].join('\r\n')}\r\n`;
}

export async function registryXlsx(devices: readonly RegistryDevice[], lang: Lang): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'doorstep';
  const ws = wb.addWorksheet(registryWord('sheet', lang) ?? 'devices');
  ws.addRow(COLUMNS.map((c) => registryWord(`col.${c}`, lang) ?? c));
  ws.getRow(1).font = { bold: true };
  for (const d of devices) ws.addRow(COLUMNS.map((c) => inertCell(cell(d, c, lang))));
  ws.columns.forEach((col, i) => {
    col.width = i === 1 ? 32 : 16;
  });
  return Buffer.from(await wb.xlsx.writeBuffer());
}
