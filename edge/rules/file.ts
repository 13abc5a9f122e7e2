/**
 * Rule files: alarm rules as YAML that an integrator writes and `doorstep rules check` validates
 * (JSON Schema: docs/rule.schema.json, generated from these zod schemas). The default packs
 * (packs/*.yaml) are files in this format, so there is one way of writing a rule.
 *
 *   params:                    # named figures, with defaults a caller may replace
 *     gasLowSetPointLel: 20
 *   rules:
 *     - type: gas_low
 *       severity: major
 *       kind: gas
 *       when:
 *         - { kind: above, point: gas, threshold: { param: gasLowSetPointLel }, inclusive: true }
 *
 * Any number in a rule may be `{ param: name, times: factor }`: the parameter's value (times the
 * factor), so a figure derived from a device option (2 % of a transmitter's span) is written once.
 * Every problem comes back at once, with its path in the file (`rules[3].when[0].threshold`).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { DoorstepError } from '../../protocol/errors.js';
import { type RuleSpec, type RuleSpecInput, RuleSpec as RuleSpecSchema } from './spec.js';

/** `{ param: name, times?: factor }` in place of a number. */
export const ParamRef = z
  .object({
    param: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, 'a parameter name (letters and digits)'),
    times: z.number().finite().optional(),
  })
  .strict();
export type ParamRef = z.infer<typeof ParamRef>;

export const RuleFile = z
  .object({
    /** What the file is for (shown by `doorstep rules check`). */
    description: z.string().max(500).optional(),
    /** Named figures the rules refer to with `{ param: name }`; callers may replace them. */
    params: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/), z.number().finite()).default({}),
    rules: z.array(z.unknown()).min(1),
  })
  .strict();

export interface RuleFileProblem {
  path: string;
  message: string;
}

export interface ParsedRuleFile {
  description?: string;
  params: Record<string, number>;
  /** The rules after parameter substitution, unparsed (pack defaults apply on parse). */
  rules: RuleSpecInput[];
  /** The same rules, validated (only those without problems). */
  parsed: RuleSpec[];
  problems: RuleFileProblem[];
}

function pathOf(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const part of path)
    out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out;
}

function isParamRef(value: unknown): value is ParamRef {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'param' in value;
}

/** Replaces every `{ param }` with its figure; unknown or malformed references are problems. */
export function substituteParams(
  value: unknown,
  params: Readonly<Record<string, number>>,
  path: string,
  problems: RuleFileProblem[],
): unknown {
  if (isParamRef(value)) {
    const ref = ParamRef.safeParse(value);
    if (!ref.success) {
      for (const issue of ref.error.issues)
        problems.push({ path: pathOf(path, issue.path), message: issue.message });
      return value;
    }
    const figure = params[ref.data.param];
    if (figure === undefined) {
      const known = Object.keys(params);
      problems.push({
        path,
        message: `unknown parameter "${ref.data.param}"${known.length > 0 ? ` (known: ${known.join(', ')})` : ''}`,
      });
      return value;
    }
    return ref.data.times === undefined ? figure : figure * ref.data.times;
  }
  if (Array.isArray(value))
    return value.map((item, i) => substituteParams(item, params, `${path}[${i}]`, problems));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      out[key] = substituteParams(item, params, pathOf(path, [key]), problems);
    return out;
  }
  return value;
}

/**
 * Parses a rule file's text. `params` replace the file's own defaults (a device's pack options);
 * a replacement for a parameter the file does not declare is a problem too.
 */
export function parseRuleFile(text: string, params: Readonly<Record<string, number>> = {}): ParsedRuleFile {
  const problems: RuleFileProblem[] = [];
  let raw: unknown;
  try {
    raw = parse(text, { prettyErrors: true });
  } catch (error) {
    return {
      params: {},
      rules: [],
      parsed: [],
      problems: [{ path: '', message: `not valid YAML: ${(error as Error).message.split('\n')[0]}` }],
    };
  }
  const file = RuleFile.safeParse(raw);
  if (!file.success) {
    for (const issue of file.error.issues)
      problems.push({ path: pathOf('', issue.path), message: issue.message });
    return { params: {}, rules: [], parsed: [], problems };
  }
  const effective: Record<string, number> = { ...file.data.params };
  for (const [name, value] of Object.entries(params)) {
    if (!(name in effective))
      problems.push({ path: `params.${name}`, message: 'the file declares no such parameter' });
    else effective[name] = value;
  }
  const rules: RuleSpecInput[] = [];
  const parsed: RuleSpec[] = [];
  const types = new Map<string, number>();
  file.data.rules.forEach((item, index) => {
    const base = `rules[${index}]`;
    const before = problems.length;
    const rule = substituteParams(item, effective, base, problems);
    if (problems.length > before) return;
    const result = RuleSpecSchema.safeParse(rule);
    if (!result.success) {
      for (const issue of result.error.issues)
        problems.push({ path: pathOf(base, issue.path), message: issue.message });
      return;
    }
    const key = `${result.data.type}/${result.data.kind}/${result.data.use ?? ''}`;
    const first = types.get(key);
    if (first !== undefined) {
      problems.push({
        path: `${base}.type`,
        message: `${result.data.type} is already defined for ${result.data.kind} at rules[${first}]: one rule per alarm type`,
      });
      return;
    }
    types.set(key, index);
    rules.push(rule as RuleSpecInput);
    parsed.push(result.data);
  });
  const out: ParsedRuleFile = { params: effective, rules, parsed, problems };
  if (file.data.description !== undefined) out.description = file.data.description;
  return out;
}

/** Reads and parses a rule file; throws EDGE_ERR_RULE_FILE listing every problem. */
export function loadRuleFile(path: string, params: Readonly<Record<string, number>> = {}): ParsedRuleFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DoorstepError('CFG_ERR_UNREADABLE', { file: path, reason: (error as Error).message });
  }
  const parsed = parseRuleFile(text, params);
  assertNoFileProblems(path, parsed.problems);
  return parsed;
}

export function assertNoFileProblems(file: string, problems: readonly RuleFileProblem[]): void {
  if (problems.length === 0) return;
  throw new DoorstepError('EDGE_ERR_RULE_FILE', {
    file,
    count: problems.length,
    summary: problems.map((p) => `${p.path || '(file)'}: ${p.message}`).join('; '),
  });
}
