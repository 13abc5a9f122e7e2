/**
 * Turns scan results into gateway configuration entries: one RTU bus per port and line setting,
 * one device per identified unit. Output is a commented YAML snippet, and optionally a merge into
 * the workspace's gateway.yaml that keeps the installer's comments (yaml Document API).
 */
import { readFileSync } from 'node:fs';
import { Document, isMap, isSeq, parseDocument, type YAMLMap, YAMLSeq } from 'yaml';
import { writeSecretFile } from '../common/files.js';
import type { SerialSettings } from '../drivers/link/types.js';
import { DoorstepError } from '../protocol/index.js';
import { type FoundDevice, formatSettings, type ScanResult } from './scan.js';

export interface ProposedBus {
  id: string;
  type: 'rtu';
  port: string;
  baudRate: number;
  parity: SerialSettings['parity'];
  stopBits: 1 | 2;
}

export interface ProposedDevice {
  id: string;
  bus: string;
  profile: string;
  unitId: number;
  location: string;
}

export interface Proposal {
  buses: ProposedBus[];
  devices: Array<{ entry: ProposedDevice; why: string }>;
  unidentified: Array<{ port: string; device: FoundDevice }>;
}

const KIND_PREFIX: Record<string, string> = { water_pressure: 'pressure', geomagnetic: 'geo' };

function why(d: FoundDevice): string {
  const id = d.identity
    ? `device id "${[d.identity.vendor, d.identity.product, d.identity.revision].filter(Boolean).join(' ')}"`
    : 'no device id';
  const alt = d.alternatives.length > 0 ? `; also matched ${d.alternatives.join(', ')}` : '';
  return `unit ${d.unitId} at ${formatSettings(d.settings)}: ${d.profile} by ${d.matchedBy} (${id})${alt}`;
}

/** Builds the entries; bus ids continue after `takenBusIds`, device ids avoid `takenDeviceIds`. */
export function propose(
  results: ScanResult[],
  taken: { busIds?: Iterable<string>; deviceIds?: Iterable<string> } = {},
): Proposal {
  const busIds = new Set(taken.busIds);
  const deviceIds = new Set(taken.deviceIds);
  const proposal: Proposal = { buses: [], devices: [], unidentified: [] };
  let n = 1;
  for (const result of results) {
    const groups = new Map<string, FoundDevice[]>();
    for (const d of result.found) {
      const key = formatSettings(d.settings);
      groups.set(key, [...(groups.get(key) ?? []), d]);
    }
    for (const devices of groups.values()) {
      const s = devices[0]!.settings;
      while (busIds.has(`rs485-${n}`)) n++;
      const bus: ProposedBus = {
        id: `rs485-${n}`,
        type: 'rtu',
        port: result.port,
        baudRate: s.baudRate,
        parity: s.parity,
        stopBits: s.stopBits,
      };
      busIds.add(bus.id);
      proposal.buses.push(bus);
      for (const d of devices) {
        if (!d.profile || !d.kind) {
          proposal.unidentified.push({ port: result.port, device: d });
          continue;
        }
        let id = `${KIND_PREFIX[d.kind] ?? d.kind}-${d.unitId}`;
        for (let i = 2; deviceIds.has(id); i++) id = `${KIND_PREFIX[d.kind] ?? d.kind}-${d.unitId}-${i}`;
        deviceIds.add(id);
        proposal.devices.push({
          entry: {
            id,
            bus: bus.id,
            profile: d.profile,
            unitId: d.unitId,
            location: `TODO where is unit ${d.unitId}`,
          },
          why: why(d),
        });
      }
    }
  }
  return proposal;
}

/** What the installer does about a device no profile matched. */
function nextStep(d: FoundDevice): string {
  return d.dumpFile
    ? `registers saved to ${d.dumpFile}; write its profile with \`doorstep profile new --dump ${d.dumpFile}\`, then set profile, location and enabled: true`
    : 'write its profile with `doorstep profile new` (or pick one of `doorstep sim --list-profiles`), then set profile, location and enabled: true';
}

function unidentifiedComment(u: Proposal['unidentified'][number]): string {
  const d = u.device;
  const id = d.identity ? `, device id "${Object.values(d.identity).filter(Boolean).join(' ')}"` : '';
  return ` unit ${d.unitId} on ${u.port} at ${formatSettings(d.settings)} answered but matched no profile${id}: ${nextStep(d)}`;
}

