import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DoorstepError, ERROR_CATALOGUE, formatErrorMessage } from '../protocol/errors.js';
import { renderErrorDocs } from '../scripts/gen-error-docs.js';

describe('error catalogue', () => {
  it('docs/errors.md is generated from the catalogue and up to date', () => {
    const onDisk = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    assert.equal(onDisk, renderErrorDocs(), 'run `npx tsx scripts/gen-error-docs.ts`');
    for (const code of Object.keys(ERROR_CATALOGUE)) assert.ok(onDisk.includes(`\`${code}\``), code);
  });

  it('codes are AREA_ERR_NAME and every entry has a message and a hint', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      assert.match(code, /^[A-Z]+_ERR_[A-Z0-9_]+$/);
      assert.ok(entry.message.length > 3 && entry.hint.length > 10, code);
    }
  });

  it('fills placeholders and keeps unknown ones visible', () => {
    assert.equal(
      formatErrorMessage('DRV_ERR_TIMEOUT', { target: 'unit 3 on rtu0', timeoutMs: 500 }),
      'no reply from unit 3 on rtu0 within 500 ms',
    );
    const e = new DoorstepError('DRV_ERR_TIMEOUT', { target: 'unit 3' });
    assert.equal(e.message, 'no reply from unit 3 within {timeoutMs} ms');
    assert.equal(e.code, 'DRV_ERR_TIMEOUT');
    assert.deepEqual(e.toJSON().details, { target: 'unit 3' });
  });
});
