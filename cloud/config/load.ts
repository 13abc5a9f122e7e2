import { FileReadError, readYamlFile, relativeTo } from '../../common/yaml.js';
import { DoorstepError, issuesOf, type ValidationIssue } from '../../protocol/index.js';
import { CloudConfig } from './schema.js';

/** Validation problems of a parsed document, every one with its path (empty when valid). */
export function checkCloudConfig(raw: unknown): { config?: CloudConfig; issues: ValidationIssue[] } {
  const parsed = CloudConfig.safeParse(raw ?? {});
  if (!parsed.success) return { issues: issuesOf(parsed.error) };
  return { config: parsed.data, issues: [] };
}

/** Parses a document already in memory; throws CFG_ERR_INVALID listing every problem. */
export function parseCloudConfig(raw: unknown): Readonly<CloudConfig> {
  const { config, issues } = checkCloudConfig(raw);
  if (!config) throw invalidConfig(issues);
  return deepFreeze(config);
}

function invalidConfig(issues: readonly ValidationIssue[]): DoorstepError {
  return new DoorstepError('CFG_ERR_INVALID', {
    count: issues.length,
    summary: issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; '),
  });
}

/**
 * Reads and validates a YAML file. Relative file paths inside it (storage.path, http.tls.*) are
 * taken relative to the file's directory, so a config works wherever the service is started from.
 */
export function loadCloudConfig(file: string): Readonly<CloudConfig> {
  let raw: unknown;
  try {
    raw = readYamlFile(file);
  } catch (error) {
    const reason = error instanceof FileReadError ? error.reason : String(error);
    throw new DoorstepError('CFG_ERR_UNREADABLE', { file, reason }, { cause: error });
  }
  const { config: c, issues } = checkCloudConfig(raw);
  if (!c) throw invalidConfig(issues);
  const abs = relativeTo(file);
  if (c.storage.kind === 'sqlite' && c.storage.path !== ':memory:') c.storage.path = abs(c.storage.path);
  if (c.http.tls) c.http.tls = { certFile: abs(c.http.tls.certFile), keyFile: abs(c.http.tls.keyFile) };
  return deepFreeze(c);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
