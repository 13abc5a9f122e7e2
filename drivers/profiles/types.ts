import { z } from 'zod';
import { PointId, SensorKind } from '../../protocol/index.js';

/**
 * A sensor profile declares a device family's register map as data. From one declaration come:
 * the read plan (adjacent registers merged, ≤ 125 per read), a pure decode, an encode for the
 * simulator, and point descriptors that rules, cloud and Node-RED share.
 */

export const RegisterTable = z.enum(['coil', 'discrete', 'holding', 'input']);
export type RegisterTable = z.infer<typeof RegisterTable>;

export const NumericType = z.enum(['uint16', 'int16', 'uint32', 'int32', 'float32', 'float64']);
export type NumericType = z.infer<typeof NumericType>;

/**
 * Byte order of a value on the wire, the letters naming its bytes from the most significant.
 * 16-bit values: AB (Modbus big-endian, Modbus Application Protocol v1.1b3 §4.2) or BA (byte
 * swapped). 32- and 64-bit values: ABCD (high word first, big-endian bytes), CDAB (low word
 * first, "word swapped" — common in gas detectors and meters), BADC (bytes swapped in each word),
 * DCBA (fully little-endian). For float64 the same four orders apply to its four words.
 */
export const WordOrder = z.enum(['AB', 'BA', 'ABCD', 'CDAB', 'BADC', 'DCBA']);
export type WordOrder = z.infer<typeof WordOrder>;

/**
 * The legality table per data type: how many registers it takes, which byte orders it may be
 * declared with (the first is the default), and whether it is signed. `checkProfile` reports any
 * field outside this table with its path.
 */
export const DATA_TYPES: Readonly<
  Record<NumericType, { registers: number; orders: readonly WordOrder[]; signed: boolean; float: boolean }>
> = {
  uint16: { registers: 1, orders: ['AB', 'BA'], signed: false, float: false },
  int16: { registers: 1, orders: ['AB', 'BA'], signed: true, float: false },
  uint32: { registers: 2, orders: ['ABCD', 'CDAB', 'BADC', 'DCBA'], signed: false, float: false },
  int32: { registers: 2, orders: ['ABCD', 'CDAB', 'BADC', 'DCBA'], signed: true, float: false },
  float32: { registers: 2, orders: ['ABCD', 'CDAB', 'BADC', 'DCBA'], signed: true, float: true },
  float64: { registers: 4, orders: ['ABCD', 'CDAB', 'BADC', 'DCBA'], signed: true, float: true },
};

/** The order a numeric field is read in: as declared, else its type's default. */
export function orderOf(field: { type: NumericType; wordOrder?: WordOrder | undefined }): WordOrder {
  return field.wordOrder ?? DATA_TYPES[field.type].orders[0]!;
}

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
  /** The physical range: a decoded value outside it is implausible (quality uncertain, device faulty). */
  range: z.tuple([z.number(), z.number()]).optional(),
  priority: PointPriority,
  description: z.string().optional(),
  /** The name duty staff read (zh-CN); standard points take it from the shared vocabulary. */
  nameZh: z.string().min(1).optional(),
  /** Enumerations: the label of each code the point can take. */
  labels: z.record(z.string().regex(/^-?\d+$/, 'must be an integer code'), z.string().min(1)).optional(),
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
  /** Byte order; default: the first legal order of the type (AB or ABCD). */
  wordOrder: WordOrder.optional(),
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

/** Several bits of a register as an unsigned number: e.g. bits 4–7 = alarm level. */
export const BitsField = z.object({
  kind: z.literal('bits'),
  point: PointId,
  table: z.enum(['holding', 'input']),
  address: Address,
  /** Least significant bit of the run, 0–15. */
  bit: z.number().int().min(0).max(15),
  width: z.number().int().min(1).max(16),
});
export type BitsField = z.infer<typeof BitsField>;

