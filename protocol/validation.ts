import type { z } from 'zod';

/** One problem found while validating input, with the path to the offending value. */
export interface ValidationIssue {
  /** Dotted path, e.g. `devices[3].unitId` or `fields[2].address`; empty for the root. */
  path: string;
  message: string;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Every issue of a zod error, flattened with its path (zod already collects all of them). */
export function issuesOf(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}

/** Renders issues one per line for people: `  - devices[3].unitId: must be ≤ 247`. */
export function renderIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n');
}
