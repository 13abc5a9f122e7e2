import { z } from 'zod';
import { PointId, SensorKind } from '../../protocol/index.js';

/**
 * A sensor profile declares a device family's register map as data. From one declaration come:
 * the read plan (adjacent registers merged, ≤ 125 per read), a pure decode, an encode for the
 * simulator, and point descriptors that rules, cloud and Node-RED share.
 */

export const RegisterTable = z.enum(['coil', 'discrete', 'holding', 'input']);
export type RegisterTable = z.infer<typeof RegisterTable>;

export const NumericType = z.enum(['uint16', 'int16', 'uint32', 'int32', 'float32']);
export type NumericType = z.infer<typeof NumericType>;

/**
 * Order of the two 16-bit words of a 32-bit value. ABCD: high word first (Modbus big-endian
 * convention); CDAB: low word first ("word swapped"), common in gas detectors and meters.
 */
export const WordOrder = z.enum(['ABCD', 'CDAB']);
export type WordOrder = z.infer<typeof WordOrder>;

/** critical points (alarm bits, concentration, pressure) are polled faster than diagnostics. */
export const PointPriority = z.enum(['critical', 'normal', 'diagnostic']);
export type PointPriority = z.infer<typeof PointPriority>;

export const Address = z.number().int().min(0).max(65535);

/** What a point means, for people and for rules: name, unit, plausible range. */
export const PointDescriptor = z.object({
  point: PointId,
  name: z.string().min(1),
  valueType: z.enum(['number', 'boolean']),
  unit: z.string().max(16).default(''),
  range: z.tuple([z.number(), z.number()]).optional(),
  priority: PointPriority,
  description: z.string().optional(),
});
export type PointDescriptor = z.infer<typeof PointDescriptor>;

const UnitConversion = z.object({
  /** Key of a start-up field whose value selects the device's unit (e.g. a unit-code register). */
  from: z.string(),
  /** Device unit code → factor that converts a value in that unit into the point's unit. */
  factors: z.record(z.string(), z.number().positive()),
});

/** A number in one or two registers, scaled: value = raw × scale × 10^-decimals + offset. */
export const NumericField = z.object({
  kind: z.literal('numeric'),
  point: PointId,
  table: z.enum(['holding', 'input']),
  address: Address,
  type: NumericType,
  wordOrder: WordOrder.default('ABCD'),
  scale: z
    .number()
    .refine((v) => v !== 0, 'scale must not be 0')
    .default(1),
  offset: z.number().default(0),
  /** Key of a start-up field holding the number of decimal places (pressure transmitters). */
  decimalsFrom: z.string().optional(),
  unitFrom: UnitConversion.optional(),
});
export type NumericField = z.infer<typeof NumericField>;

/** One bit: a coil, a discrete input, or bit n (0 = least significant) of a register. */
export const BitField = z.object({
  kind: z.literal('bit'),
  point: PointId,
  table: RegisterTable,
  address: Address,
  bit: z.number().int().min(0).max(15).optional(),
  /** For normally-closed contacts: a set bit means "false". */
  invert: z.boolean().default(false),
});
export type BitField = z.infer<typeof BitField>;

/** A boolean derived from a register's value: e.g. alarm level register ≥ 2 → gas_al2. */
export const CompareField = z.object({
  kind: z.literal('compare'),
  point: PointId,
  table: z.enum(['holding', 'input']),
  address: Address,
  op: z.enum(['eq', 'ne', 'ge', 'le']),
  value: z.number().int(),
});
export type CompareField = z.infer<typeof CompareField>;

export const Field = z.discriminatedUnion('kind', [NumericField, BitField, CompareField]);
export type Field = z.infer<typeof Field>;

/** A register read once when a device comes online (unit code, decimal places). */
export const StartupField = z.object({
  key: z.string().regex(/^[a-z][a-z0-9_]*$/),
  table: z.enum(['holding', 'input']),
  address: Address,
  /** Allowed values; anything else takes the device offline with DRV_ERR_DECODE. */
  allowed: z.array(z.number().int()).optional(),
});
export type StartupField = z.infer<typeof StartupField>;

/** How a device family is recognised during a bus scan: registers that read back known values. */
export const Signature = z.object({
  table: z.enum(['holding', 'input']),
  address: Address,
  values: z.array(z.number().int().min(0).max(65535)).min(1),
});

export const RegisterProfile = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  kind: SensorKind,
  /** Geomagnetic profiles say which use they serve. */
  use: z.enum(['vehicle_presence', 'manhole_tilt']).optional(),
  title: z.string().min(1),
  /** The real device family this map is modelled on, and what to check on site. */
  modelledOn: z.string().min(1),
  points: z.array(PointDescriptor).min(1),
  fields: z.array(Field).min(1),
  startup: z.array(StartupField).default([]),
  /** Boolean points that, when true, mark every measurement of the device bad / uncertain. */
  quality: z
    .object({ badWhen: z.array(PointId).default([]), uncertainWhen: z.array(PointId).default([]) })
    .default({ badWhen: [], uncertainWhen: [] }),
  signature: Signature.optional(),
  /** Default poll intervals per priority in ms. */
  intervals: z
    .object({
      /** 0 = as fast as the bus allows (the scheduler shares the bus by priority ageing). */
      critical: z.union([z.literal(0), z.number().int().min(50)]).default(1000),
      normal: z.number().int().min(50).default(5000),
      diagnostic: z.number().int().min(50).default(30000),
    })
    .default({ critical: 1000, normal: 5000, diagnostic: 30000 }),
});
export type RegisterProfileInput = z.input<typeof RegisterProfile>;
export type RegisterProfile = z.infer<typeof RegisterProfile>;

/** How many 16-bit registers (or bits) a field occupies. */
export function fieldWidth(field: Field): number {
  if (field.kind === 'numeric') return field.type === 'uint16' || field.type === 'int16' ? 1 : 2;
  return 1;
}

/** Which table and address a field reads from. */
export function fieldSpan(field: Field): { table: RegisterTable; address: number; width: number } {
  return { table: field.table, address: field.address, width: fieldWidth(field) };
}
