import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CHATTERING_RULE } from '../../../edge/rules/engine/build.js';
import { defaultRulePack } from '../../../edge/rules/packs.js';
import type { RuleSpecInput } from '../../../edge/rules/spec.js';
import { SensorKind } from '../../../protocol/index.js';

/**
 * edge/rules/README.md "One condition, one alarm" maps every kind's device outputs and doorstep's
 * rules to one alarm type. This keeps that table and the packs in step, so the documented mapping
 * is the one that runs.
 */
const readme = readFileSync(new URL('../../../edge/rules/README.md', import.meta.url), 'utf8');

interface Row {
  kind: string;
  outputs: string[];
  rulePoints: string[];
  type: string;
}

function mappingRows(): Row[] {
  const section = readme.slice(readme.indexOf('## One condition, one alarm'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| kind')));
  const ticked = (cell: string) => [...cell.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]!);
  return table
    .split('\n')
    .filter((line) => line.startsWith('|') && !line.startsWith('| kind') && !line.startsWith('| ---'))
    .map((line) => {
      const cells = line.split('|').slice(1, -1);
      assert.equal(cells.length, 4, line);
      const [kind, outputs, rule, type] = cells.map((c) => c.trim()) as [string, string, string, string];
      return { kind, outputs: ticked(outputs), rulePoints: ticked(rule), type: ticked(type)[0]! };
    });
}

/** Every default rule, keyed as the table names the kind. */
function packRules(): Map<string, RuleSpecInput> {
  const rules = new Map<string, RuleSpecInput>();
  const add = (key: string, list: RuleSpecInput[]) => {
    for (const rule of list) rules.set(`${rule.kind === 'any' ? 'any' : key} ${rule.type}`, rule);
  };
  for (const kind of SensorKind.options) {
    if (kind === 'geomagnetic') {
      add('geomagnetic, vehicle', defaultRulePack(kind, { use: 'vehicle_presence' }));
      add('geomagnetic, manhole', defaultRulePack(kind, { use: 'manhole_tilt' }));
    } else add(kind, defaultRulePack(kind));
  }
  rules.set(`any ${CHATTERING_RULE.type}`, CHATTERING_RULE);
  return rules;
}

describe('one condition, one alarm: the documented mapping is the packs', () => {
  const rows = mappingRows();
  const rules = packRules();

  it('names every alarm type of every kind, and nothing else', () => {
    assert.deepEqual(rows.map((r) => `${r.kind} ${r.type}`).sort(), [...rules.keys()].sort());
  });

  it("a device's own alarm output and doorstep's threshold on the same quantity are one rule", () => {
    for (const row of rows) {
      const rule = rules.get(`${row.kind} ${row.type}`)!;
      const flags = rule.when.filter((c) => c.kind === 'isTrue' || c.kind === 'equals').map((c) => c.point);
      const measured = rule.when
        .filter((c) => c.kind === 'above' || c.kind === 'below' || c.kind === 'unchanged')
        .map((c) => c.point);
      for (const output of row.outputs)
        assert.ok(
          flags.includes(output) || rule.confirmWith?.point === output,
          `${row.type}: device output ${output} is not a condition of the rule`,
        );
      for (const point of row.rulePoints)
        assert.ok(measured.includes(point), `${row.type}: ${point} is not a threshold of the rule`);
    }
  });

  it('no device output point raises an alarm type of its own beside a threshold on its quantity', () => {
    // gas_al1 / gas_al2 feed gas_low / gas_high: no rule is left that watches only the flag.
    for (const [key, rule] of rules) {
      const points = rule.when.map((c) => ('point' in c ? c.point : undefined));
      if (points.includes('gas_al1') || points.includes('gas_al2'))
        assert.ok(points.includes('gas'), `${key} watches a gas alarm bit without the %LEL`);
    }
    assert.ok(![...rules.keys()].some((k) => /gas_al[12]$/.test(k)));
  });
});
