import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateGatewayConfig } from '../../../edge/config/load.js';

const base = {
  gateway: { id: 'gw-1', site: { district: 'd1', town: 't1', community: 'c1' } },
  storage: { dataDir: '/tmp/unused' },
};

describe('gateway config: modem', () => {
  it('is off by default and normalises duty numbers to E.164', () => {
    const off = validateGatewayConfig(base);
    assert.ok(off.ok);
    assert.equal(off.result.config.modem, undefined);
    const on = validateGatewayConfig({
      ...base,
      modem: { enabled: true, port: '/dev/ttyUSB2', dutyNumbers: ['138 0013 8000', '+85291234567'] },
    });
    assert.ok(on.ok);
    assert.deepEqual(on.result.config.modem?.dutyNumbers, ['+8613800138000', '+85291234567']);
    assert.equal(on.result.config.modem?.afterMs, 10_000);
    assert.deepEqual(on.result.config.modem?.severities, ['critical']);
  });

  it('names every problem with its path and refuses to start', () => {
    const bad = validateGatewayConfig({
      ...base,
      modem: {
        enabled: true,
        dutyNumbers: ['13800138000', '021-88888888', '+8613800138000'],
        pin: '12',
        afterMs: 10,
      },
    });
    assert.equal(bad.ok, false);
    const issues = bad.ok ? [] : bad.issues.map((i) => `${i.path}: ${i.message}`);
    const has = (re: RegExp) =>
      assert.ok(
        issues.some((i) => re.test(i)),
        `${re} in ${issues.join('\n')}`,
      );
    has(/^modem\.dutyNumbers\[1\]: "021-88888888" is not E.164 \(\+8613800138000\) or a mainland mobile/);
    has(/^modem\.pin: a SIM PIN is 4–8 digits/);
    has(/^modem\.afterMs: /);
    const enabledOnly = validateGatewayConfig({ ...base, modem: { enabled: true, dutyNumbers: [] } });
    const problems = enabledOnly.ok ? [] : enabledOnly.issues.map((i) => `${i.path}: ${i.message}`);
    assert.ok(problems.includes('modem.port: required when enabled'), problems.join('\n'));
    assert.ok(problems.includes('modem.dutyNumbers: at least one number when enabled'), problems.join('\n'));
    const dup = validateGatewayConfig({
      ...base,
      modem: { enabled: true, port: '/dev/ttyUSB2', dutyNumbers: ['13800138000', '+8613800138000'] },
    });
    const dupProblems = dup.ok ? [] : dup.issues.map((i) => `${i.path}: ${i.message}`);
    assert.ok(
      dupProblems.includes('modem.dutyNumbers[1]: +8613800138000 is listed twice'),
      dupProblems.join('\n'),
    );
  });
});
