import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { validateGatewayConfig } from '../../../edge/config/load.js';

const fixture = new URL('../../fixtures/gateway.yaml', import.meta.url).pathname;

function withFirstDevice(patch: Record<string, unknown>) {
  const doc = parse(readFileSync(fixture, 'utf8')) as { devices: Record<string, unknown>[] };
  Object.assign(doc.devices[0]!, patch);
  return validateGatewayConfig(doc);
}

describe('gateway configuration: fast polls and the late-reply guard', () => {
  it('accepts critical: 0 (as fast as the bus allows) and a per-device lateReplyGuardMs', () => {
    const checked = withFirstDevice({ pollIntervals: { critical: 0 }, lateReplyGuardMs: 600 });
    assert.ok(checked.ok, JSON.stringify(!checked.ok && checked.issues));
    assert.deepEqual(checked.result.disabled, []);
    const device = checked.result.config.devices[0]!;
    assert.equal(device.pollIntervals?.critical, 0);
    assert.equal(device.lateReplyGuardMs, 600);
  });

  it('still refuses other intervals under 100 ms and a negative guard: the device is disabled, naming each path', () => {
    const checked = withFirstDevice({ pollIntervals: { critical: 50, normal: 0 }, lateReplyGuardMs: -1 });
    assert.ok(checked.ok);
    const paths = checked.result.disabled.flatMap((d) => d.issues.map((i) => i.path));
    for (const expected of [
      'devices[0].pollIntervals.critical',
      'devices[0].pollIntervals.normal',
      'devices[0].lateReplyGuardMs',
    ])
      assert.ok(paths.includes(expected), `missing ${expected} in ${JSON.stringify(paths)}`);
  });
});
