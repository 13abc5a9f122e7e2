import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { EDGE_VERSION } from '../edge/runtime/version.js';

it('the version gateways report is package.json’s', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(EDGE_VERSION, pkg.version);
});
