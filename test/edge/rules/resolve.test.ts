import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultRulePack } from '../../../edge/rules/packs.js';
import { assertNoRuleProblems, resolveDeviceRules, resolveSiteRules } from '../../../edge/rules/resolve.js';
import { RuleSpec } from '../../../edge/rules/spec.js';
import { isDoorstepError } from '../../../protocol/errors.js';

describe('rule resolution: pack ← site ← device', () => {
  it('every default pack parses', () => {
    for (const kind of ['smoke', 'gas', 'water_pressure', 'door', 'geomagnetic'] as const) {
      for (const rule of defaultRulePack(kind)) RuleSpec.parse(rule);
    }
  });

  it('device overrides win over site overrides; rules can be disabled', () => {
    const { rules, problems } = resolveDeviceRules(
      { id: 'p-1', kind: 'water_pressure' },
      {
        site: { pressure_low: { threshold: 0.15, onDelayMs: 5000 } },
        devices: { 'p-1': { pressure_low: { threshold: 0.12 }, pressure_high: { enabled: false } } },
      },
    );
    assert.deepEqual(problems, []);
    const low = rules.find((rule) => rule.type === 'pressure_low');
    assert.equal(low?.when[0]?.kind === 'below' && low.when[0].threshold, 0.12);
    assert.equal(low?.onDelayMs, 5000);
    assert.equal(
      rules.some((rule) => rule.type === 'pressure_high'),
      false,
    );
  });

  it('reports every problem with its path and keeps the pack default for a bad override', () => {
    const { devices, problems } = resolveSiteRules(
      [
        { id: 'g-1', kind: 'gas' },
        { id: 'sd-1', kind: 'smoke' },
      ],
      {
        site: { gas_high: { onDelayMs: -1 } },
        devices: {
          'g-1': { gas_low: { threshold: 30 }, tamper: { threshold: 1 }, new_rule: { severity: 'major' } },
          'sd-1': {
            smoke: { severty: 'minor' },
            fire_confirmed: { confirmWith: { point: 'smoke', withinMs: 1000, devices: ['ghost'] } },
          },
          ghost: {},
        },
      },
    );
    const paths = problems.map((problem) => problem.path).sort();
    assert.deepEqual(paths, [
      'devices.g-1.gas_low.threshold',
      'devices.g-1.new_rule',
      'devices.g-1.tamper.threshold',
      'devices.ghost',
      'devices.sd-1.fire_confirmed.confirmWith.devices.0',
      'devices.sd-1.smoke',
      'site.gas_high.onDelayMs',
    ]);
    assert.match(problems.find((p) => p.path === 'devices.g-1.gas_low.threshold')!.message, /1–25/);
    const gasLow = devices.find((d) => d.device === 'g-1')?.rules.find((rule) => rule.type === 'gas_low');
    assert.equal(gasLow?.when[0]?.kind === 'above' && gasLow.when[0].threshold, 20, 'pack default kept');
    assert.throws(
      () => assertNoRuleProblems(problems),
      (error) => isDoorstepError(error, 'CFG_ERR_INVALID') && /gas_low\.threshold/.test(error.message),
    );
  });

  it('a misspelt alarm type is reported at device and at site level; legal ranges hold everywhere', () => {
    const { devices, problems } = resolveSiteRules([{ id: 'sd-1', kind: 'smoke' }], {
      site: { smok: { severity: 'major' }, gas_low: { threshold: 99 }, gas_high: { threshold: 60 } },
      devices: { 'sd-1': { smok: { latched: false } } },
    });
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    assert.deepEqual(Object.keys(byPath).sort(), [
      'devices.sd-1.smok',
      'site.gas_high.threshold',
      'site.gas_low.threshold',
      'site.smok',
    ]);
    assert.match(byPath['devices.sd-1.smok']!, /no rule "smok" for a smoke device \(its rules: smoke, /);
    assert.match(byPath['site.smok']!, /no default rule "smok"/);
    // No gas detector here yet: the site's gas figures are still checked against GB 15322.1.
    assert.match(
      byPath['site.gas_low.threshold']!,
      /threshold 99 is outside the legal range 1–25.*GB 15322\.1/,
    );
    assert.match(byPath['site.gas_high.threshold']!, /threshold 60 is outside the legal range 1–50/);
    assert.ok(
      devices[0]?.rules.some((rule) => rule.type === 'smoke'),
      'the smoke rule runs',
    );
  });

  it('a lone smoke detector has no fire_confirmed rule; zone peers are filled in', () => {
    const { devices } = resolveSiteRules([
      { id: 'a', kind: 'smoke', zone: 'z' },
      { id: 'b', kind: 'smoke', zone: 'z' },
      { id: 'c', kind: 'smoke' },
    ]);
    const confirm = (id: string) =>
      devices.find((d) => d.device === id)?.rules.find((r) => r.type === 'fire_confirmed');
    assert.deepEqual(confirm('a')?.confirmWith?.devices, ['b']);
    assert.equal(confirm('c'), undefined);
  });
});