/** A code register whose values are an enumeration; the point carries the code, its descriptor the labels. */
export const EnumField = z.object({
  kind: z.literal('enum'),
  point: PointId,
  table: z.enum(['holding', 'input']),
  address: Address,
  /** Code → label; a code not listed arrives with quality uncertain. */
  values: z.record(z.string().regex(/^\d+$/, 'must be a code 0–65535'), z.string().min(1)),
});
export type EnumField = z.infer<typeof EnumField>;

export const Field = z.discriminatedUnion('kind', [
  NumericField,
  BitField,
  CompareField,
  BitsField,
  EnumField,
]);
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

/**
 * A decode that contradicts itself: while the alarm output `alarm` is true, `point` must be above
 * `above` (a detector in alarm with no gas is broken or mis-mapped). Gas profiles get
 * gas_al1/gas_al2 ⇒ gas > 0 from the shared vocabulary without declaring it.
 */
export const ConsistencyCheck = z.object({
  alarm: PointId,
  point: PointId,
  above: z.number(),
});
export type ConsistencyCheck = z.infer<typeof ConsistencyCheck>;

/** How a device family is recognised during a bus scan: registers that read back known values. */
export const Signature = z.object({
  table: z.enum(['holding', 'input']),
  address: Address,
  values: z.array(z.number().int().min(0).max(65535)).min(1),
});

/**
 * Where a device keeps its own address and line settings, from its manual (issue 16: `doorstep
 * modbus set-unit` / `set-baud`). Each is one holding register written with function 06 (Modbus
 * Application Protocol v1.1b3 §6.6); baud and parity are written as the codes the manual lists.
 * Devices apply the new setting after answering the write (from the old address, at the old speed).
 */
const SettingsRegister = z.number().int().min(0).max(65535);
const Code = z.number().int().min(0).max(65535);
export const DeviceSettings = z
  .object({
    /** The holding register holding the device's unit id. */
    unitId: z.object({ register: SettingsRegister }).strict().optional(),
    /** The holding register of the baud rate, and the code of each rate (`"9600": 3`). */
    baud: z
      .object({ register: SettingsRegister, codes: z.record(z.string().regex(/^[1-9]\d{2,6}$/), Code) })
      .strict()
      .optional(),
    /** The holding register of the parity, and the code of each parity the device supports. */
    parity: z
      .object({
        register: SettingsRegister,
        codes: z.object({ none: Code.optional(), even: Code.optional(), odd: Code.optional() }).strict(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type DeviceSettings = z.infer<typeof DeviceSettings>;

export const RegisterProfile = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  kind: SensorKind,
  /** Geomagnetic profiles say which use they serve. */
  use: z.enum(['vehicle_presence', 'manhole_tilt']).optional(),
  /** Raised whenever the map changes; reported with the id so a reading says which map decoded it. */
  version: z.number().int().min(1).default(1),
  title: z.string().min(1),
  /** The real device family this map is modelled on, and what to check on site. */
  modelledOn: z.string().min(1),
  /** The published document the map was taken from (title, revision, section). */
  source: z.string().min(1).optional(),
  points: z.array(PointDescriptor).min(1),
  fields: z.array(Field).min(1),
  startup: z.array(StartupField).default([]),
  /** Boolean points that, when true, mark every measurement of the device bad / uncertain. */
  quality: z
    .object({ badWhen: z.array(PointId).default([]), uncertainWhen: z.array(PointId).default([]) })
    .default({ badWhen: [], uncertainWhen: [] }),
  signature: Signature.optional(),
  checks: z.array(ConsistencyCheck).default([]),
  /** How the device's unit id and line settings are written (`doorstep modbus`); absent: not known. */
  settings: DeviceSettings.optional(),
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
  if (field.kind === 'numeric') return DATA_TYPES[field.type].registers;
  return 1;
}

/** Which table and address a field reads from. */
export function fieldSpan(field: Field): { table: RegisterTable; address: number; width: number } {
  return { table: field.table, address: field.address, width: fieldWidth(field) };
}
