/**
 * Handover: the installer ends commissioning. Refused, with every reason, while a device is in
 * alarm (its own flags or the gateway's rules), offline, unreadable or untested (no passed walk test
 * in the latest signed commissioning report) — unless forced with a reason, which is recorded. On
 * success `gateway.commissioning` becomes false in gateway.yaml (comments kept): from the next
 * flash, or SIGHUP on a running box, the gateway's alarms are real and page people.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { writeFileAtomic, writeSecretFile } from '../common/files.js';
import {
  type ConfiguredDevice,
  type GatewayConfigResult,
  validateGatewayConfig,
} from '../edge/config/load.js';
import { DoorstepError, formatSitePath } from '../protocol/index.js';
import { Commissioner, type CommissionOptions, type DeviceCheck } from './commission.js';
import type { CommissioningReport } from './report.js';
import { readIdentity, signPayload, verifyPayload, workspacePaths } from './workspace.js';

export interface NotReady {
  device: string;
  location: string;
  /** in_alarm: flags or rules; offline: no answer / faulty / unreadable; untested: no passed walk test. */
  problem: 'in_alarm' | 'offline' | 'untested' | 'invalid';
  reason: string;
  detail: string;
}

export interface HandoverRecord {
  kind: 'doorstep-handover';
  version: 1;
  gateway: string;
  site: string;
  at: string;
  installer?: string;
  forced: boolean;
  /** Why the installer handed over although devices were not ready (required with force). */
  forceReason?: string;
  /** The commissioning report whose walk test counted (file name in reports/). */
  commissioningReport?: string;
  notReady: NotReady[];
  devices: Array<{ device: string; status: DeviceCheck['status']; walk?: string }>;
  identity?: { installId: string; fingerprint: string };
  signature?: string;
}

export interface HandoverOptions extends CommissionOptions {
  dir: string;
  force?: boolean;
  forceReason?: string;
  installer?: string;
  readTimeoutMs?: number;
  now?: () => Date;
}

export interface HandoverResult {
  accepted: boolean;
  alreadyHandedOver: boolean;
  record: HandoverRecord;
  recordFile?: string;
  checks: DeviceCheck[];
}

/** The newest commissioning report in `reports/` whose signature verifies with this workspace's key. */
export function latestCommissioningReport(
  dir: string,
): { file: string; report: CommissioningReport } | undefined {
  const paths = workspacePaths(dir);
  if (!existsSync(paths.reports)) return undefined;
  const identity = existsSync(paths.identity) ? readIdentity(dir) : undefined;
  const files = readdirSync(paths.reports)
    .filter((f) => f.startsWith('commissioning-') && f.endsWith('.json'))
    .sort()
    .reverse();
  for (const file of files) {
    let report: CommissioningReport;
    try {
      report = JSON.parse(readFileSync(join(paths.reports, file), 'utf8')) as CommissioningReport;
    } catch {
      continue;
    }
    if (report.kind !== 'doorstep-commissioning-report') continue;
    // A report edited by hand (or from another workspace) does not count as a walk test.
    const { signature, ...unsigned } = report;
    if (!identity || !signature || !verifyPayload(identity.publicKey, unsigned, signature)) continue;
    return { file, report };
  }
  return undefined;
}

function problemOf(check: DeviceCheck): NotReady['problem'] {
  if (check.reason === 'CFG_ERR_INVALID') return 'invalid';
  if (check.reason === 'PROV_ERR_DEVICE_FAULT' || check.reason === 'PROV_ERR_ALARM_OPEN') return 'in_alarm';
  if (check.reason === 'PROV_ERR_NOT_POLLED') return 'untested';
  return 'offline';
}

export async function handover(options: HandoverOptions): Promise<HandoverResult> {
  const paths = workspacePaths(options.dir);
  if (!existsSync(paths.config))
    throw new DoorstepError('PROV_ERR_WORKSPACE', { dir: paths.dir, reason: 'no gateway.yaml' });
  const text = readFileSync(paths.config, 'utf8');
  const doc = parseDocument(text);
  const checked = validateGatewayConfig(doc.toJS());
  if (!checked.ok)
    throw new DoorstepError('CFG_ERR_INVALID', {
      count: checked.issues.length,
      summary: `${paths.config} (run doorstep provision validate)`,
    });
  const loaded: GatewayConfigResult = checked.result;
  const alreadyHandedOver = !loaded.config.gateway.commissioning;

  const commissioner = new Commissioner(loaded, options);
  let checks: DeviceCheck[];
  try {
    await commissioner.start();
    checks = await commissioner.readOnce(options.readTimeoutMs ?? 10_000);
  } finally {
    await commissioner.stop();
  }
  const latest = latestCommissioningReport(options.dir);
  const walked = new Map(latest?.report.devices.map((d) => [d.device, d.walk]) ?? []);
  const byId = new Map<string, ConfiguredDevice>(loaded.config.devices.map((d) => [d.id, d]));
  const notReady: NotReady[] = [];
  for (const c of checks) {
    const location = byId.get(c.device)?.location ?? c.location;
    if (c.status !== 'ok') {
      notReady.push({
        device: c.device,
        location,
        problem: problemOf(c),
        reason: c.reason ?? 'PROV_ERR_NO_READING',
        detail: c.detail ?? '',
      });
      continue;
    }
    const walk = walked.get(c.device);
    if (walk?.status !== 'passed')
      notReady.push({
        device: c.device,
        location,
        problem: 'untested',
        reason: walk?.reason ?? 'PROV_ERR_WALK_TIMEOUT',
        detail: latest
          ? `no passed walk test in ${latest.file}${walk?.detail ? ` (${walk.detail})` : ''}`
          : 'no signed commissioning report with a walk test in reports/ (run commission --walk-test)',
      });
  }
  const forced = notReady.length > 0 && (options.force ?? false);
  const accepted = notReady.length === 0 || forced;
  const record: HandoverRecord = {
    kind: 'doorstep-handover',
    version: 1,
    gateway: loaded.config.gateway.id,
    site: formatSitePath(loaded.config.gateway.site),
    at: (options.now?.() ?? new Date()).toISOString(),
    ...(options.installer ? { installer: options.installer } : {}),
    forced,
    ...(forced && options.forceReason ? { forceReason: options.forceReason } : {}),
    ...(latest ? { commissioningReport: latest.file } : {}),
    notReady,
    devices: checks.map((c) => ({
      device: c.device,
      status: c.status,
      ...(walked.get(c.device) ? { walk: walked.get(c.device)!.status } : {}),
    })),
  };
  if (!accepted) return { accepted, alreadyHandedOver, record, checks };

  if (existsSync(paths.key)) {
    const identity = readIdentity(options.dir);
    record.identity = { installId: identity.installId, fingerprint: identity.fingerprint };
    record.signature = signPayload(options.dir, record);
  }
  mkdirSync(paths.reports, { recursive: true });
  const recordFile = join(
    paths.reports,
    `handover-${record.gateway}-${record.at.replace(/[:.]/g, '-')}.json`,
  );
  writeFileAtomic(recordFile, `${JSON.stringify(record, null, 2)}\n`);
  if (!alreadyHandedOver) {
    doc.setIn(['gateway', 'commissioning'], false);
    // gateway.yaml holds passwords: owner only (0600).
    writeSecretFile(paths.config, doc.toString({ lineWidth: 0 }));
  }
  return { accepted, alreadyHandedOver, record, recordFile, checks };
}
