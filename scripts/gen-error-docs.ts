/**
 * Writes docs/errors.md from the error catalogue (protocol/errors.ts). test/error-catalogue.test.ts
 * fails when the file is out of date: run `npx tsx scripts/gen-error-docs.ts` after adding a code.
 */
import { writeFileSync } from 'node:fs';
import { ERROR_CATALOGUE } from '../protocol/errors.js';

const AREAS: Record<string, string> = {
  DRV: 'Drivers: links, Modbus, frames, profiles',
  SIM: 'Simulator',
  EDGE: 'Gateway runtime',
  OUTBOX: 'Gateway outbox',
  RULE: 'Alarm rules',
  CFG: 'Configuration',
  CLOUD: 'Cloud',
  CLI: 'Command line',
  PROV: 'Provisioning (installer tooling)',
};

export function renderErrorDocs(): string {
  const lines = [
    '# Error codes',
    '',
    'Every error doorstep reports carries one of these codes (log field `code`, CLI output, API',
    '`error.code`). Placeholders in braces are filled in from the situation. Generated from',
    '`protocol/errors.ts` by `npx tsx scripts/gen-error-docs.ts`; a test keeps the two in step.',
    '',
  ];
  const byArea = new Map<string, [string, { message: string; hint: string }][]>();
  for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
    const area = code.split('_')[0] ?? code;
    const list = byArea.get(area) ?? [];
    list.push([code, entry]);
    byArea.set(area, list);
  }
  for (const [area, entries] of byArea) {
    lines.push(`## ${AREAS[area] ?? area}`, '', '| code | message | what to do |', '| --- | --- | --- |');
    for (const [code, e] of entries)
      lines.push(`| \`${code}\` | ${e.message.replace(/\|/g, '\\|')} | ${e.hint.replace(/\|/g, '\\|')} |`);
    lines.push('');
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorDocs());
  console.log('docs/errors.md written');
}
