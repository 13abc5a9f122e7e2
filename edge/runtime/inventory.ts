import type { Logger } from '../../common/log.js';
import {
  INVENTORY_MAX_PARTS,
  INVENTORY_PART_DEVICES,
  type InventoryDevice,
  type InventoryEvent,
} from '../../protocol/index.js';
import type { ConfiguredDevice } from '../config/load.js';
import type { Outbox } from '../outbox/types.js';

/** Side-state row holding the last inventory generation (edge/outbox/README.md "One transaction per decision"). */
export const INVENTORY_MARK = 'runtime/inventory';

/** A part's JSON stays below this, well inside the outbox's default maxEntryBytes (64 KiB). */
const PART_BYTES = 48 * 1024;

// Control characters, zero-width and bidirectional marks become spaces; angle brackets their
// full-width forms: the cloud refuses markup in labels (protocol/inventory.ts), and a label with a
// stray character must still reach it rather than hold the whole inventory back.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** A configured text as the inventory's label rules want it, or undefined when nothing is left. */
export function labelOf(text: string | undefined, max: number): string | undefined {
  if (text === undefined) return undefined;
  const clean = text
    .replace(INVISIBLE, ' ')
    .replace(/</g, '＜')
    .replace(/>/g, '＞')
    .replace(/ {2,}/g, ' ')
    .trim();
  const cut = [...clean].slice(0, max).join('').trim();
  return cut === '' ? undefined : cut;
}

/** One device as the inventory reports it, from its (validated) configuration entry. */
export function inventoryDevice(d: ConfiguredDevice): InventoryDevice {
  const label = labelOf(d.location, 120) ?? d.id;
  const building = labelOf(d.building, 32);
  const unit = labelOf(d.unit, 32);
  const floor = labelOf(d.floor, 16);
  return {
    id: d.id,
    ...(d.code ? { code: d.code } : {}),
    kind: d.kind,
    ...(d.use ? { use: d.use } : {}),
    profile: d.profile,
    profileVersion: d.resolved.version,
    label,
    ...(building ? { building } : {}),
    ...(unit ? { unit } : {}),
    ...(floor ? { floor } : {}),
    ...(d.plan ? { plan: d.plan } : {}),
    ...(d.installedOn ? { installedOn: d.installedOn } : {}),
  };
}

/**
 * The full inventory of `devices` as parts of one generation (protocol/inventory.ts): at most
 * INVENTORY_PART_DEVICES devices and about 48 KiB per part, in device id order. An empty
 * configuration is one empty part — "this gateway has no devices" is news the cloud must hear.
 */
export function inventoryParts(devices: readonly ConfiguredDevice[], generation: number): InventoryEvent[] {
  const sorted = [...devices].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(inventoryDevice);
  const chunks: InventoryDevice[][] = [[]];
  let bytes = 0;
  for (const d of sorted) {
    const size = Buffer.byteLength(JSON.stringify(d)) + 1;
    const last = chunks.at(-1)!;
    if (last.length >= INVENTORY_PART_DEVICES || (last.length > 0 && bytes + size > PART_BYTES)) {
      chunks.push([d]);
      bytes = size;
    } else {
      last.push(d);
      bytes += size;
    }
  }
  if (chunks.length > INVENTORY_MAX_PARTS)
    throw new Error(
      `${devices.length} devices need ${chunks.length} inventory parts, more than ${INVENTORY_MAX_PARTS}`,
    );
  return chunks.map((list, i) => ({
    kind: 'inventory',
    generation,
    part: i + 1,
    parts: chunks.length,
    devices: list,
  }));
}

/**
 * Puts the gateway's inventory into the outbox with its new generation number in one transaction
 * (the number only moves on if the parts are stored): at start and after every reload. The uplink
 * then delivers it like any event, exactly once.
 */
export function reportInventory(
  outbox: Outbox,
  devices: readonly ConfiguredDevice[],
  ts: number,
  logger: Logger,
): number | undefined {
  try {
    const row = outbox.loadSideState(INVENTORY_MARK).find((r) => r.key === INVENTORY_MARK);
    const previous = row ? (JSON.parse(row.value) as { generation?: unknown }).generation : undefined;
    const generation = (typeof previous === 'number' && Number.isSafeInteger(previous) ? previous : 0) + 1;
    const parts = inventoryParts(devices, generation);
    outbox.put(
      parts.map((payload) => ({ class: 'event' as const, payload, ts })),
      {
        set: [{ key: INVENTORY_MARK, value: JSON.stringify({ generation, at: ts }) }],
        remove: [],
        critical: false,
      },
    );
    logger.info({ generation, parts: parts.length, devices: devices.length }, 'device inventory reported');
    return generation;
  } catch (error) {
    logger.error({ err: error }, 'device inventory not reported');
    return undefined;
  }
}
