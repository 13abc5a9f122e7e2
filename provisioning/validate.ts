import { existsSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { FileReadError, readYamlFile } from '../common/yaml.js';
import { checkGatewayConfig, type GatewayConfigResult } from '../edge/config/load.js';
import { DoorstepError } from '../protocol/index.js';
import { UNKNOWN_PROFILE } from './proposal.js';

/** One problem for the installer: where, what, and what to do about it. */
export interface Finding {
  path: string;
  message: string;
  hint: string;
  /**
   * error: the gateway refuses to start; device: that device is disabled; rule: that rule runs with
   * its pack default; warning: runs, but check it.
   */
  severity: 'error' | 'device' | 'rule' | 'warning';
}

export interface ValidationReport {
  file: string;
  findings: Finding[];
  /** Present when the gateway would start (possibly with devices disabled). */
  result?: GatewayConfigResult;
}

/**
 * Hints by the last part of the path (the field) and by the message. Ordered: the first match wins;
 * the message rules come first because "unrecognized key" is the same mistake wherever it is.
 */
const HINTS: Array<{ when: (path: string, message: string) => boolean; hint: string }> = [
  {
    when: (_p, m) => /unrecognized key/i.test(m),
    hint: 'Remove the key or fix its spelling; docs/gateway-config.md lists every setting.',
  },
  {
    when: (_p, m) => /lower-case slug/.test(m),
    hint: 'Use lower-case letters, digits, "-" or "_" only (ids appear in MQTT topics and URLs).',
  },
  {
    when: (p) => /^gateway\.site/.test(p),
    hint: 'The site is district/town/community as the town sub-centre registered it (e.g. pudong/zhangjiang/lane-100).',
  },
  {
    when: (p) => /\.unitId$/.test(p),
    hint: 'Modbus unit ids are 1–247 and unique per bus: read the device’s DIP switches or menu, or run `provision scan`.',
  },
  {
    when: (p) => /\.profile$/.test(p),
    hint: 'Pick a built-in profile of `doorstep profile list` for the bus type (`provision scan` proposes it from the device), or name a profile file (./my-device.yaml) checked with `doorstep profile check`.',
  },
  {
    when: (p) => /\.profile[.[]/.test(p),
    hint: 'A problem inside the device’s profile file or inline profile: fix it there; `doorstep profile check FILE` lists every one.',
  },
  {
    when: (p) => /^devices\[\d+\]\.bus$/.test(p),
    hint: 'Name the `id` of one entry under `buses:` (add the bus first).',
  },
  {
    when: (p) => /\.location$/.test(p),
    hint: 'Write where the sensor is in the words duty staff use, e.g. "3号楼2单元 楼道" (≤ 120 characters).',
  },
  {
    when: (p) => /^buses\[\d+\]\.port$/.test(p),
    hint: 'Give the adapter’s stable path, e.g. /dev/serial/by-id/usb-FTDI_…-if00-port0 (ls -l /dev/serial/by-id/).',
  },
  {
    when: (p) => /\.(baudRate|parity|dataBits|stopBits)$/.test(p),
    hint: 'Line settings must match every device on the bus (typ. 9600 8E1 or 9600 8N1); `provision scan` finds them.',
  },
  {
    when: (p) => /\.(host|port)$/.test(p) && p.startsWith('devices'),
    hint: 'A Modbus TCP device needs host and port (usually 502) of the device or its RTU/TCP gateway.',
  },
  {
    when: (p) => /\.detector$/.test(p),
    hint: 'The detector id is printed on the wireless sensor or shown by the receiver when it is triggered.',
  },
  {
    when: (p) => /^devices\[\d+\]\.(id)$/.test(p),
    hint: 'Device ids must be unique on the gateway; a common pattern is kind-building-unit (smoke-3-2).',
  },
  {
    when: (p) => /^buses\[\d+\]\.(id|type)$/.test(p),
    hint: 'Each bus needs a unique id and a type: rtu, tcp, frames or mqtt (mqtt needs the `broker` section).',
  },
  {
    when: (p) => p.startsWith('uplink'),
    hint: '`doorstep provision register` writes the uplink section (url and credentialsFile); edit it only to change the URL.',
  },
  {
    when: (p) => p.startsWith('actions'),
    hint: 'An action names alarm types and a Modbus device (an I/O module relay) that is configured and enabled.',
  },
  {
    when: (p) => p.startsWith('storage'),
    hint: 'dataDir is an absolute directory on the gateway, e.g. /var/lib/doorstep.',
  },
  {
    when: (p) => p.startsWith('health'),
    hint: 'health.port is 0–65535 (9180 by default); keep host 127.0.0.1 unless the LAN must scrape it.',
  },
  {
    when: (p) => p.startsWith('rules') || /\.rules/.test(p),
    hint: 'Rule figures are listed in edge/rules/README.md with their sources and allowed ranges.',
  },
];

export function hintFor(path: string, message: string): string {
  return (
    HINTS.find((h) => h.when(path, message))?.hint ??
    'See docs/gateway-config.md for this setting (docs/gateway-config.schema.json for editors).'
  );
}

/** Things the gateway accepts but an installer should not hand over. */
function warnings(result: GatewayConfigResult): Finding[] {
  const out: Finding[] = [];
  const { config } = result;
  config.buses.forEach((bus, i) => {
    if ((bus.type === 'rtu' || bus.type === 'frames') && !bus.port.startsWith('/dev/serial/by-id/'))
      out.push({
        path: `buses[${i}].port`,
        message: `${bus.port} may change name when the adapter is replugged`,
        hint: 'Use the /dev/serial/by-id/ path of the adapter (flash also writes a udev rule for by-id ports).',
        severity: 'warning',
      });
  });
  config.buses.forEach((bus, i) => {
    // The laptop may not hold the gateway's adapter; a path missing here is worth a look, not a refusal.
    if ((bus.type === 'rtu' || bus.type === 'frames') && !existsSync(bus.port))
      out.push({
        path: `buses[${i}].port`,
        message: `${bus.port} does not exist on this machine`,
        hint: 'Plug the USB–RS-485 adapter in and check the name (ls -l /dev/serial/by-id/); ignore this if the adapter is only on the gateway.',
        severity: 'warning',
      });
    if (!config.devices.some((d) => d.bus === bus.id && d.enabled))
      out.push({
        path: `buses[${i}]`,
        message: `bus ${bus.id} has no enabled device`,
        hint: 'Add its devices (provision scan --merge), or remove the bus: the gateway would open the port for nothing.',
        severity: 'warning',
      });
  });
  if (!isAbsolute(config.storage.dataDir))
    out.push({
      path: 'storage.dataDir',
      message: `"${config.storage.dataDir}" is a relative path: it depends on the directory the gateway starts in`,
      hint: 'Use an absolute path on the gateway, e.g. /var/lib/doorstep (systemd StateDirectory=doorstep).',
      severity: 'warning',
    });
  // Indices of enabled devices in the file are not kept by the loader: find them by id.
  config.devices.forEach((d) => {
    if (/^todo\b/i.test(d.location))
      out.push({
        path: `devices[id=${d.id}].location`,
        message: `location "${d.location}" is a placeholder`,
        hint: 'Write where the sensor is, in the words duty staff use, before commissioning.',
        severity: 'warning',
      });
    if (d.walkTest)
      out.push({
        path: `devices[id=${d.id}].walkTest`,
        message: 'walk-test mode is on: its alarms are marked as tests',
        hint: 'Remove `walkTest: true` before handing over, or alarms of this device will not be treated as real.',
        severity: 'warning',
      });
  });
  return out;
}

/** Validates a parsed document: every problem with its path and a hint, all in one pass. */
export function validateDocument(file: string, doc: unknown): ValidationReport {
  // Profile files named in the configuration are relative to it.
  const check = checkGatewayConfig(doc, { baseDir: dirname(file) });
  // An entry `scan --merge` added for a unit no profile matched: switched off, waiting for its
  // profile — work to do, not an error.
  const raw = (doc as { devices?: unknown } | null)?.devices;
  const waitsForProfile = (d: { issues: { path: string }[] }) => {
    const index = /^devices\[(\d+)\]/.exec(d.issues[0]?.path ?? '')?.[1];
    const entry =
      Array.isArray(raw) && index !== undefined ? (raw[Number(index)] as Record<string, unknown>) : undefined;
    return entry?.enabled === false && entry.profile === UNKNOWN_PROFILE;
  };
  const findings: Finding[] = [
    ...check.fatal.map((i) => ({ ...i, hint: hintFor(i.path, i.message), severity: 'error' as const })),
    ...check.disabled.filter(waitsForProfile).map((d) => ({
      path: d.issues[0]?.path ?? `devices[id=${d.device}]`,
      message: `${d.device} is switched off: it answered the scan but has no profile yet`,
      hint: `Write its profile from the register dump (\`doorstep profile new --dump dumps/…\`, see the comment above the entry), then set profile, location and enabled: true.`,
      severity: 'warning' as const,
    })),
    ...check.disabled
      .filter((d) => !waitsForProfile(d))
      .flatMap((d) =>
        d.issues.map((i) => ({
          path: i.path,
          message: `${i.message} (device ${d.device} would be disabled)`,
          hint: hintFor(i.path, i.message),
          severity: 'device' as const,
        })),
      ),
    ...check.ruleProblems.map((i) => ({
      path: i.path,
      message: i.message,
      hint: hintFor(i.path, i.message),
      severity: 'rule' as const,
    })),
  ];
  if (!check.result) return { file, findings };
  return { file, findings: [...findings, ...warnings(check.result)], result: check.result };
}

/** Reads and validates a gateway YAML file; an unreadable file or bad YAML is CFG_ERR_UNREADABLE. */
export function validateFile(file: string): ValidationReport {
  let doc: unknown;
  try {
    doc = readYamlFile(file);
  } catch (error) {
    // A missing file says ENOENT, as the installer's shell would.
    const reason =
      error instanceof FileReadError
        ? (error.stage === 'read' && error.errno) || error.reason
        : String(error);
    throw new DoorstepError('CFG_ERR_UNREADABLE', { file, reason }, { cause: error });
  }
  return validateDocument(file, doc);
}

const MARK = { error: '✗', device: '✗', rule: '✗', warning: '!' } as const;

export function renderFindings(report: ValidationReport): string {
  const lines = report.findings.map(
    (f) => `${MARK[f.severity]} ${f.path || '(root)'}: ${f.message}\n    hint: ${f.hint}`,
  );
  const errors = report.findings.filter((f) => f.severity === 'error').length;
  const disabled = new Set(report.result?.disabled.map((d) => d.device)).size;
  const warningCount = report.findings.filter((f) => f.severity === 'warning').length;
  const rules = report.findings.filter((f) => f.severity === 'rule').length;
  // The words agree with the exit code (validationFailed): "valid" only when it exits 0.
  const summary = report.result
    ? `${report.file}: ${validationFailed(report) ? 'runs, but fix it (exit 1)' : 'valid'} — ${report.result.config.devices.length} device(s) enabled, ${disabled} disabled, ${rules} rule override problem(s), ${warningCount} warning(s)`
    : `${report.file}: ${errors} problem(s); the gateway would refuse to start`;
  return [...lines, summary].join('\n');
}

/** Anything but warnings fails validation (exit 1). */
export function validationFailed(report: ValidationReport): boolean {
  return report.findings.some((f) => f.severity !== 'warning');
}
