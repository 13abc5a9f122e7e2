/** Writes docs/rule.schema.json; test/edge/rules/file.test.ts checks it is current. */
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { ParamRef, RuleFile } from '../edge/rules/file.js';
import { RuleSpec } from '../edge/rules/spec.js';

type Node = Record<string, unknown>;

/** Every number of a rule may also be a `{ param, times }` reference (edge/rules/file.ts). */
function allowParams(node: unknown, ref: Node): unknown {
  if (Array.isArray(node)) return node.map((item) => allowParams(item, ref));
  if (typeof node !== 'object' || node === null) return node;
  const object = node as Node;
  if (object.type === 'number' || object.type === 'integer') return { anyOf: [object, ref] };
  const out: Node = {};
  for (const [key, value] of Object.entries(object)) out[key] = allowParams(value, ref);
  return out;
}

export function renderRuleSchema(): string {
  const options = { io: 'input', unrepresentable: 'any' } as const;
  const ref = z.toJSONSchema(ParamRef, options) as Node;
  delete ref.$schema;
  const rule = allowParams(z.toJSONSchema(RuleSpec, options), ref) as Node;
  delete rule.$schema;
  const file = z.toJSONSchema(RuleFile, options) as Node & { properties: Record<string, Node> };
  file.properties.rules = { ...file.properties.rules, items: rule };
  const schema = {
    ...file,
    $id: 'https://doorstep.invalid/schemas/rule.schema.json',
    title: 'doorstep alarm rule file (edge/rules/file.ts)',
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/rule.schema.json', import.meta.url), renderRuleSchema());
  console.log('docs/rule.schema.json written');
}
