/**
 * Enrolment with the district cloud — the one step that needs the network. POST {cloud}/v1/enroll
 * with the town's enrolment token (cloud/README.md) returns the gateway's credential, shown once;
 * it is stored 0600 in the workspace and the `uplink` section is written into gateway.yaml.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { writeSecretFile } from '../common/files.js';
import { validateGatewayConfig } from '../edge/config/load.js';
import { DoorstepError, formatSitePath, renderIssues } from '../protocol/index.js';
import { GATEWAY_PATHS } from './init.js';
import { workspacePaths } from './workspace.js';

/** Each refusal of the cloud as what the installer should do about it (distinct codes and hints). */
function refusal(url: string, site: string, gateway: string, res: Response, body: ErrorBody): void {
  const code = body.error?.code;
  const message = body.error?.message ?? '';
  // The error body carries code, message and field (protocol/sync.ts ErrorBody); the expiry time
  // and the token's scope are read from the catalogue message the cloud filled in.
  switch (code) {
    case 'CLOUD_ERR_ENROLL_TOKEN':
      throw new DoorstepError('PROV_ERR_ENROLL_TOKEN', { url, code });
    case 'CLOUD_ERR_ENROLL_TOKEN_EXPIRED': {
      const at = Date.parse(/\d{4}-\d\d-\d\dT[\d:.]+Z/.exec(message)?.[0] ?? '');
      throw new DoorstepError('PROV_ERR_ENROLL_EXPIRED', {
        expiresAt: Number.isNaN(at) ? 'unknown' : shanghaiTime(at),
      });
    }
    case 'CLOUD_ERR_ENROLL_TOKEN_USED':
      throw new DoorstepError('PROV_ERR_ENROLL_USED_UP', {});
    case 'CLOUD_ERR_SCOPE':
      throw new DoorstepError('PROV_ERR_ENROLL_SCOPE', {
        site,
        scope: /scope (\S+)/.exec(message)?.[1] ?? '?',
      });
    case 'CLOUD_ERR_CONFLICT':
      throw new DoorstepError('PROV_ERR_ENROLL_TAKEN', { gateway, url });
    case 'CLOUD_ERR_VALIDATION':
      if (body.error?.field === 'gateway.site')
        throw new DoorstepError('PROV_ERR_ENROLL_SITE_UNKNOWN', { site });
      break;
  }
  if (res.status === 401)
    throw new DoorstepError('PROV_ERR_ENROLL_TOKEN', { url, code: code ?? String(res.status) });
}

/** 2026-12-08 07:35 — the local time an installer in China reads (UTC+8, no DST). */
function shanghaiTime(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
}

export interface RegisterOptions {
  dir: string;
  /** The cloud's base URL as reachable from here, e.g. https://pudong.doorstep.example */
  cloud: string;
  token: string;
  /** The URL the gateway will use, when it differs from the one the laptop enrols through. */
  uplinkUrl?: string;
  /** Replace a credential already in the workspace (the cloud refuses a second enrolment anyway). */
  force?: boolean;
  timeoutMs?: number;
}

export interface Registered {
  gateway: string;
  credentialId: string;
  secretFile: string;
  uplinkUrl: string;
  syncUrl?: string;
}

interface ErrorBody {
  error?: { code?: string; message?: string; field?: string };
}

function normaliseUrl(text: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DoorstepError('CLI_ERR_USAGE', {
      reason: `${flag} "${text}" is not a URL (e.g. https://cloud.example)`,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new DoorstepError('CLI_ERR_USAGE', { reason: `${flag} "${text}" must be http(s)` });
  return url.href.replace(/\/+$/, '');
}

export async function registerGateway(options: RegisterOptions): Promise<Registered> {
  const paths = workspacePaths(options.dir);
  const cloud = normaliseUrl(options.cloud, '--cloud');
  const uplinkUrl = options.uplinkUrl ? normaliseUrl(options.uplinkUrl, '--uplink-url') : cloud;
  if (!options.token.trim()) throw new DoorstepError('CLI_ERR_USAGE', { reason: '--token is empty' });
  let text: string;
  try {
    text = readFileSync(paths.config, 'utf8');
  } catch (error) {
    throw new DoorstepError(
      'PROV_ERR_WORKSPACE',
      {
        dir: paths.dir,
        reason: `gateway.yaml: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      },
      { cause: error },
    );
  }
  const doc = parseDocument(text);
  const checked = validateGatewayConfig(doc.toJS(), { baseDir: paths.dir });
  if (!checked.ok)
    throw new DoorstepError('CFG_ERR_INVALID', {
      count: checked.issues.length,
      summary: `${paths.config}\n${renderIssues(checked.issues)}`,
    });
  const { gateway } = checked.result.config;
  // Checked before the token is spent: a use of the town's token is not wasted on a duplicate.
  if (existsSync(paths.secret) && !options.force)
    throw new DoorstepError('PROV_ERR_EXISTS', { what: 'a cloud credential', path: paths.secret });

  let res: Response;
  try {
    res = await fetch(`${cloud}/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token: options.token.trim(),
        gateway: { id: gateway.id, site: gateway.site, ...(gateway.name ? { name: gateway.name } : {}) },
      }),
      // fetch has no default timeout; an enrolment over a weak 4G link gets 15 s.
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new DoorstepError(
      'PROV_ERR_CLOUD_UNREACHABLE',
      { url: cloud, reason: cause?.code ?? cause?.message ?? (error as Error).message },
      { cause: error },
    );
  }
  const body = (await res.json().catch(() => ({}))) as ErrorBody & {
    credential?: { id: string; secret: string };
    syncUrl?: string;
  };
  refusal(cloud, formatSitePath(gateway.site), gateway.id, res, body);
  if (res.status !== 201 || !body.credential?.secret)
    throw new DoorstepError('PROV_ERR_ENROLL_REFUSED', {
      url: cloud,
      gateway: gateway.id,
      status: res.status,
      code: body.error?.code ?? '-',
      reason: body.error?.message ?? (res.status === 201 ? 'no credential in the answer' : res.statusText),
    });

  writeSecretFile(paths.secret, `${body.credential.secret}\n`);
  const existing = doc.getIn(['uplink', 'credentialsFile']);
  const credentialsFile = typeof existing === 'string' ? existing : GATEWAY_PATHS.secret;
  if (doc.has('uplink')) {
    doc.setIn(['uplink', 'url'], uplinkUrl);
    doc.setIn(['uplink', 'credentialsFile'], credentialsFile);
  } else {
    const node = doc.createNode({ url: uplinkUrl, credentialsFile });
    doc.set('uplink', node);
    const pair = doc.contents && 'items' in doc.contents ? doc.contents.items.at(-1) : undefined;
    if (pair && typeof pair === 'object' && 'key' in pair && pair.key && typeof pair.key === 'object')
      (pair.key as { commentBefore?: string }).commentBefore =
        ` Written by \`doorstep provision register\` (credential ${body.credential.id}); the secret is installed at credentialsFile by \`provision flash\`.`;
  }
  // gateway.yaml holds the broker users' and Node-RED's passwords: owner only (0600), also when it
  // was 0644 before (common/files.ts sets the mode on the temp file before the rename).
  writeSecretFile(paths.config, doc.toString({ lineWidth: 0 }));
  return {
    gateway: gateway.id,
    credentialId: body.credential.id,
    secretFile: paths.secret,
    uplinkUrl,
    ...(body.syncUrl ? { syncUrl: body.syncUrl } : {}),
  };
}
