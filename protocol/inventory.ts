import { z } from 'zod';
import { GeomagneticUse, SensorKind } from './reading.js';
import { DeviceId } from './site.js';

/**
 * The gateway's device inventory (docs/architecture.md: protocol/ owns "device inventory"), sent as
 * `inventory` events through the outbox and the exactly-once sync. One inventory is the gateway's
 * *full* device list at one moment — not a delta — so the cloud can mark a device it no longer
 * lists as removed. A list is cut into parts (one outbox entry stays below the outbox's
 * `maxEntryBytes`): every part carries the inventory's `generation` and `part`/`parts`; the cloud
 * marks missing devices removed only once it has every part of a generation.
 *
 * Nothing a gateway sends is trusted for bounds or markup (docs/architecture.md invariant 11):
 * every text is bounded, single-line, without control or bidirectional characters and without `<`
 * or `>` — a label is a place name, never markup — and is escaped again wherever it is shown.
 */

/** Devices per part: with the longest labels a part stays near 40 KiB, below the outbox's 64 KiB entry cap. */
export const INVENTORY_PART_DEVICES = 100;
/** Parts per inventory: 100 × 100 devices is far above any cloud's per-gateway device cap. */
export const INVENTORY_MAX_PARTS = 100;

/**
 * A district-unique device code, as the district's device register assigns it and the installer
 * writes it on the device's label and into the gateway configuration (`devices[].code`), e.g.
 * `PD-ZJ-000123`: upper-case letters, digits and `-`, 3–32 characters. The code is what makes a
 * device "the same" on another gateway (cloud/registry/README.md). A device reported without one
 * gets the cloud's code `<gateway>.<device id>` (lower case, with a dot: it can never clash with a
 * register code).
 */
export const DEVICE_CODE_PATTERN = /^[A-Z0-9][A-Z0-9-]{2,31}$/;
export const DeviceCode = z
  .string()
  .regex(DEVICE_CODE_PATTERN, 'must be a device code: A-Z, 0-9 and "-", 3–32 characters (PD-ZJ-000123)');

// C0/C1 controls, zero-width characters, line/paragraph separators, bidi embeddings, overrides and
// isolates (Unicode TR #9), the byte-order mark — and the angle brackets that start markup.
const UNSAFE_LABEL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff<>]/;

/** A label people read: trimmed, 1..max characters, one line, no markup characters. */
export const LabelText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => s.trim() === s, 'must not start or end with spaces')
    .refine(
      (s) => !UNSAFE_LABEL.test(s),
      'must be one line of text without control characters, bidirectional marks, "<" or ">"',
    );

/** A profile id (drivers/profiles/file.ts: lower-case letters, digits, "-"). */
export const ProfileId = z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a profile id: a-z, 0-9, "-"');

/** A calendar date YYYY-MM-DD (ISO 8601 calendar date, complete representation), 2000–2099. */
export const InstallDate = z
  .string()
  .regex(/^20\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'must be a date YYYY-MM-DD')
  .refine(
    (s) =>
      !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s),
    'is not a calendar date',
  );

/** A point on the community plan, as fractions of its width (x, from the left) and height (y, from the top). */
export const PlanPoint = z.object({ x: z.number().min(0).max(1), y: z.number().min(0).max(1) }).strict();
export type PlanPoint = z.infer<typeof PlanPoint>;

export const InventoryDevice = z
  .object({
    id: DeviceId,
    code: DeviceCode.optional(),
    kind: SensorKind,
    use: GeomagneticUse.optional(),
    profile: ProfileId,
    profileVersion: z.number().int().min(1).max(1_000_000),
    /** Where it is, in the words duty staff use ("3号楼2单元 楼道"): the gateway config's `location`. */
    label: LabelText(120),
    building: LabelText(32).optional(),
    unit: LabelText(32).optional(),
    floor: LabelText(16).optional(),
    plan: PlanPoint.optional(),
    installedOn: InstallDate.optional(),
  })
  .strict();
export type InventoryDevice = z.infer<typeof InventoryDevice>;

export const InventoryEvent = z
  .object({
    kind: z.literal('inventory'),
    /** Raised by one for every inventory the gateway reports (kept in its outbox, never reused). */
    generation: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    part: z.number().int().min(1).max(INVENTORY_MAX_PARTS),
    parts: z.number().int().min(1).max(INVENTORY_MAX_PARTS),
    devices: z.array(InventoryDevice).max(INVENTORY_PART_DEVICES),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.part > e.parts)
      ctx.addIssue({ code: 'custom', path: ['part'], message: `part ${e.part} of ${e.parts}` });
    const ids = new Set<string>();
    const codes = new Set<string>();
    e.devices.forEach((d, i) => {
      if (ids.has(d.id))
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'id'],
          message: `device "${d.id}" is listed twice`,
        });
      ids.add(d.id);
      if (d.code !== undefined) {
        if (codes.has(d.code))
          ctx.addIssue({
            code: 'custom',
            path: ['devices', i, 'code'],
            message: `code "${d.code}" is given to two devices`,
          });
        codes.add(d.code);
      }
    });
  });
export type InventoryEvent = z.infer<typeof InventoryEvent>;

/** The cloud's code for a device reported without a register code. */
export function cloudDeviceCode(gateway: string, device: string): string {
  return `${gateway}.${device}`;
}