/** The proposal as a YAML snippet with a comment above every entry saying why it was proposed. */
export function renderProposal(proposal: Proposal, header: string[]): string {
  const doc = new Document({
    buses: proposal.buses,
    devices: proposal.devices.map((d) => d.entry),
  });
  doc.commentBefore = [
    ...header,
    ' Paste under `buses:` and `devices:` of gateway.yaml (or scan with --merge), then write each location.',
  ].join('\n');
  const devices = doc.get('devices') as YAMLSeq;
  proposal.devices.forEach((d, i) => {
    const item = devices.items[i] as YAMLMap;
    item.commentBefore = ` ${d.why}`;
  });
  if (proposal.unidentified.length > 0)
    doc.comment = proposal.unidentified.map(unidentifiedComment).join('\n');
  return doc.toString({ lineWidth: 0 });
}

function blockSeq(doc: Document, key: string): YAMLSeq {
  const node = doc.get(key, true);
  if (node === undefined || node === null || (isSeq(node) && node.items.length === 0)) {
    // `buses: []` in the skeleton: replace the empty flow sequence by a block one.
    const seq = new YAMLSeq();
    doc.set(key, seq);
    return seq;
  }
  if (!isSeq(node))
    throw new DoorstepError('CFG_ERR_INVALID', { count: 1, summary: `${key} must be a list to merge into` });
  return node;
}

/**
 * Merges a proposal into a gateway YAML file, keeping its comments: a bus on the same port and line
 * settings is reused, a device whose (bus, unit id) is already configured is skipped.
 */
/** The profile name of a disabled entry for a device no profile matched yet. */
export const UNKNOWN_PROFILE = 'unknown-device';

export function mergeIntoConfig(
  file: string,
  results: ScanResult[],
): { buses: number; devices: number; skipped: number; unidentified: number } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DoorstepError(
      'CFG_ERR_UNREADABLE',
      { file, reason: (error as Error).message },
      { cause: error },
    );
  }
  const doc = parseDocument(text);
  const current = doc.toJS() as {
    buses?: Array<Record<string, unknown>>;
    devices?: Array<Record<string, unknown>>;
  };
  const proposal = propose(results, {
    busIds: (current.buses ?? []).map((b) => String(b.id)),
    deviceIds: (current.devices ?? []).map((d) => String(d.id)),
  });
  const ids = new Set([
    ...(current.devices ?? []).map((d) => String(d.id)),
    ...proposal.devices.map((d) => d.entry.id),
  ]);
  const buses = blockSeq(doc, 'buses');
  const devices = blockSeq(doc, 'devices');
  const busFor = new Map<string, string>(); // proposed id → id in the file
  let addedBuses = 0;
  for (const bus of proposal.buses) {
    const same = (current.buses ?? []).find(
      (b) =>
        b.type === 'rtu' &&
        b.port === bus.port &&
        (b.baudRate ?? 9600) === bus.baudRate &&
        (b.parity ?? 'even') === bus.parity &&
        (b.stopBits ?? 1) === bus.stopBits,
    );
    if (same) busFor.set(bus.id, String(same.id));
    else {
      buses.add(doc.createNode(bus));
      busFor.set(bus.id, bus.id);
      addedBuses++;
    }
  }
  let added = 0;
  let skipped = 0;
  for (const { entry, why: reason } of proposal.devices) {
    const bus = busFor.get(entry.bus)!;
    if ((current.devices ?? []).some((d) => d.bus === bus && d.unitId === entry.unitId)) {
      skipped++;
      continue;
    }
    const node = doc.createNode({ ...entry, bus });
    if (isMap(node)) node.commentBefore = ` ${reason}`;
    devices.add(node);
    added++;
  }
  // A unit that answered but matched no profile is work, not silence: a disabled entry that says
  // where its register dump is and how to turn it into a profile (the gateway skips it until then).
  let unidentified = 0;
  for (const u of proposal.unidentified) {
    const proposed = proposal.buses.find(
      (b) =>
        b.port === u.port &&
        b.baudRate === u.device.settings.baudRate &&
        b.parity === u.device.settings.parity &&
        b.stopBits === u.device.settings.stopBits,
    );
    const bus = proposed ? busFor.get(proposed.id)! : undefined;
    if (!bus) continue;
    if ((current.devices ?? []).some((d) => d.bus === bus && d.unitId === u.device.unitId)) {
      skipped++;
      continue;
    }
    let id = `unknown-${u.device.unitId}`;
    for (let i = 2; ids.has(id); i++) id = `unknown-${u.device.unitId}-${i}`;
    ids.add(id);
    const node = doc.createNode({
      id,
      bus,
      profile: UNKNOWN_PROFILE,
      unitId: u.device.unitId,
      location: `TODO where is unit ${u.device.unitId}`,
      enabled: false,
    });
    if (isMap(node)) node.commentBefore = ` answered but matched no profile: ${nextStep(u.device)}`;
    devices.add(node);
    unidentified++;
  }
  // The gateway's configuration holds passwords: owner only (0600).
  writeSecretFile(file, doc.toString({ lineWidth: 0 }));
  return { buses: addedBuses, devices: added, skipped, unidentified };
}
