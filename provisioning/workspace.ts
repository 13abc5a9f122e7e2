/**
 * The installer's workspace for one gateway: a directory on the laptop holding everything that
 * will end up on the box. Layout (provisioning/README.md):
 *
 *   gateway.yaml    the gateway configuration (paths in it are paths on the gateway)
 *   identity.json   gateway id, site path, install id, Ed25519 public key and its fingerprint
 *   identity.key    the Ed25519 private key (0600): signs the flash manifest and commissioning reports
 *   gateway.secret  the cloud credential written by `register` (0600)
 *   reports/        commissioning reports (HTML + JSON)
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { DoorstepError, GatewayId, SitePath } from '../protocol/index.js';

export const Identity = z.object({
  gateway: GatewayId,
  site: SitePath,
  name: z.string().optional(),
  /** Random per `init`: two workspaces for the same gateway id are still told apart. */
  installId: z.string().uuid(),
  createdAt: z.string(),
  publicKey: z.string().startsWith('-----BEGIN PUBLIC KEY-----'),
  fingerprint: z.string(),
});
export type Identity = z.infer<typeof Identity>;

export interface WorkspacePaths {
  dir: string;
  config: string;
  identity: string;
  key: string;
  secret: string;
  reports: string;
}

export function workspacePaths(dir: string): WorkspacePaths {
  const root = resolve(dir);
  return {
    dir: root,
    config: join(root, 'gateway.yaml'),
    identity: join(root, 'identity.json'),
    key: join(root, 'identity.key'),
    secret: join(root, 'gateway.secret'),
    reports: join(root, 'reports'),
  };
}

/** sha256 of the DER public key, as colon-separated hex pairs (what `ssh-keygen -l` users expect). */
export function fingerprintOf(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  const hex = createHash('sha256').update(der).digest('hex').slice(0, 32);
  return `SHA256:${hex.match(/../g)!.join(':')}`;
}

export function readIdentity(dir: string): Identity {
  const paths = workspacePaths(dir);
  let text: string;
  try {
    text = readFileSync(paths.identity, 'utf8');
  } catch (error) {
    throw new DoorstepError(
      'PROV_ERR_WORKSPACE',
      {
        dir: paths.dir,
        reason: `identity.json: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      },
      { cause: error },
    );
  }
  let parsed: ReturnType<typeof Identity.safeParse>;
  try {
    parsed = Identity.safeParse(JSON.parse(text));
  } catch {
    throw new DoorstepError('PROV_ERR_WORKSPACE', { dir: paths.dir, reason: 'identity.json is not JSON' });
  }
  if (!parsed.success)
    throw new DoorstepError('PROV_ERR_WORKSPACE', {
      dir: paths.dir,
      reason: `identity.json is damaged at ${parsed.error.issues[0]?.path.join('.') || '(root)'}`,
    });
  return parsed.data;
}

/** Deterministic JSON (sorted keys): what is signed, so a re-run of flash signs the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Ed25519 signature (base64) of the canonical JSON of `payload` with the workspace's key. */
export function signPayload(dir: string, payload: unknown): string {
  const key = createPrivateKey(readFileSync(workspacePaths(dir).key, 'utf8'));
  return sign(null, Buffer.from(canonicalJson(payload)), key).toString('base64');
}

export function verifyPayload(publicKeyPem: string, payload: unknown, signature: string): boolean {
  return verify(null, Buffer.from(canonicalJson(payload)), publicKeyPem, Buffer.from(signature, 'base64'));
}
